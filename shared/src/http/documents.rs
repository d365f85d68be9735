//! Document routes.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};

use super::AppState;
use crate::{
    Error,
    domain::documents::{
        Document, DocumentPage, DocumentQuery, RawDocumentQuery, parse_document_id,
    },
};

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<RawDocumentQuery>, QueryRejection>,
) -> Result<Json<DocumentPage>, Error> {
    let Query(raw) = query.map_err(|e| Error::Validation(e.body_text()))?;
    let query = DocumentQuery::parse(raw)?;
    Ok(Json(state.store.list_documents(&query).await?))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Document>, Error> {
    let id = parse_document_id(&id)?;
    let document = state.store.document(id).await?;
    document
        .map(Json)
        .ok_or_else(|| Error::NotFound("Document not found".into()))
}
