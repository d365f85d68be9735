//! The sentence-embedding model (all-MiniLM-L6-v2 as ONNX) run on the CPU by tract.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, OnceLock},
    time::Instant,
};

use tokenizers::{Tokenizer, TruncationParams};
use tract_onnx::prelude::*;

use crate::{Error, ports::Embedder, telemetry::EMBEDDING_GENERATION_DURATION_SECONDS};

/// sentence-transformers' limit for this model; the shipped tokenizer.json says 128.
pub const MAX_TOKENS: usize = 256;
/// The model's vectors, as both stores' schemas hold them.
pub const DIMENSIONS: usize = 384;
/// Each text runs alone, padded to the first of these lengths that holds it. tract plans a
/// graph of known shape far better than a symbolic [batch, sequence] one: R-intro.pdf embedded
/// 1.9x faster with AVX-512 kernels and 1.4x with AVX2 ones (docs/BENCHMARKS.md), and one text
/// at a time beat batches of eight, whose padding and broadcast attention mask cost more than
/// batching saved. Multiples of 16 keep tract's vector kernels aligned; doubling lengths keep
/// the plans to five (about 40 MB each, built in about 40 ms on first use), which bounds the
/// memory a worker grows by.
const LENGTHS: [usize; 5] = [16, 32, 64, 128, 256];

type Plan = Arc<TypedRunnableModel>;

pub struct OnnxEmbedder {
    /// The decluttered graph, with the sequence length still a symbol; the plans share its weights.
    model: TypedModel,
    sequence: Symbol,
    plans: [OnceLock<Plan>; LENGTHS.len()],
    tokenizer: Tokenizer,
    /// The same tokenizer without truncation, for counting.
    counter: Tokenizer,
    dimensions: usize,
    threads: usize,
}

fn model_error(what: &str, err: impl std::fmt::Display) -> Error {
    Error::Config(format!("EMBEDDING_MODEL_DIR: {what}: {err}"))
}

fn failed(err: impl std::fmt::Display) -> Error {
    Error::Internal(format!("embedding failed: {err}"))
}

impl OnnxEmbedder {
    /// Loads the model once; a plan per padded length is optimised from it when first needed.
    /// `threads` texts run at once (tract runs one inference on one core).
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
        // Padding is ours, to a plan's length.
        tokenizer
            .with_padding(None)
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
        let sequence = model.sym("S");
        for input in 0..3 {
            let fact =
                InferenceFact::dt_shape(i64::datum_type(), tvec![1.to_dim(), sequence.to_dim()]);
            model.set_input_fact(input, fact).map_err(corrupt)?;
        }
        let first_output = model.output_outlets().map_err(corrupt)?[0];
        model
            .select_output_outlets(&[first_output])
            .map_err(corrupt)?;
        let model = model
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(corrupt)?;
        let mut embedder = Self {
            model,
            sequence,
            plans: Default::default(),
            tokenizer,
            counter,
            dimensions: 0,
            threads: threads.max(1),
        };
        // One real inference proves the file works end to end and tells the vector width.
        embedder.dimensions = embedder
            .embed_one("ready")
            .map_err(|e| model_error("model.onnx does not run", e))?
            .len();
        Ok(embedder)
    }

    /// The plan for texts of up to `LENGTHS[slot]` tokens, optimised on first use.
    fn plan(&self, slot: usize) -> Result<&Plan, Error> {
        if let Some(plan) = self.plans[slot].get() {
            return Ok(plan);
        }
        let length = HashMap::from([(self.sequence.clone(), LENGTHS[slot].to_dim())]);
        let plan = self
            .model
            .set_symbols(&length)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(failed)?;
        // Two threads may build the same plan at once; either result serves.
        Ok(self.plans[slot].get_or_init(|| plan))
    }

    fn embed_one(&self, text: &str) -> Result<Vec<f32>, Error> {
        let encoding = self.tokenizer.encode(text, true).map_err(failed)?;
        let length = encoding.get_ids().len();
        let slot = LENGTHS
            .iter()
            .position(|&l| l >= length)
            .ok_or_else(|| failed(format!("{length} tokens exceed {MAX_TOKENS}")))?;
        let row = |values: &[u32]| -> Result<TValue, Error> {
            let mut padded: Vec<i64> = values.iter().map(|&v| i64::from(v)).collect();
            padded.resize(LENGTHS[slot], 0);
            tract_ndarray::Array2::from_shape_vec((1, LENGTHS[slot]), padded)
                .map(|a| Tensor::from(a).into())
                .map_err(failed)
        };
        let inputs = tvec![
            row(encoding.get_ids())?,
            row(encoding.get_attention_mask())?,
            row(encoding.get_type_ids())?,
        ];
        let outputs = self.plan(slot)?.run(inputs).map_err(failed)?;
        let hidden = outputs[0].to_plain_array_view::<f32>().map_err(failed)?;
        Ok(mean_pool(&hidden, length))
    }
}

/// Mean of the first `length` token vectors (the text's; the rest is padding), at unit length.
fn mean_pool(hidden: &tract_ndarray::ArrayViewD<'_, f32>, length: usize) -> Vec<f32> {
    let dims = hidden.shape()[2];
    let mut sum = vec![0f32; dims];
    for token in 0..length {
        for (d, value) in sum.iter_mut().enumerate() {
            *value += hidden[[0, token, d]];
        }
    }
    let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    sum.iter().map(|v| v / norm).collect()
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
        let started = Instant::now();
        // Dealt round-robin in length order: each thread gets an even share of the work, and
        // the threads move through the plans together.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let threads = self.threads.min(texts.len()).max(1);
        let mut vectors = vec![Vec::new(); texts.len()];
        std::thread::scope(|scope| -> Result<(), Error> {
            let workers: Vec<_> = (0..threads)
                .map(|first| {
                    let share: Vec<usize> =
                        order.iter().copied().skip(first).step_by(threads).collect();
                    scope.spawn(move || {
                        share
                            .into_iter()
                            .map(|i| self.embed_one(texts[i]).map(|vector| (i, vector)))
                            .collect::<Result<Vec<_>, Error>>()
                    })
                })
                .collect();
            for worker in workers {
                let done = worker
                    .join()
                    .map_err(|_| Error::Internal("embedding thread panicked".into()))??;
                for (index, vector) in done {
                    vectors[index] = vector;
                }
            }
            Ok(())
        })?;
        metrics::histogram!(EMBEDDING_GENERATION_DURATION_SECONDS)
            .record(started.elapsed().as_secs_f64());
        Ok(vectors)
    }
}
