//! Errors as the API reports them: the core's, and the HTTP layer's own. One table gives every
//! case its code (what clients switch on), its status and what the client is told; `log_errors`
//! logs what the client is not told, inside the request's span.

use std::time::Duration;

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderValue, Response, StatusCode, header},
    response::IntoResponse,
};

use super::types::ErrorBody;
use crate::Error;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Core(#[from] Error),
    #[error("Invalid or missing API key")]
    Unauthorized,
    #[error("Too many requests, please try again later")]
    RateLimited {
        /// The configured window, reported in the body as the original service did.
        window: Duration,
        /// Time until this client's window resets (the `Retry-After` header).
        reset_after: Duration,
    },
    #[error("No file was uploaded: send one multipart part named `file`")]
    NoFile,
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("Request body exceeds the {limit_mb} MB limit")]
    PayloadTooLarge { limit_mb: u64 },
    #[error("Too many uploads in progress, please retry shortly")]
    UploadsBusy,
    #[error("The request took longer than {seconds} s")]
    RequestTimeout { seconds: u64 },
}

/// A case's row: its code, its status, and the message clients get instead of the error's own
/// words (which may name hosts, SQL or internals).
type Row = (&'static str, StatusCode, Option<String>);

impl ApiError {
    fn row(&self) -> Row {
        use StatusCode as S;
        match self {
            Self::Unauthorized => ("UNAUTHORIZED", S::UNAUTHORIZED, None),
            Self::RateLimited { .. } => ("RATE_LIMITED", S::TOO_MANY_REQUESTS, None),
            Self::NoFile => ("NO_FILE", S::BAD_REQUEST, None),
            Self::MethodNotAllowed => ("METHOD_NOT_ALLOWED", S::METHOD_NOT_ALLOWED, None),
            Self::PayloadTooLarge { .. } => ("FILE_TOO_LARGE", S::PAYLOAD_TOO_LARGE, None),
            Self::UploadsBusy => ("SERVICE_UNAVAILABLE", S::SERVICE_UNAVAILABLE, None),
            Self::RequestTimeout { .. } => ("REQUEST_TIMEOUT", S::REQUEST_TIMEOUT, None),
            Self::Core(error) => match error {
                Error::Validation(_) => ("VALIDATION_ERROR", S::BAD_REQUEST, None),
                Error::InvalidId(_) => ("INVALID_ID", S::BAD_REQUEST, None),
                Error::InvalidFormat(_) => ("INVALID_FORMAT", S::BAD_REQUEST, None),
                Error::InvalidFilename(_) => ("INVALID_FILENAME", S::BAD_REQUEST, None),
                Error::InvalidStatus(_) => ("INVALID_STATUS", S::BAD_REQUEST, None),
                Error::NotPermitted(_) => ("BAD_REQUEST", S::BAD_REQUEST, None),
                Error::NotFound(_) => ("NOT_FOUND", S::NOT_FOUND, None),
                Error::Duplicate { .. } => ("DUPLICATE_FILE", S::CONFLICT, None),
                Error::NotReady(_) => ("NOT_READY", S::CONFLICT, None),
                Error::Conflict(_) => ("CONFLICT", S::CONFLICT, None),
                Error::Backend { backend, .. } => (
                    "SERVICE_UNAVAILABLE",
                    S::SERVICE_UNAVAILABLE,
                    Some(format!("The {backend} is unavailable, please retry later")),
                ),
                Error::Embedding(_) => (
                    "EMBEDDING_SERVICE_ERROR",
                    S::SERVICE_UNAVAILABLE,
                    Some("The embedding model could not process the query".into()),
                ),
                Error::Internal(_) | Error::Config(_) => (
                    "INTERNAL_ERROR",
                    S::INTERNAL_SERVER_ERROR,
                    Some("Internal server error".into()),
                ),
            },
        }
    }
}

/// What `log_errors` logs of an answer whose client was told less than the error says.
#[derive(Clone)] // response extensions are Clone
struct Untold {
    code: &'static str,
    detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let (code, status, public) = self.row();
        let untold = public.is_some().then(|| Untold {
            code,
            detail: self.to_string(),
        });
        let body = ErrorBody {
            error: code,
            message: public.unwrap_or_else(|| self.to_string()),
            retry_after: match &self {
                Self::RateLimited { window, .. } => Some(window.as_millis().to_string()),
                _ => None,
            },
            existing_id: match &self {
                Self::Core(Error::Duplicate { existing_id }) => Some(*existing_id),
                _ => None,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::RateLimited { reset_after, .. } = self {
            let seconds = reset_after.as_millis().div_ceil(1000).max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds as u64));
        }
        if let Some(untold) = untold {
            response.extensions_mut().insert(untold);
        }
        response
    }
}

/// Logs the errors whose detail the client was not told (backend, model and internal failures),
/// with the request's id from the enclosing span.
pub async fn log_errors(mut response: Response<Body>) -> Response<Body> {
    if let Some(Untold { code, detail }) = response.extensions_mut().remove::<Untold>() {
        tracing::error!(code, error = %detail, "request failed");
    }
    response
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
        StatusCode::NOT_FOUND => Error::NotFound("Route not found".into()).into(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit_mb },
        s if s.is_client_error() => {
            Error::Validation(s.canonical_reason().unwrap_or("Bad request").into()).into()
        }
        _ => Error::Internal(format!("{status} from the HTTP stack")).into(),
    };
    let (mut parts, _) = response.into_parts();
    let (fresh, body) = error.into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // What the error carries for `log_errors`.
    parts.extensions.extend(fresh.extensions);
    Response::from_parts(parts, body)
}
