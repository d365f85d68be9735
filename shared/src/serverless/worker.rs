//! The SQS-triggered worker: each message of a batch is one job. Only the messages that should
//! be tried again are reported failed (`batchItemFailures`), so SQS redelivers just those. A
//! document is given the invocation's remaining time less `STORE_RESERVE`; one that cannot be
//! embedded in it fails as `TIMEOUT` before Lambda's timeout ends the invocation.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{LambdaEvent, service_fn};

use super::{emf, secrets};
use crate::{
    adapters::sqs_queue::JobMessage,
    app::worker::{Settlement, Worker},
    convert::sandbox::Sandbox,
    telemetry,
    wiring::{Backends, load_embedder},
};

/// Runs until the execution environment ends. The binary's `main` must first give
/// `sandbox::run_child_if_asked` its turn: conversions run in children of this executable.
pub async fn run_worker() -> Result<(), super::Error> {
    let config = secrets::config_from_env().await?;
    telemetry::init_logging(&config);
    let metrics = emf::install_recorder()?;
    let backends = Backends::connect(&config).await?;
    let sandbox = Sandbox::of_this_executable(config.worker.conversion_timeout)?;
    let worker = backends.worker(&config, load_embedder(&config)?, sandbox);
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let response = handle_batch(worker, event.payload, deadline(event.context.deadline)).await;
        // The batch's document metrics, before Lambda may freeze the environment.
        metrics.flush(std::io::stdout().lock())?;
        Ok::<_, super::Error>(response)
    }))
    .await
}

/// Time kept back from a document's processing to store its chunks and settle its message.
const STORE_RESERVE: Duration = Duration::from_secs(30);

/// When processing must be done: the invocation's deadline (ms since the epoch) less the reserve.
fn deadline(invocation_deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let remaining = Duration::from_millis(invocation_deadline_ms.saturating_sub(now_ms));
    Instant::now() + remaining.saturating_sub(STORE_RESERVE)
}

pub async fn handle_batch(worker: &Worker, event: SqsEvent, deadline: Instant) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        if !handle_message(worker, message, deadline).await {
            response.add_failure(id);
        }
    }
    response
}

/// Whether the message is done with (and SQS may delete it).
async fn handle_message(worker: &Worker, message: SqsMessage, deadline: Instant) -> bool {
    let Some(job) = JobMessage::job(
        message.body.as_deref().unwrap_or_default(),
        message
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str),
        message.receipt_handle.unwrap_or_default(),
    ) else {
        // After maxReceiveCount deliveries, the redrive policy moves it to the dead-letter queue.
        tracing::warn!(message = message.message_id, "a message that is not a job");
        return false;
    };
    match worker.handle(&job, Some(deadline)).await {
        Settlement::Complete => true,
        // Sent to the dead-letter queue with its reason, and deleted.
        dead @ Settlement::DeadLetter(_) => {
            worker.settle(&job, dead).await;
            true
        }
        // Hidden for the backoff, then delivered again as the next attempt.
        retry @ Settlement::RetryAfter(_) => {
            worker.settle(&job, retry).await;
            false
        }
        Settlement::LeaveLeased => false,
    }
}
