//! The sentence-embedding model (all-MiniLM-L6-v2 as ONNX) run on the CPU by tract.

use std::{path::Path, sync::Arc, time::Instant};

use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};
use tract_onnx::prelude::*;

use crate::{Error, ports::Embedder, telemetry::EMBEDDING_GENERATION_DURATION_SECONDS};

/// sentence-transformers' limit for this model; the shipped tokenizer.json says 128.
const MAX_TOKENS: usize = 256;
/// Inputs per inference: large enough to amortise overhead, small enough to keep padding low
/// and memory bounded (attention holds inputs × 12 heads × tokens² floats: 25 MB a tensor for
/// 8 inputs of 256 tokens, per thread). 16 took twice the memory for no more throughput.
const BATCH: usize = 8;

type Plan = Arc<TypedRunnableModel>;

pub struct OnnxEmbedder {
    plan: Plan,
    tokenizer: Tokenizer,
    /// The same tokenizer without padding or truncation, for counting.
    counter: Tokenizer,
    dimensions: usize,
    threads: usize,
}

fn model_error(what: &str, err: impl std::fmt::Display) -> Error {
    Error::Config(format!("EMBEDDING_MODEL_DIR: {what}: {err}"))
}

impl OnnxEmbedder {
    /// Loads and optimises the model once; one plan then serves every batch shape.
    /// `threads` batches run at once (tract runs one inference on one core).
    pub fn load(dir: &Path, threads: usize) -> Result<Self, Error> {
        for file in ["model.onnx", "tokenizer.json"] {
            if !dir.join(file).is_file() {
                return Err(model_error(
                    &format!("{} has no {file}", dir.display()),
                    "run local/fetch-model to get the model",
                ));
            }
        }
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| model_error("unreadable tokenizer.json", e))?;
        let mut counter = tokenizer.clone();
        counter
            .with_padding(None)
            .with_truncation(None)
            .map_err(|e| model_error("tokenizer", e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| model_error("tokenizer truncation", e))?;

        let corrupt =
            |e: TractError| model_error("model.onnx is not a usable ONNX model", format!("{e:#}"));
        let mut model = tract_onnx::onnx()
            .model_for_path(dir.join("model.onnx"))
            .map_err(corrupt)?;
        let (batch, sequence) = (model.sym("B"), model.sym("S"));
        for input in 0..3 {
            let fact = InferenceFact::dt_shape(
                i64::datum_type(),
                tvec![batch.to_dim(), sequence.to_dim()],
            );
            model.set_input_fact(input, fact).map_err(corrupt)?;
        }
        let first_output = model.output_outlets().map_err(corrupt)?[0];
        model
            .select_output_outlets(&[first_output])
            .map_err(corrupt)?;
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(corrupt)?;
        let mut embedder = Self {
            plan,
            tokenizer,
            counter,
            dimensions: 0,
            threads: threads.max(1),
        };
        // One real inference proves the file works end to end and tells the vector width.
        embedder.dimensions = embedder.embed_batch(&["ready"])?[0].len();
        Ok(embedder)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        let started = Instant::now();
        let failed = |e: &dyn std::fmt::Display| Error::Internal(format!("embedding failed: {e}"));
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| failed(&e))?;
        let (rows, width) = (encodings.len(), encodings.first().map_or(0, |e| e.len()));
        let matrix = |field: fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, Error> {
            let values: Vec<i64> = encodings
                .iter()
                .flat_map(|e| field(e).iter().map(|&v| i64::from(v)))
                .collect();
            tract_ndarray::Array2::from_shape_vec((rows, width), values)
                .map(Tensor::from)
                .map_err(|e| failed(&e))
        };
        let inputs = tvec![
            matrix(tokenizers::Encoding::get_ids)?.into(),
            matrix(tokenizers::Encoding::get_attention_mask)?.into(),
            matrix(tokenizers::Encoding::get_type_ids)?.into(),
        ];
        let outputs = self.plan.run(inputs).map_err(|e| failed(&e))?;
        let hidden = outputs[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| failed(&e))?;
        let vectors = encodings
            .iter()
            .enumerate()
            .map(|(row, encoding)| mean_pool(&hidden, row, encoding.get_attention_mask()))
            .collect();
        metrics::histogram!(EMBEDDING_GENERATION_DURATION_SECONDS)
            .record(started.elapsed().as_secs_f64());
        Ok(vectors)
    }
}

/// Mean of the token vectors the attention mask keeps, scaled to unit length.
fn mean_pool(hidden: &tract_ndarray::ArrayViewD<'_, f32>, row: usize, mask: &[u32]) -> Vec<f32> {
    let dims = hidden.shape()[2];
    let mut sum = vec![0f32; dims];
    let mut kept = 0f32;
    for (token, _) in mask.iter().enumerate().filter(|(_, m)| **m == 1) {
        for (d, value) in sum.iter_mut().enumerate() {
            *value += hidden[[row, token, d]];
        }
        kept += 1.0;
    }
    let norm = sum
        .iter()
        .map(|v| (v / kept.max(1.0)).powi(2))
        .sum::<f32>()
        .sqrt()
        .max(1e-12);
    sum.iter().map(|v| v / kept.max(1.0) / norm).collect()
}

impl Embedder for OnnxEmbedder {
    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn max_tokens(&self) -> usize {
        MAX_TOKENS
    }

    fn count_tokens(&self, text: &str) -> usize {
        // Without truncation, so callers learn how far over the limit a text is.
        self.counter
            .encode(text, true)
            .map_or(usize::MAX, |e| e.len())
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        // Texts of similar length share a batch, so little compute goes to padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let batches: Vec<Vec<usize>> = order.chunks(BATCH).map(<[usize]>::to_vec).collect();
        let per_thread = batches.len().div_ceil(self.threads).max(1);
        let mut vectors = vec![Vec::new(); texts.len()];
        std::thread::scope(|scope| -> Result<(), Error> {
            let workers: Vec<_> = batches
                .chunks(per_thread)
                .map(|share| {
                    scope.spawn(move || {
                        share
                            .iter()
                            .map(|batch| {
                                let inputs: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
                                self.embed_batch(&inputs)
                                    .map(|out| batch.iter().copied().zip(out).collect::<Vec<_>>())
                            })
                            .collect::<Result<Vec<_>, Error>>()
                    })
                })
                .collect();
            for worker in workers {
                let done = worker
                    .join()
                    .map_err(|_| Error::Internal("embedding thread panicked".into()))??;
                for (index, vector) in done.into_iter().flatten() {
                    vectors[index] = vector;
                }
            }
            Ok(())
        })?;
        Ok(vectors)
    }
}
