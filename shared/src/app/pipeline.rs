//! From converted blocks to embedded chunks: clean, judge, chunk (the domain's rules), then embed
//! (the `Embedder` port); the worker supplies the blocks and stores the result.

use std::time::{Duration, Instant};

use crate::domain::{
    blocks::Block,
    chunk_quality::QualityRules,
    chunking::{Chunk, chunk, max_text_bytes},
    failure::{Failure, FailureCode},
    quality, text,
};
use crate::ports::Embedder;

#[derive(Debug)]
pub struct Prepared {
    pub markdown: String,
    pub chunks: Vec<(Chunk, Vec<f32>)>,
    /// Time spent in the model, for the worker's log and the benchmarks.
    pub embedding_time: Duration,
    /// The last page the converter saw (0 for formats without pages).
    pub page_count: u32,
}

/// Texts embedded between two looks at the deadline: enough to keep every thread busy.
const EMBED_ROUND: usize = 256;

/// The most converter output worth reading for one document: the text its chunks can hold,
/// with as much again for the JSON it travels in.
pub fn max_converted_bytes(embedder: &dyn Embedder, max_chunks: usize) -> usize {
    max_text_bytes(embedder.max_tokens(), max_chunks).saturating_mul(2)
}

/// Chunks are scored by `rules`, the document's profile's. `max_chunks` bounds the model's work for one document: a small archive can hold a huge text,
/// and its hours of embedding would hold up every document queued behind it. With a `deadline`
/// (a Lambda invocation's end), a document whose embedding will not be done by then fails as
/// `TIMEOUT` as soon as the pace so far says so.
pub fn prepare(
    blocks: Vec<Block>,
    embedder: &dyn Embedder,
    max_chunks: usize,
    rules: &QualityRules,
    deadline: Option<Instant>,
) -> Result<Prepared, Failure> {
    let max_text = max_text_bytes(embedder.max_tokens(), max_chunks);
    let text_bytes: usize = blocks.iter().map(|b| b.text.len()).sum();
    if text_bytes > max_text {
        let why = format!(
            "the text is {} KiB, more than {max_chunks} chunks can hold ({} KiB; \
             MAX_DOCUMENT_CHUNKS sets the limit)",
            text_bytes >> 10,
            max_text >> 10
        );
        return Err(Failure::new(FailureCode::FileTooLarge, why));
    }
    let page_count = blocks.iter().filter_map(|b| b.page).max().unwrap_or(0);
    let blocks: Vec<Block> = blocks
        .into_iter()
        .map(|b| Block {
            text: text::clean(&b.text),
            ..b
        })
        .filter(|b| !b.text.is_empty())
        .collect();
    quality::check(blocks.iter().map(|b| b.text.as_str()))?;
    let count_tokens = |t: &str| embedder.count_tokens(t);
    let Some(chunked) = chunk(
        &blocks,
        embedder.max_tokens(),
        max_chunks,
        &count_tokens,
        rules,
    ) else {
        let why = format!(
            "the text makes more than {max_chunks} chunks, the most embedded per document \
             (MAX_DOCUMENT_CHUNKS)"
        );
        return Err(Failure::new(FailureCode::FileTooLarge, why));
    };
    let inputs: Vec<&str> = chunked
        .chunks
        .iter()
        .map(|c| c.embedding_input.as_str())
        .collect();
    let started = Instant::now();
    let vectors = embed_by(&inputs, embedder, deadline)?;
    Ok(Prepared {
        markdown: chunked.markdown,
        chunks: chunked.chunks.into_iter().zip(vectors).collect(),
        embedding_time: started.elapsed(),
        page_count,
    })
}

fn embed_by(
    inputs: &[&str],
    embedder: &dyn Embedder,
    deadline: Option<Instant>,
) -> Result<Vec<Vec<f32>>, Failure> {
    let started = Instant::now();
    let mut vectors = Vec::with_capacity(inputs.len());
    for round in inputs.chunks(EMBED_ROUND) {
        let embedded = embedder
            .embed(round)
            .map_err(|e| Failure::internal("embedding failed", &e))?;
        vectors.extend(embedded);
        let Some(deadline) = deadline else { continue };
        let needed = started
            .elapsed()
            .mul_f64(inputs.len() as f64 / vectors.len() as f64);
        if vectors.len() < inputs.len() && started + needed > deadline {
            let allowed = deadline.saturating_duration_since(started);
            return Err(Failure::new(
                FailureCode::Timeout,
                format!(
                    "embedding its {} chunks needs about {} s, more than the {} s this worker has \
                     left for it; a long-running worker (ragbase worker) processes documents \
                     this large",
                    inputs.len(),
                    needed.as_secs(),
                    allowed.as_secs()
                ),
            ));
        }
    }
    Ok(vectors)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{Error, domain::blocks::BlockKind};

    /// Words as tokens, and a count of the texts it was asked to embed; each call takes `pause`.
    #[derive(Default)]
    struct CountingEmbedder(AtomicUsize, Duration);

    impl Embedder for CountingEmbedder {
        fn dimensions(&self) -> usize {
            1
        }
        fn max_tokens(&self) -> usize {
            16
        }
        fn count_tokens(&self, text: &str) -> usize {
            text.split_whitespace().count() + 2
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
            self.0.fetch_add(texts.len(), Ordering::Relaxed);
            std::thread::sleep(self.1);
            Ok(texts.iter().map(|_| vec![1.0]).collect())
        }
    }

    const RULES: QualityRules = QualityRules::DEFAULT;

    fn sections(n: usize) -> Vec<Block> {
        (0..n)
            .flat_map(|i| {
                [
                    Block::new(BlockKind::Heading(1), format!("Part {i}"), None),
                    Block::new(BlockKind::Paragraph, "Some words of text here.", None),
                ]
            })
            .collect()
    }

    #[test]
    fn a_document_over_the_chunk_limit_fails_before_the_model_runs() {
        let embedder = CountingEmbedder::default();
        let prepared = prepare(sections(3), &embedder, 3, &RULES, None).unwrap();
        assert_eq!(prepared.chunks.len(), 3);
        assert_eq!(embedder.0.load(Ordering::Relaxed), 3);

        let failure = prepare(sections(4), &embedder, 3, &RULES, None).unwrap_err();
        assert_eq!(failure.code, FailureCode::FileTooLarge);
        assert!(failure.message.contains("more than 3 chunks"), "{failure}");
        assert_eq!(embedder.0.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_text_more_than_the_chunks_can_hold_fails_before_it_is_cleaned_or_chunked() {
        let embedder = CountingEmbedder::default();
        // 16 tokens of at most 16 bytes each, in 3 chunks: 768 bytes.
        let long = Block::new(BlockKind::Paragraph, "word ".repeat(200), None);
        let failure = prepare(vec![long], &embedder, 3, &RULES, None).unwrap_err();
        assert_eq!(failure.code, FailureCode::FileTooLarge);
        assert!(
            failure.message.contains("more than 3 chunks can hold"),
            "{failure}"
        );
        assert_eq!(embedder.0.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_document_the_deadline_cannot_fit_fails_as_timeout_after_one_round() {
        // Three rounds at 20 ms or more each need 60 ms; 30 ms are left.
        let embedder = CountingEmbedder(AtomicUsize::new(0), Duration::from_millis(20));
        let deadline = Instant::now() + Duration::from_millis(30);
        let failure = prepare(
            sections(3 * EMBED_ROUND),
            &embedder,
            usize::MAX,
            &RULES,
            Some(deadline),
        )
        .unwrap_err();
        assert_eq!(failure.code, FailureCode::Timeout);
        assert!(
            failure
                .message
                .contains(&format!("{} chunks", 3 * EMBED_ROUND)),
            "{failure}"
        );
        assert_eq!(embedder.0.load(Ordering::Relaxed), EMBED_ROUND);

        let roomy = Instant::now() + Duration::from_secs(60);
        let prepared = prepare(
            sections(3 * EMBED_ROUND),
            &embedder,
            usize::MAX,
            &RULES,
            Some(roomy),
        );
        assert_eq!(prepared.unwrap().chunks.len(), 3 * EMBED_ROUND);
    }
}
