//! The worker: takes jobs from the queue and runs each document through the pipeline.
//! At-least-once delivery plus an idempotent store (chunks are replaced, never appended) means a
//! job may run twice but a document never gets its chunks twice.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use super::pipeline;
use crate::{
    convert::sandbox::Sandbox,
    domain::{
        documents::Document,
        failure::{Failure, FailureCode},
    },
    ports::{Embedder, Job, ProcessingStore, Queue},
    telemetry::DOCUMENTS_PROCESSED_TOTAL,
};

/// Tries per job, crashes included; then the job is dead-lettered and the document FAILED.
pub const MAX_ATTEMPTS: u32 = 3;

pub struct Worker {
    pub store: Arc<dyn ProcessingStore>,
    pub queue: Arc<dyn Queue>,
    pub embedder: Arc<dyn Embedder>,
    pub sandbox: Sandbox,
    /// How long a job stays leased without a sign of life; renewed at a third of it.
    pub lease: Duration,
    /// The most chunks one document may make (`MAX_DOCUMENT_CHUNKS`).
    pub max_chunks: usize,
}

/// What the queue should do with a job once its worker is done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Finished (processed, failed for good, or nothing left to do): remove it.
    Complete,
    /// A passing fault: deliver it again, as its next attempt, after this delay.
    RetryAfter(Duration),
    /// Failed its last attempt: keep it, with the reason, in the dead-letter queue.
    DeadLetter(String),
    /// The store is away and the outcome is not recorded: let the lease run out and the job
    /// come back.
    LeaveLeased,
}

/// 2 s, 4 s, 8 s, …: time for a passing fault (a database restart) to pass.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempt.min(10)))
}

impl Worker {
    /// Processes jobs until `stop` turns true; the job in hand is finished first.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        tracing::info!("worker started");
        while !*stop.borrow() {
            let next = tokio::select! {
                next = self.queue.next(Duration::from_secs(1)) => next,
                _ = stop.changed() => break,
            };
            match next {
                Ok(Some(job)) => {
                    let settlement = self.handle(&job).await;
                    self.settle(&job, settlement).await;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "queue unavailable; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        tracing::info!("worker stopped");
    }

    /// Processes one delivery and says what the queue should do with it; `settle` does that.
    /// While it works, the job's lease is renewed.
    pub async fn handle(&self, job: &Job) -> Settlement {
        let id = job.document_id;
        let document = match self.store.begin_processing(id).await {
            // Deleted, or already finished by an earlier delivery: nothing to do.
            Ok(None) => return Settlement::Complete,
            Ok(Some(document)) => document,
            Err(e) => {
                tracing::warn!(document = %id, error = %e, "cannot start the job; it will be retried");
                return Settlement::RetryAfter(backoff(job.attempt));
            }
        };
        tracing::info!(document = %id, attempt = job.attempt, filename = %document.filename, "processing");
        let keep_alive = {
            let (queue, job, every) = (self.queue.clone(), job.clone(), self.lease / 3);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) = queue.keep_alive(&job).await {
                        tracing::warn!(error = %e, "cannot renew the job's lease");
                    }
                }
            })
        };
        let outcome = self.process(&document).await;
        keep_alive.abort();
        let format = document.format.as_str();
        match outcome {
            Ok(chunks) => {
                tracing::info!(document = %id, chunks, "completed");
                metrics::counter!(DOCUMENTS_PROCESSED_TOTAL, "status" => "COMPLETED", "format" => format).increment(1);
                Settlement::Complete
            }
            Err(failure) => {
                let last = failure.code.is_permanent() || job.attempt >= MAX_ATTEMPTS;
                tracing::warn!(document = %id, attempt = job.attempt, last, %failure, "processing failed");
                if let Err(e) = self.store.fail_processing(id, &failure, last).await {
                    // The store is away: leave the job leased so it is delivered again later.
                    tracing::error!(document = %id, error = %e, "cannot record the failure");
                    return Settlement::LeaveLeased;
                }
                if !last {
                    return Settlement::RetryAfter(backoff(job.attempt));
                }
                metrics::counter!(DOCUMENTS_PROCESSED_TOTAL, "status" => "FAILED", "format" => format).increment(1);
                if failure.code.is_permanent() {
                    Settlement::Complete
                } else {
                    Settlement::DeadLetter(failure.to_string())
                }
            }
        }
    }

    /// Tells the queue what became of the job.
    pub async fn settle(&self, job: &Job, settlement: Settlement) {
        let done = match settlement {
            Settlement::Complete => self.queue.complete(job).await,
            Settlement::RetryAfter(delay) => self.queue.retry_later(job, delay).await,
            Settlement::DeadLetter(reason) => self.queue.dead_letter(job, &reason).await,
            Settlement::LeaveLeased => Ok(()),
        };
        if let Err(e) = done {
            // The lease runs out and the job comes back; processing it again is harmless.
            tracing::warn!(error = %e, "cannot settle the job with the queue; it will be redelivered");
        }
    }

    /// Converts in the sandbox, then cleans, chunks and embeds on a blocking thread, then stores.
    async fn process(&self, document: &Document) -> Result<usize, Failure> {
        let started = Instant::now();
        let internal = |what: &str, e: &dyn std::fmt::Display| {
            Failure::new(FailureCode::InternalError, format!("{what}: {e}"))
        };
        let bytes = self
            .store
            .document_file(document.id)
            .await
            .map_err(|e| internal("cannot read the file", &e))?
            .ok_or_else(|| {
                Failure::new(FailureCode::InternalError, "the stored file is missing")
            })?;
        let blocks = self.sandbox.convert(document.format, bytes).await?;
        let converted = started.elapsed();
        let (embedder, max_chunks) = (self.embedder.clone(), self.max_chunks);
        let prepared = tokio::task::spawn_blocking(move || {
            pipeline::prepare(blocks, embedder.as_ref(), max_chunks)
        })
        .await
        .map_err(|e| internal("the pipeline crashed", &e))??;
        let prepared_at = started.elapsed();
        let stored = self
            .store
            .finish_processing(document.id, &prepared.markdown, &prepared.chunks)
            .await
            .map_err(|e| internal("cannot store the chunks", &e))?;
        let ms = |d: Duration| d.as_millis() as u64;
        tracing::info!(
            document = %document.id,
            convert_ms = ms(converted),
            chunk_ms = ms(prepared_at.saturating_sub(converted + prepared.embedding_time)),
            embed_ms = ms(prepared.embedding_time),
            store_ms = ms(started.elapsed() - prepared_at),
            total_ms = ms(started.elapsed()),
            "phases"
        );
        if !stored {
            tracing::info!(document = %document.id, "deleted while processing; result dropped");
        }
        Ok(prepared.chunks.len())
    }
}
