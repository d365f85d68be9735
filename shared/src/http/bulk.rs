//! The bulk document routes: one request changes up to 100 documents, and answers 200 with what
//! it changed and why it left the others (missing, or in the wrong state).

use axum::{Json, extract::State};

use super::{
    AppState,
    errors::ApiError,
    extract::ApiJson,
    types::{BulkAvailabilityBody, BulkBody, BulkDeleted, BulkRetried, BulkUpdated, ErrorBody},
};
use crate::{
    app::documents::{delete_each, retry_each, set_availability_of_each},
    domain::documents::parse_bulk_ids,
};

/// Enable or disable up to 100 COMPLETED documents.
#[utoipa::path(patch, path = "/api/documents/bulk/availability", operation_id = "bulkSetAvailability",
    tag = "documents", request_body = BulkAvailabilityBody,
    responses(
        (status = 200, description = "What changed, and why the rest did not", body = BulkUpdated),
        (status = 400, description = "`VALIDATION_ERROR`: not 1–100 document ids", body = ErrorBody),
    ))]
pub async fn set_availability(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BulkAvailabilityBody>,
) -> Result<Json<BulkUpdated>, ApiError> {
    let ids = parse_bulk_ids(&body.document_ids)?;
    let outcome = set_availability_of_each(state.documents.as_ref(), &ids, body.is_active).await?;
    Ok(Json(outcome.into()))
}

/// Delete up to 100 documents.
#[utoipa::path(post, path = "/api/documents/bulk/delete", operation_id = "bulkDelete",
    tag = "documents", request_body = BulkBody,
    responses(
        (status = 200, description = "What was deleted, and why the rest was not", body = BulkDeleted),
        (status = 400, description = "`VALIDATION_ERROR`: not 1–100 document ids", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<Json<BulkDeleted>, ApiError> {
    let ids = parse_bulk_ids(&body.document_ids)?;
    Ok(Json(
        delete_each(state.documents.as_ref(), &ids).await?.into(),
    ))
}

/// Process up to 100 FAILED documents again.
#[utoipa::path(post, path = "/api/documents/bulk/retry", operation_id = "bulkRetry",
    tag = "documents", request_body = BulkBody,
    responses(
        (status = 200, description = "What was queued, and why the rest was not", body = BulkRetried),
        (status = 400, description = "`VALIDATION_ERROR`: not 1–100 document ids", body = ErrorBody),
    ))]
pub async fn retry(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<Json<BulkRetried>, ApiError> {
    let ids = parse_bulk_ids(&body.document_ids)?;
    let outcome = retry_each(state.documents.as_ref(), state.queue.as_ref(), &ids).await?;
    Ok(Json(outcome.into()))
}
