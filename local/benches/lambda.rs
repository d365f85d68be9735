//! Cold starts of the Lambda functions as `cargo lambda build --release` packages them
//! (`LAMBDA_FUNCTIONS_DIR`, set by `local/bench/lambda`). Each function is started ROUNDS times
//! (default 10) against the Runtime API of the tests' support, over real PostgreSQL, Redis,
//! SQS (moto) and the model. For each start it measures:
//! - **init**: process start to the function's first poll for an event, what Lambda bills as
//!   Init Duration;
//! - **first response**: process start to the answer to a first request;
//! - **peak RSS** (VmHWM) after that request.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::lambda::{Deployment, KEY, http_api_event};

/// Each function's first request: cheap, so that the figure is the start, not the work.
fn first_request(function: &str) -> Value {
    let with_key = [("x-api-key", KEY), ("content-type", "application/json")];
    match function {
        "health" => http_api_event("GET", "/health", "", &[], None),
        "metrics" => http_api_event("GET", "/metrics", "", &[], None),
        "documents" => http_api_event("GET", "/api/documents", "limit=1", &with_key, None),
        "upload" => http_api_event("POST", "/api/documents", "", &with_key, Some(b"{}")),
        "search" => http_api_event(
            "POST",
            "/api/query",
            "",
            &with_key,
            Some(br#"{"query": "supersonic flow over a wedge", "topK": 5}"#),
        ),
        // A job whose document no longer exists: acknowledged at once.
        _ => json!({"Records": [{
            "messageId": uuid::Uuid::new_v4().to_string(),
            "receiptHandle": "unused",
            "body": json!({"documentId": uuid::Uuid::new_v4()}).to_string(),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "awsRegion": "us-east-1"
        }]}),
    }
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("ROUNDS").map_or(10, |r| r.parse().unwrap());
    let deployment = Deployment::new().await;
    println!("| function | model | init p50 / max ms | first response p50 ms | peak RSS MB |");
    println!("|---|---|---|---|---|");
    for function in [
        "health",
        "upload",
        "documents",
        "metrics",
        "search",
        "worker",
    ] {
        let (mut inits, mut firsts, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let started = Instant::now();
            let process = deployment.start(function, &[]).await;
            inits.push(ms(process.init_time().await));
            let answer = process.invoke(first_request(function)).await;
            firsts.push(ms(started.elapsed()));
            assert!(answer.is_ok(), "{function}: {answer:?}");
            peaks.push(peak_rss_mb(process.child.id().unwrap()));
        }
        let max = inits.iter().copied().fold(0.0, f64::max);
        println!(
            "| {function} | {} | {:.1} / {:.1} | {:.1} | {:.0} |",
            if matches!(function, "search" | "worker") {
                "yes"
            } else {
                "no"
            },
            median(inits),
            max,
            median(firsts),
            median(peaks),
        );
    }
}
