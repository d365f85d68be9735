//! The gate in front of `/api` (per-client rate limit, then API-key authentication), and the
//! bounds on what one request may take (upload memory, time).

use std::time::Duration;

use axum::{
    extract::{Query, Request, State},
    http::HeaderValue,
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use super::{AppState, client_ip::client_ip, errors::ApiError};

/// How long an upload waits for memory to hold it before it is answered 503.
const UPLOAD_WAIT: Duration = Duration::from_secs(10);

/// Holds one of the upload permits while the body is read and stored: uploads beyond
/// `UPLOAD_MEMORY_MB` wait for one, then get 503, so memory stays bounded.
pub async fn upload_slot(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let permit = tokio::time::timeout(UPLOAD_WAIT, state.uploads.clone().acquire_owned()).await;
    match permit {
        Ok(Ok(permit)) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        _ => ApiError::UploadsBusy.into_response(),
    }
}

/// Answers 408 to a request still running after `REQUEST_TIMEOUT_SECS`, its body's upload
/// included: a client that trickles a body cannot hold its connection and memory for ever.
pub async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config.http.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout {
            seconds: limit.as_secs(),
        }
        .into_response(),
    }
}

/// Counts the request against its client's window; over the limit answers 429.
/// If the counter store fails the request is let through: an outage of Redis must not take the API down.
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let client = client_ip(&request, state.config.http.trust_proxy);
    let window = match state.rate_limiter.hit(&client).await {
        Ok(window) => window,
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable; request allowed");
            return next.run(request).await;
        }
    };
    let limit = u64::from(state.config.http.rate_limit_max);
    let mut response = if window.count > limit {
        ApiError::RateLimited {
            window: state.config.http.rate_limit_window,
            reset_after: window.reset_after,
        }
        .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    let reset_seconds = window.reset_after.as_millis().div_ceil(1000) as u64;
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(limit.saturating_sub(window.count)),
    );
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset_seconds));
    response
}

/// Accepts the request when `X-API-Key` matches any configured key.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get("x-api-key")
        .map(HeaderValue::as_bytes);
    if state.api_keys.is_empty() || given.is_some_and(|key| key_matches(key, &state.api_keys)) {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

#[derive(serde::Deserialize)]
struct StreamKey {
    #[serde(rename = "apiKey")]
    api_key: String,
}

/// `authenticate` for the events stream, which browsers open with `EventSource`: it cannot send
/// headers, so the key may come as the `apiKey` query parameter instead. Request logs and
/// metrics carry the path only, so the key is never written anywhere.
pub async fn authenticate_stream(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let in_query = Query::<StreamKey>::try_from_uri(request.uri()).ok();
    if in_query.is_some_and(|Query(q)| key_matches(q.api_key.as_bytes(), &state.api_keys)) {
        next.run(request).await
    } else {
        authenticate(State(state), request, next).await
    }
}

/// Keys are compared as SHA-256 digests in constant time, and every key is compared,
/// so neither timing nor length reveals how close a guess was.
fn key_matches(given: &[u8], key_digests: &[[u8; 32]]) -> bool {
    let given = crate::domain::sha256(given);
    key_digests
        .iter()
        .fold(subtle::Choice::from(0), |found, key| {
            found | key.ct_eq(&given)
        })
        .into()
}
