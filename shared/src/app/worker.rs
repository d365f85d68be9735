//! The worker: takes jobs from the queue and runs each document through the pipeline.
//! At-least-once delivery plus an idempotent store (chunks are replaced, never appended) means a
//! job may run twice but a document never gets its chunks twice; each attempt's writes are fenced
//! by its token, so a stale one (its lease ran out and another took over) changes nothing.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{pipeline, reconciler};
use crate::{
    convert::sandbox::Sandbox,
    domain::{
        failure::{Failure, FailureCode},
        processing::{Attempt, MAX_ATTEMPTS, Pickup, ProcessingMetrics, Timings},
    },
    ports::{Embedder, Job, ProcessingStore, Queue},
    telemetry::DOCUMENTS_PROCESSED_TOTAL,
};

pub struct Worker {
    pub store: Arc<dyn ProcessingStore>,
    pub queue: Arc<dyn Queue>,
    pub embedder: Arc<dyn Embedder>,
    pub sandbox: Sandbox,
    /// How long a job stays leased without a sign of life; renewed at a third of it. The
    /// reconciler runs as often.
    pub lease: Duration,
    /// How long a PENDING document may go untouched before its job is presumed lost.
    pub requeue_pending_after: Duration,
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
    /// Processes jobs until `stop` turns true; the job in hand is finished first. The
    /// reconciler runs beside it.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        tracing::info!("worker started");
        let reconciling = tokio::spawn(reconciler::run(
            self.store.clone(),
            self.queue.clone(),
            self.lease,
            self.requeue_pending_after,
            stop.clone(),
        ));
        while !*stop.borrow() {
            let next = tokio::select! {
                next = self.queue.next(Duration::from_secs(1)) => next,
                _ = stop.changed() => break,
            };
            match next {
                Ok(Some(job)) => {
                    let settlement = self.handle(&job, None).await;
                    self.settle(&job, settlement).await;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "queue unavailable; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        let _ = reconciling.await;
        tracing::info!("worker stopped");
    }

    fn lease_until(&self) -> DateTime<Utc> {
        Utc::now() + self.lease
    }

    /// Processes one delivery and says what the queue should do with it; `settle` does that.
    /// While it works, the leases (the job's and the attempt's) are renewed. A document that
    /// cannot be embedded by `deadline` fails as `TIMEOUT`.
    pub async fn handle(&self, job: &Job, deadline: Option<Instant>) -> Settlement {
        let id = job.document_id;
        let attempt = match self.store.begin_processing(id, self.lease_until()).await {
            Ok(Pickup::Started(attempt)) => attempt,
            // Settled already, or held by a live attempt whose own delivery settles the job.
            Ok(Pickup::Settled | Pickup::Held) => return Settlement::Complete,
            Err(e) => {
                tracing::warn!(document = %id, error = %e, "cannot start the job; it will be retried");
                return Settlement::RetryAfter(backoff(job.attempt));
            }
        };
        if attempt.number > MAX_ATTEMPTS {
            // Every earlier attempt ended without a verdict: each one's worker died.
            return self
                .conclude(job, &attempt, Err(Failure::crashed(MAX_ATTEMPTS)))
                .await;
        }
        tracing::info!(document = %id, attempt = attempt.number, filename = %attempt.document.filename, "processing");
        let keep_alive = tokio::spawn(self.keep_alive(job, &attempt));
        let outcome = self.process(&attempt, deadline).await;
        keep_alive.abort();
        self.conclude(job, &attempt, outcome).await
    }

    /// Renews the attempt's lease with the store and the job's with the queue, until aborted or
    /// fenced off.
    fn keep_alive(&self, job: &Job, attempt: &Attempt) -> impl Future<Output = ()> + use<> {
        let (queue, store, job, attempt) = (
            self.queue.clone(),
            self.store.clone(),
            job.clone(),
            attempt.clone(),
        );
        let (lease, every) = (self.lease, self.lease / 3);
        async move {
            loop {
                tokio::time::sleep(every).await;
                // The attempt's lease first, so it always runs out before the job's: the next
                // delivery then finds it over and takes the document.
                match store.renew_processing(&attempt, Utc::now() + lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(document = %job.document_id, "another attempt took over; this one's result will be dropped");
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot renew the attempt's lease"),
                }
                if let Err(e) = queue.keep_alive(&job).await {
                    tracing::warn!(error = %e, "cannot renew the job's lease");
                }
            }
        }
    }

    /// Records the attempt's outcome (`Ok(chunks)` or its failure) and says what to tell the queue.
    async fn conclude(
        &self,
        job: &Job,
        attempt: &Attempt,
        outcome: Result<usize, Failure>,
    ) -> Settlement {
        let (id, format) = (attempt.document.id, attempt.document.format.as_str());
        let failure = match outcome {
            Ok(chunks) => {
                tracing::info!(document = %id, chunks, "completed");
                metrics::counter!(DOCUMENTS_PROCESSED_TOTAL, "status" => "COMPLETED", "format" => format).increment(1);
                return Settlement::Complete;
            }
            Err(failure) => failure,
        };
        let last = failure.code.is_permanent() || attempt.number >= MAX_ATTEMPTS;
        tracing::warn!(document = %id, attempt = attempt.number, last, %failure, "processing failed");
        match self.store.fail_processing(attempt, &failure, last).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(document = %id, "deleted, retried or taken over meanwhile; the failure is dropped");
                return Settlement::Complete;
            }
            Err(e) => {
                // The store is away: leave the job leased so it is delivered again later.
                tracing::error!(document = %id, error = %e, "cannot record the failure");
                return Settlement::LeaveLeased;
            }
        }
        if !last {
            return Settlement::RetryAfter(backoff(job.attempt));
        }
        metrics::counter!(DOCUMENTS_PROCESSED_TOTAL, "status" => "FAILED", "format" => format)
            .increment(1);
        match failure.code {
            FailureCode::InternalError | FailureCode::ProcessingCrashed => {
                Settlement::DeadLetter(failure.to_string())
            }
            _ => Settlement::Complete,
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

    /// Converts in the sandbox, then cleans, chunks and embeds on a blocking thread, then stores
    /// the result with what each phase took.
    async fn process(
        &self,
        attempt: &Attempt,
        deadline: Option<Instant>,
    ) -> Result<usize, Failure> {
        let (started, document) = (Instant::now(), &attempt.document);
        let queued = (Utc::now() - document.created_at)
            .to_std()
            .unwrap_or_default();
        let bytes = self
            .store
            .document_file(document.id)
            .await
            .map_err(|e| Failure::internal("cannot read the file", &e))?
            .ok_or_else(|| {
                Failure::new(FailureCode::InternalError, "the stored file is missing")
            })?;
        let rules = self
            .store
            .processing_settings(document.id)
            .await
            .map_err(|e| Failure::internal("cannot read the document's profile", &e))?
            .quality_rules();
        let most = pipeline::max_converted_bytes(self.embedder.as_ref(), self.max_chunks);
        let blocks = self.sandbox.convert(document.format, bytes, most).await?;
        let converted = started.elapsed();
        let (embedder, max_chunks) = (self.embedder.clone(), self.max_chunks);
        let prepared = tokio::task::spawn_blocking(move || {
            pipeline::prepare(blocks, embedder.as_ref(), max_chunks, &rules, deadline)
        })
        .await
        .map_err(|e| Failure::internal("the pipeline crashed", &e))??;
        let timings = Timings {
            queued,
            conversion: converted,
            chunking: started
                .elapsed()
                .saturating_sub(converted + prepared.embedding_time),
            embedding: prepared.embedding_time,
            total: started.elapsed(),
        };
        let metrics = ProcessingMetrics::measure(
            &timings,
            document.file_size,
            prepared.page_count,
            &prepared.markdown,
            &prepared.chunks,
        );
        let stored = self
            .store
            .finish_processing(attempt, &prepared.markdown, &prepared.chunks, &metrics)
            .await
            .map_err(|e| Failure::internal("cannot store the chunks", &e))?;
        tracing::info!(
            document = %document.id,
            queue_ms = metrics.queue_ms,
            convert_ms = metrics.conversion_ms,
            chunk_ms = metrics.chunking_ms,
            embed_ms = metrics.embedding_ms,
            store_ms = (started.elapsed() - timings.total).as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "phases"
        );
        if !stored {
            tracing::info!(document = %document.id, "deleted, retried or taken over meanwhile; the result is dropped");
        }
        Ok(prepared.chunks.len())
    }
}
