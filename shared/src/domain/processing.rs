//! A document's way through processing, as the worker and the reconciler see it: attempts,
//! their leases and fences, and what the reconciler found.

use std::time::Duration;

use uuid::Uuid;

use super::{chunk_quality::QualityFlag, chunking::Chunk, documents::Document, formats::Format};

/// Tries per document, crashes included (each pickup counts); then it is FAILED.
pub const MAX_ATTEMPTS: u32 = 3;

/// One attempt at processing a document. Its writes carry `token`: once its lease ran out and
/// another attempt took over, or the document was deleted or retried, they change nothing.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub document: Document,
    /// 1 for the first pickup since the upload (or the last retry).
    pub number: u32,
    pub token: Uuid,
}

/// What an attempt to start processing found.
#[derive(Debug)]
pub enum Pickup {
    Started(Attempt),
    /// Another attempt holds a lease that has not run out: its own delivery settles the job.
    Held,
    /// Deleted, or finished by an earlier delivery: nothing to do.
    Settled,
}

/// One reconciler pass.
#[derive(Debug, Default, PartialEq)]
pub struct Reconciled {
    /// Stalled documents made PENDING again, to be queued.
    pub requeued: Vec<Uuid>,
    /// Documents whose every attempt stopped without a result, now FAILED (their formats).
    pub crashed: Vec<Format>,
}

/// How long each phase of a document's processing took, as its worker measured them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// From the upload to this pickup.
    pub queued: Duration,
    pub conversion: Duration,
    pub chunking: Duration,
    pub embedding: Duration,
    /// From the pickup to the result, before it is stored.
    pub total: Duration,
}

/// What processing one document took and made, kept beside it for the analytics routes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessingMetrics {
    pub page_count: i64,
    pub queue_ms: i64,
    pub conversion_ms: i64,
    pub chunking_ms: i64,
    pub embedding_ms: i64,
    pub total_ms: i64,
    pub raw_size_bytes: i64,
    pub markdown_chars: i64,
    pub total_chunks: i64,
    /// Characters.
    pub avg_chunk_size: f64,
    /// Chunks flagged `TOO_LONG`.
    pub oversized_chunks: i64,
    pub avg_quality_score: f64,
    pub total_tokens: i64,
}

impl ProcessingMetrics {
    /// The figures of a document of `raw_size_bytes` whose processing took `timings` and made
    /// `markdown` (with `page_count` pages) cut into `chunks`.
    pub fn measure(
        timings: &Timings,
        raw_size_bytes: i64,
        page_count: u32,
        markdown: &str,
        chunks: &[(Chunk, Vec<f32>)],
    ) -> Self {
        let ms = |d: Duration| d.as_millis() as i64;
        let n = chunks.len().max(1) as f64;
        let sum = |of: &dyn Fn(&Chunk) -> f64| chunks.iter().map(|(c, _)| of(c)).sum::<f64>();
        Self {
            page_count: i64::from(page_count),
            queue_ms: ms(timings.queued),
            conversion_ms: ms(timings.conversion),
            chunking_ms: ms(timings.chunking),
            embedding_ms: ms(timings.embedding),
            total_ms: ms(timings.total),
            raw_size_bytes,
            markdown_chars: markdown.chars().count() as i64,
            total_chunks: chunks.len() as i64,
            avg_chunk_size: sum(&|c| c.content.chars().count() as f64) / n,
            oversized_chunks: chunks
                .iter()
                .filter(|(c, _)| c.quality.flags.contains(QualityFlag::TooLong))
                .count() as i64,
            avg_quality_score: sum(&|c| c.quality.score) / n,
            total_tokens: sum(&|c| c.token_count as f64) as i64,
        }
    }

    /// What the uploader waited: in the queue, then in processing.
    pub fn user_wait_ms(&self) -> i64 {
        self.queue_ms + self.total_ms
    }
}
