//! The one error type of RAGBase. `http::errors` maps it to responses in one place.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Start-up configuration is unusable; the message names the variable.
    #[error("{0}")]
    Config(String),
    #[error("Invalid or missing API key")]
    Unauthorized,
    #[error("Too many requests, please try again later")]
    RateLimited {
        /// The configured window, reported in the body as the original service did.
        window: Duration,
        /// Time until this client's window resets (the `Retry-After` header).
        reset_after: Duration,
    },
    #[error("{0}")]
    Validation(String),
    #[error("Invalid document id: {0}")]
    InvalidId(String),
    #[error("{0}")]
    NotFound(String),
    #[error("No file was uploaded: send one multipart part named `file`")]
    NoFile,
    #[error("{0}")]
    InvalidFormat(String),
    #[error("Invalid filename: {0}")]
    InvalidFilename(String),
    #[error("This file was already uploaded")]
    Duplicate { existing_id: uuid::Uuid },
    #[error("{0}")]
    NotReady(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidStatus(String),
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("Request body exceeds the {limit_mb} MB limit")]
    PayloadTooLarge { limit_mb: u64 },
    /// A backend (database, Redis, …) failed; details go to the log, not the client.
    #[error("{backend} unavailable: {detail}")]
    Backend {
        backend: &'static str,
        detail: String,
    },
    /// The embedding model could not embed the query.
    #[error("{0}")]
    Embedding(String),
    #[error("Internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn backend(backend: &'static str, err: impl std::fmt::Display) -> Self {
        Self::Backend {
            backend,
            detail: err.to_string(),
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) | Self::Internal(_) => "INTERNAL_ERROR",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Validation(_) => "VALIDATION_ERROR",
            Self::InvalidId(_) => "INVALID_ID",
            Self::NotFound(_) => "NOT_FOUND",
            Self::NoFile => "NO_FILE",
            Self::InvalidFormat(_) => "INVALID_FORMAT",
            Self::InvalidFilename(_) => "INVALID_FILENAME",
            Self::Duplicate { .. } => "DUPLICATE_FILE",
            Self::NotReady(_) => "NOT_READY",
            Self::Conflict(_) => "CONFLICT",
            Self::InvalidStatus(_) => "INVALID_STATUS",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::PayloadTooLarge { .. } => "FILE_TOO_LARGE",
            Self::Backend { .. } => "SERVICE_UNAVAILABLE",
            Self::Embedding(_) => "EMBEDDING_SERVICE_ERROR",
        }
    }
}
