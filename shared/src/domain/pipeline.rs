//! From converted blocks to embedded chunks: clean, judge, chunk, embed. Pure domain logic over
//! the `Embedder` port; the worker supplies the blocks and stores the result.

use std::time::{Duration, Instant};

use super::{
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

pub fn prepare(blocks: Vec<Block>, embedder: &dyn Embedder) -> Result<Prepared, Failure> {
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
