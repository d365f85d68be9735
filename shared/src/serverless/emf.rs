//! Metrics as CloudWatch Embedded Metric Format: JSON log lines that CloudWatch turns into
//! metrics. A function's Prometheus registry lives and dies with its execution environment, so
//! scraping it would say little. The HTTP functions write one line per request (they keep the
//! Prometheus recorder for `/metrics`); the worker's document metrics go through an EMF recorder.

use std::{
    sync::OnceLock,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use axum::{extract::Request, middleware::Next, response::Response};
use serde_json::json;

use crate::{
    http::observe::route_of,
    telemetry::{self, HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL},
};

const NAMESPACE: &str = "RAGBase";

/// Installs the process's `metrics` recorder as EMF: what the worker counts
/// (`documents_processed_total{status,format}`, `embedding_generation_duration_seconds`) is
/// written by `Collector::flush`, one line per label set, dimensioned by function too.
pub fn install_recorder() -> Result<&'static metrics_cloudwatch_embedded::Collector, super::Error> {
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension("function", function_name())
        .init()?;
    telemetry::describe_contract_metrics();
    Ok(collector)
}

fn function_name() -> &'static str {
    static FUNCTION: OnceLock<String> = OnceLock::new();
    FUNCTION.get_or_init(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default())
}

pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = route_of(&request);
    let response = next.run(request).await;
    println!(
        "{}",
        line(
            &method,
            &path,
            response.status().as_u16(),
            started.elapsed().as_secs_f64()
        )
    );
    response
}

fn line(method: &str, path: &str, status: u16, seconds: f64) -> serde_json::Value {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["function", "method", "path", "status"]],
                "Metrics": [
                    {"Name": HTTP_REQUESTS_TOTAL, "Unit": "Count"},
                    {"Name": HTTP_REQUEST_DURATION_SECONDS, "Unit": "Seconds"},
                ],
            }],
        },
        "function": function_name(),
        "method": method,
        "path": path,
        "status": status.to_string(),
        HTTP_REQUESTS_TOTAL: 1,
        HTTP_REQUEST_DURATION_SECONDS: seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_its_metrics_and_carries_their_values() {
        let line = line("POST", "/api/query", 200, 0.25);
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "RAGBase");
        for metric in declared["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "{name} has no value");
        }
        for dimension in declared["Dimensions"][0].as_array().unwrap() {
            assert!(line[dimension.as_str().unwrap()].is_string(), "{dimension}");
        }
        assert_eq!(
            (
                &line["path"],
                &line["status"],
                &line[HTTP_REQUEST_DURATION_SECONDS]
            ),
            (&json!("/api/query"), &json!("200"), &json!(0.25))
        );
    }
}
