//! Request metrics as CloudWatch Embedded Metric Format: one JSON log line per request, which
//! CloudWatch turns into metrics. A function's Prometheus registry lives and dies with its
//! execution environment, so scraping it would say little.

use std::{
    sync::OnceLock,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use axum::{extract::Request, middleware::Next, response::Response};
use serde_json::json;

use crate::{
    http::observe::route_of,
    telemetry::{HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL},
};

const NAMESPACE: &str = "RAGBase";

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
    static FUNCTION: OnceLock<String> = OnceLock::new();
    let function =
        FUNCTION.get_or_init(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default());
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
        "function": function,
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
