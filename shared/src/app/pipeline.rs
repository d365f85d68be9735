//! From converted blocks to embedded chunks: clean, judge, chunk (the domain's rules), then embed
//! (the `Embedder` port); the worker supplies the blocks and stores the result.

use std::time::{Duration, Instant};

use crate::domain::{
    blocks::Block,
    chunking::{Chunk, chunk},
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
}

/// `max_chunks` bounds the model's work for one document: a small archive can hold a huge text,
/// and its hours of embedding would hold up every document queued behind it.
pub fn prepare(
    blocks: Vec<Block>,
    embedder: &dyn Embedder,
    max_chunks: usize,
) -> Result<Prepared, Failure> {
    let blocks: Vec<Block> = blocks
        .into_iter()
        .map(|b| Block {
            text: text::clean(&b.text),
            ..b
        })
        .filter(|b| !b.text.is_empty())
        .collect();
    let all_text: String = blocks
        .iter()
        .map(|b| b.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    quality::check(&all_text)?;
    let chunked = chunk(&blocks, embedder.max_tokens(), &|t| {
        embedder.count_tokens(t)
    });
    if chunked.chunks.len() > max_chunks {
        return Err(Failure::new(
            FailureCode::FileTooLarge,
            format!(
                "the text makes {} chunks; at most {max_chunks} are embedded per document \
                 (MAX_DOCUMENT_CHUNKS)",
                chunked.chunks.len()
            ),
        ));
    }
    let inputs: Vec<&str> = chunked
        .chunks
        .iter()
        .map(|c| c.embedding_input.as_str())
        .collect();
    let started = Instant::now();
    let vectors = embedder
        .embed(&inputs)
        .map_err(|e| Failure::new(FailureCode::InternalError, format!("embedding failed: {e}")))?;
    Ok(Prepared {
        markdown: chunked.markdown,
        chunks: chunked.chunks.into_iter().zip(vectors).collect(),
        embedding_time: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{Error, domain::blocks::BlockKind};

    /// Words as tokens, and a count of the texts it was asked to embed.
    #[derive(Default)]
    struct CountingEmbedder(AtomicUsize);

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
            Ok(texts.iter().map(|_| vec![1.0]).collect())
        }
    }

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
        let prepared = prepare(sections(3), &embedder, 3).unwrap();
        assert_eq!(prepared.chunks.len(), 3);
        assert_eq!(embedder.0.load(Ordering::Relaxed), 3);

        let failure = prepare(sections(4), &embedder, 3).unwrap_err();
        assert_eq!(failure.code, FailureCode::FileTooLarge);
        assert!(failure.message.contains("4 chunks"), "{failure}");
        assert_eq!(embedder.0.load(Ordering::Relaxed), 3);
    }
}
