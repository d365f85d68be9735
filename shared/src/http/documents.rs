//! Document routes.

use axum::{
    Json,
    extract::{Multipart, Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use super::{
    AppState,
    errors::ApiError,
    extract::{ApiJson, ApiQuery},
    types::{
        AvailabilityAnswer, AvailabilityBody, ContentBody, ContentParams, DeleteAnswer,
        DocumentBody, ListParams, PageBody, RetryAnswer, UploadAnswer,
    },
};
use crate::{
    Error,
    app::documents::{retry as retry_document, submit},
    domain::{
        documents::{DocumentQuery, NewDocument, parse_document_id},
        filename::validate_filename,
        formats::detect,
    },
};

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<PageBody>, ApiError> {
    let query = DocumentQuery::parse(params.into())?;
    Ok(Json(state.documents.list_documents(&query).await?.into()))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DocumentBody>, ApiError> {
    let id = parse_document_id(&id)?;
    let document = state.documents.document(id).await?;
    let document = document.ok_or_else(|| Error::NotFound("Document not found".into()))?;
    Ok(Json(document.into()))
}

/// `POST /api/documents`: one multipart file part, read as it streams in and refused as soon as
/// it passes the size limit; stored with its bytes, then queued for processing.
pub async fn upload(
    State(state): State<AppState>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|e| {
        Error::Validation(format!(
            "Expected a multipart/form-data upload: {}",
            e.body_text()
        ))
    })?;
    let limit = state.config.http.max_file_size_bytes;
    let too_large = || ApiError::PayloadTooLarge {
        limit_mb: limit >> 20,
    };
    let read_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            Error::Validation(format!("Unreadable upload: {}", e.body_text())).into()
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
        let document = submit(state.documents.as_ref(), state.queue.as_ref(), new).await?;
        let answer = UploadAnswer {
            id: document.id,
            filename: document.filename,
            status: document.status.as_str(),
            format: document.format.as_str(),
        };
        return Ok((StatusCode::CREATED, Json(answer)).into_response());
    }
    Err(ApiError::NoFile)
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeleteAnswer>, ApiError> {
    let id = parse_document_id(&id)?;
    state.documents.delete_document(id).await?;
    Ok(Json(DeleteAnswer { id, deleted: true }))
}

pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RetryAnswer>, ApiError> {
    let id = parse_document_id(&id)?;
    let document = retry_document(state.documents.as_ref(), state.queue.as_ref(), id).await?;
    let status = document.status.as_str();
    Ok(Json(RetryAnswer { id, status }))
}

pub async fn set_availability(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AvailabilityBody>,
) -> Result<Json<AvailabilityAnswer>, ApiError> {
    let id = parse_document_id(&id)?;
    let document = state.documents.set_availability(id, body.is_active).await?;
    Ok(Json(AvailabilityAnswer {
        id,
        is_active: document.is_active,
        updated_at: document.updated_at,
    }))
}

/// The processed text as Markdown (default), or as JSON with its chunks.
pub async fn content(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ContentParams>,
) -> Result<Response, ApiError> {
    let id = parse_document_id(&id)?;
    let as_json = match params.format.as_deref() {
        None | Some("markdown") => false,
        Some("json") => true,
        Some(_) => {
            return Err(Error::InvalidFormat("format must be markdown or json".into()).into());
        }
    };
    let content = state.documents.document_content(id).await?;
    if as_json {
        return Ok(Json(ContentBody::from(content)).into_response());
    }
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        content.processed_content,
    )
        .into_response())
}
