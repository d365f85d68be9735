//! Health, readiness and liveness probes, and the Prometheus scrape.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use tokio::task::JoinSet;

use super::{
    AppState,
    types::{HealthAnswer, LiveAnswer, ReadyAnswer},
};
use crate::telemetry::{PROCESSING_QUEUE_SIZE, READINESS_CHECK};

/// A backend that does not answer within this is reported down, so probes never hang.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The process is up.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "probes",
    responses((status = 200, description = "Up", body = HealthAnswer)))]
pub async fn health() -> Json<HealthAnswer> {
    Json(HealthAnswer { status: "ok" })
}

/// The process is alive.
#[utoipa::path(get, path = "/live", operation_id = "live", tag = "probes",
    responses((status = 200, description = "Alive", body = LiveAnswer)))]
pub async fn live() -> Json<LiveAnswer> {
    Json(LiveAnswer { alive: true })
}

/// Whether every configured backend answers: 503 and `degraded` when any fails.
#[utoipa::path(get, path = "/ready", operation_id = "ready", tag = "probes",
    responses(
        (status = 200, description = "Every backend answers", body = ReadyAnswer),
        (status = 503, description = "A backend does not answer", body = ReadyAnswer),
    ))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let results = check_backends(&state).await;
    let all_healthy =
        results.len() == state.readiness.len() && results.iter().all(|(_, healthy)| *healthy);
    let status = if all_healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = ReadyAnswer {
        status: if all_healthy { "ok" } else { "degraded" },
        checks: results.into_iter().collect(),
        version: env!("CARGO_PKG_VERSION"),
        uptime: state.started.elapsed().as_secs_f64(),
    };
    (status, Json(body))
}

/// Asks every configured backend at once: (check name, healthy).
async fn check_backends(state: &AppState) -> Vec<(&'static str, bool)> {
    let mut checks = JoinSet::new();
    for check in state.readiness.iter() {
        let check = check.clone();
        checks.spawn(async move {
            let outcome = tokio::time::timeout(CHECK_TIMEOUT, check.check()).await;
            let healthy = match outcome {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    tracing::warn!(check = check.name(), error = %e, "readiness check failed");
                    false
                }
                Err(_) => {
                    tracing::warn!(check = check.name(), "readiness check timed out");
                    false
                }
            };
            (check.name(), healthy)
        });
    }
    let mut results = Vec::new();
    while let Some(Ok(result)) = checks.join_next().await {
        results.push(result);
    }
    results
}

/// Prometheus metrics of this process.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "probes",
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Readiness and queue depth are read at scrape time, so alerts see what `/ready` would say
    // and every instance reports the shared queue's truth.
    for (check, healthy) in check_backends(&state).await {
        metrics::gauge!(READINESS_CHECK, "check" => check).set(f64::from(u8::from(healthy)));
    }
    match tokio::time::timeout(CHECK_TIMEOUT, state.queue.sizes()).await {
        Ok(Ok(sizes)) => {
            for (status, n) in [
                ("waiting", sizes.waiting),
                ("active", sizes.active),
                ("delayed", sizes.delayed),
                ("failed", sizes.failed),
            ] {
                metrics::gauge!(PROCESSING_QUEUE_SIZE, "status" => status).set(n as f64);
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "queue sizes unavailable"),
        Err(_) => tracing::warn!("queue sizes timed out"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
