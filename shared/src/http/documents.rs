//! Document routes.

use axum::{
    Json,
    extract::{
        Multipart, Path, Query, State,
        rejection::{JsonRejection, QueryRejection},
    },
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::AppState;
use crate::{
    Error,
    domain::{
        documents::{
            Document, DocumentPage, DocumentQuery, NewDocument, RawDocumentQuery, parse_document_id,
        },
        filename::validate_filename,
        formats::detect,
    },
    submit::submit,
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

/// `POST /api/documents`: one multipart file part, read as it streams in and refused as soon as
/// it passes the size limit; stored with its bytes, then queued for processing.
pub async fn upload(
    State(state): State<AppState>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, Error> {
    let mut multipart = multipart.map_err(|e| {
        Error::Validation(format!(
            "Expected a multipart/form-data upload: {}",
            e.body_text()
        ))
    })?;
    let limit = state.config.max_file_size_bytes;
    let too_large = || Error::PayloadTooLarge {
        limit_mb: limit >> 20,
    };
    let read_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            Error::Validation(format!("Unreadable upload: {}", e.body_text()))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(read_error)? {
        let Some(raw_name) = field.file_name().map(|name| name.to_string()) else {
            continue;
        };
        let filename = validate_filename(&raw_name)?;
        let mut bytes = Vec::new();
        let mut hasher = Sha256::new();
        while let Some(piece) = field.chunk().await.map_err(read_error)? {
            if (bytes.len() + piece.len()) as u64 > limit {
                return Err(too_large());
            }
            hasher.update(&piece);
            bytes.extend_from_slice(&piece);
        }
        let format = detect(&filename, &bytes[..bytes.len().min(8192)])?;
        let new = NewDocument {
            id: uuid::Uuid::new_v4(),
            filename,
            format,
            content_hash: hasher.finalize().into(),
            bytes,
        };
        let document = submit(state.store.as_ref(), state.queue.as_ref(), new).await?;
        let body = json!({"id": document.id, "filename": document.filename, "status": document.status, "format": document.format});
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }
    Err(Error::NoFile)
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    let id = parse_document_id(&id)?;
    state.store.delete_document(id).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}

pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    let id = parse_document_id(&id)?;
    let document = state.store.retry_document(id).await?;
    state.queue.enqueue(id).await?;
    Ok(Json(json!({"id": document.id, "status": document.status})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Availability {
    is_active: bool,
}

pub async fn set_availability(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Availability>, JsonRejection>,
) -> Result<Json<Value>, Error> {
    let id = parse_document_id(&id)?;
    let Json(body) = body.map_err(|e| {
        Error::Validation(format!(
            "Expected {{\"isActive\": true|false}}: {}",
            e.body_text()
        ))
    })?;
    let document = state.store.set_availability(id, body.is_active).await?;
    Ok(Json(
        json!({"id": document.id, "isActive": document.is_active, "updatedAt": document.updated_at}),
    ))
}

#[derive(Deserialize)]
pub struct ContentQuery {
    format: Option<String>,
}

/// The processed text as Markdown (default), or as JSON with its chunks.
pub async fn content(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<ContentQuery>, QueryRejection>,
) -> Result<Response, Error> {
    let id = parse_document_id(&id)?;
    let Query(query) = query.map_err(|e| Error::Validation(e.body_text()))?;
    let as_json = match query.format.as_deref() {
        None | Some("markdown") => false,
        Some("json") => true,
        Some(_) => return Err(Error::Validation("format must be markdown or json".into())),
    };
    let content = state.store.document_content(id).await?;
    if as_json {
        let d = &content.document;
        let body = json!({
            "id": d.id, "filename": d.filename, "format": d.format,
            "processedContent": content.processed_content, "chunks": content.chunks,
        });
        return Ok(Json(body).into_response());
    }
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        content.processed_content,
    )
        .into_response())
}
