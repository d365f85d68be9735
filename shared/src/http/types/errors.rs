//! The body of every error answer.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An error: its code (what clients switch on) and what happened, in words.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"error": "NOT_FOUND", "message": "Document not found"}))]
pub struct ErrorBody {
    /// `VALIDATION_ERROR`, `INVALID_ID`, `INVALID_FORMAT`, `INVALID_FILENAME`, `INVALID_STATUS`,
    /// `NO_FILE`, `UNAUTHORIZED`, `NOT_FOUND`, `METHOD_NOT_ALLOWED`, `REQUEST_TIMEOUT`,
    /// `DUPLICATE_FILE`, `NOT_READY`, `CONFLICT`, `FILE_TOO_LARGE`, `RATE_LIMITED`,
    /// `INTERNAL_ERROR`, `SERVICE_UNAVAILABLE` or `EMBEDDING_SERVICE_ERROR`.
    pub error: &'static str,
    pub message: String,
    /// `RATE_LIMITED` only: the window's length in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// `DUPLICATE_FILE` only: the document that has the same bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<Uuid>,
}
