//! The one place where errors become HTTP responses.

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderValue, Response, StatusCode, header},
    response::IntoResponse,
};
use serde_json::json;

use crate::Error;

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Validation(_)
            | Self::InvalidId(_)
            | Self::NoFile
            | Self::InvalidFormat(_)
            | Self::InvalidFilename(_)
            | Self::InvalidStatus(_) => StatusCode::BAD_REQUEST,
            Self::Duplicate { .. } | Self::NotReady(_) | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Backend { .. } | Self::Embedding(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Config(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        let status = self.status();
        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        match &self {
            Self::Backend { backend, .. } => {
                // The detail may name hosts or SQL: log it, tell the client only what failed.
                tracing::error!(error = %self, "backend failure");
                body["message"] =
                    json!(format!("The {backend} is unavailable, please retry later"));
            }
            Self::Embedding(_) => {
                tracing::error!(error = %self, "embedding failure");
                body["message"] = json!("The embedding model could not process the query");
            }
            Self::Internal(_) | Self::Config(_) => {
                tracing::error!(error = %self, "internal error");
                body["message"] = json!("Internal server error");
            }
            Self::RateLimited { window, .. } => {
                body["retryAfter"] = json!(window.as_millis().to_string())
            }
            Self::Duplicate { existing_id } => body["existingId"] = json!(existing_id),
            _ => {}
        }
        let mut response = (status, Json(body)).into_response();
        if let Self::RateLimited { reset_after, .. } = self {
            let seconds = reset_after.as_millis().div_ceil(1000).max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds as u64));
        }
        response
    }
}

/// Rewrites the framework's own plain-text or empty error responses (unknown route, wrong method,
/// body over the limit, a panic) into the contract's JSON body, keeping status and headers.
/// The state is the body limit in MB, for the 413 message.
pub async fn json_error_bodies(
    State(limit_mb): State<u64>,
    response: Response<Body>,
) -> Response<Body> {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let error = match status {
        StatusCode::NOT_FOUND => Error::NotFound("Route not found".into()),
        StatusCode::METHOD_NOT_ALLOWED => Error::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge { limit_mb },
        s if s.is_client_error() => {
            Error::Validation(s.canonical_reason().unwrap_or("Bad request").into())
        }
        _ => Error::Internal(format!("{status} from the HTTP stack")),
    };
    let (mut parts, _) = response.into_parts();
    let fresh = error.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}
