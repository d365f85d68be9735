//! The reconciler on a schedule (an EventBridge rule in `template.yaml`): each invocation is one
//! pass over the database (`app::reconciler`). It also settles the documents whose SQS message
//! went to the dead-letter queue: those that never started are queued again, and those whose
//! every attempt timed out or crashed are FAILED.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

use super::{emf, secrets};
use crate::{app::reconciler, telemetry, wiring::Backends};

pub async fn run_reconciler() -> Result<(), super::Error> {
    let config = secrets::config_from_env().await?;
    telemetry::init_logging(&config);
    let metrics = emf::install_recorder()?;
    let backends = Backends::connect(&config).await?;
    let (backends, config, metrics) = (&backends, &config, &metrics);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let pass = reconciler::reconcile(
            backends.store.as_ref(),
            backends.queue.as_ref(),
            config.queue.requeue_pending_after,
        )
        .await;
        metrics.flush(std::io::stdout().lock())?;
        let reconciled = pass?;
        Ok::<_, super::Error>(json!({
            "requeued": reconciled.requeued.len(),
            "crashed": reconciled.crashed.len(),
        }))
    }))
    .await
}
