//! The core's error: what went wrong in the domain, a use case or an adapter, whatever the
//! runtime. The HTTP layer's own cases, and how each case is reported, are in `http::errors`.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Start-up configuration is unusable; the message names the variable.
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Validation(String),
    #[error("Invalid document id: {0}")]
    InvalidId(String),
    #[error("{0}")]
    NotFound(String),
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
    /// A change the rules forbid (the default profile cannot be archived, …).
    #[error("{0}")]
    NotPermitted(String),
    /// A backend (database, Redis, …) failed; the detail is for the log, not for clients.
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
}
