//! Request metrics (by route pattern, never the raw URL) and error counting for the alert webhook.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};

use super::AppState;
use crate::telemetry::{HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL};

/// Probes answer 503 by design while a backend is down; that is a reading, not an error to alert on.
const PROBES: [&str; 4] = ["/health", "/ready", "/live", "/metrics"];

/// The methods a label may name; any other is `OTHER`, so that clients cannot mint series.
const METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
];

/// A request's method and route pattern: the labels of its metrics, from fixed sets (the
/// router's patterns, `unmatched` for the rest).
pub(crate) fn route_of(request: &Request) -> (String, String) {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let method = if METHODS.contains(request.method()) {
        request.method().as_str()
    } else {
        "OTHER"
    };
    (method.to_owned(), path.to_owned())
}

pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = route_of(&request);
    let response = next.run(request).await;
    let status = response.status();
    let labels = [
        ("method", method.clone()),
        ("path", path.clone()),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!(HTTP_REQUESTS_TOTAL, &labels).increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, &labels)
        .record(started.elapsed().as_secs_f64());
    if status.is_server_error() && !PROBES.contains(&path.as_str()) {
        state
            .alerts
            .record_error(&format!("{method} {path} answered {status}"));
    }
    response
}
