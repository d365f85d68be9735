//! The reconciler: the database is the source of truth for what is still to be done, so a job
//! the queue lost (a crash between storing an upload and queueing it, a flushed Redis, a retry
//! whose enqueue failed, an SQS message gone to the dead-letter queue) never leaves its document
//! stuck. Each pass queues again the documents PROCESSING past their lease and those PENDING and
//! untouched for `requeue_pending_after`, and fails those whose every attempt crashed. A
//! document queued twice is harmless: the second delivery finds it settled.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio::sync::watch;

use crate::{
    Error,
    domain::processing::{MAX_ATTEMPTS, Reconciled},
    ports::{ProcessingStore, Queue},
    telemetry::DOCUMENTS_PROCESSED_TOTAL,
};

/// One pass. A document whose enqueue fails here is taken again by a pass after
/// `requeue_pending_after`.
pub async fn reconcile(
    store: &dyn ProcessingStore,
    queue: &dyn Queue,
    requeue_pending_after: Duration,
) -> Result<Reconciled, Error> {
    let reconciled = store
        .reconcile(Utc::now() - requeue_pending_after, MAX_ATTEMPTS)
        .await?;
    for format in &reconciled.crashed {
        metrics::counter!(DOCUMENTS_PROCESSED_TOTAL, "status" => "FAILED", "format" => format.as_str())
            .increment(1);
    }
    for id in &reconciled.requeued {
        queue.enqueue(*id).await?;
    }
    if !reconciled.requeued.is_empty() || !reconciled.crashed.is_empty() {
        tracing::warn!(
            requeued = reconciled.requeued.len(),
            crashed = reconciled.crashed.len(),
            "reconciler: stalled documents queued again or failed"
        );
    }
    Ok(reconciled)
}

/// A pass every `period` until `stop` turns true.
pub async fn run(
    store: Arc<dyn ProcessingStore>,
    queue: Arc<dyn Queue>,
    period: Duration,
    requeue_pending_after: Duration,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        if let Err(e) = reconcile(store.as_ref(), queue.as_ref(), requeue_pending_after).await {
            tracing::warn!(error = %e, "reconciler pass failed; the next one tries again");
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            changed = stop.changed() => if changed.is_err() { break },
        }
    }
}
