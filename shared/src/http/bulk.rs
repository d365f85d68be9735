//! The bulk document routes: one request changes up to 100 documents, and answers 200 with what
//! it changed and why it left the others (missing, or in the wrong state).

use axum::{Json, extract::State};

use super::{
    AppState,
    errors::ApiError,
    extract::ApiJson,
    types::{BulkAvailabilityBody, BulkBody, BulkDeleted, BulkRetried, BulkUpdated},
};
use crate::{
    app::documents::{delete_each, retry_each, set_availability_of_each},
    domain::documents::parse_bulk_ids,
};

pub async fn set_availability(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BulkAvailabilityBody>,
) -> Result<Json<BulkUpdated>, ApiError> {
    let ids = parse_bulk_ids(&body.document_ids)?;
    let outcome = set_availability_of_each(state.documents.as_ref(), &ids, body.is_active).await?;
    Ok(Json(outcome.into()))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<Json<BulkDeleted>, ApiError> {
    let ids = parse_bulk_ids(&body.document_ids)?;
    Ok(Json(
        delete_each(state.documents.as_ref(), &ids).await?.into(),
    ))
}

pub async fn retry(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<Json<BulkRetried>, ApiError> {
    let ids = parse_bulk_ids(&body.document_ids)?;
    let outcome = retry_each(state.documents.as_ref(), state.queue.as_ref(), &ids).await?;
    Ok(Json(outcome.into()))
}
