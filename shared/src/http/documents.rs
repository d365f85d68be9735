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
        DocumentBody, ErrorBody, ListParams, PageBody, RetryAnswer, UploadAnswer, UploadForm,
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

/// List documents: a page of them, their total, and the collection's counts.
#[utoipa::path(get, path = "/api/documents", operation_id = "listDocuments", tag = "documents",
    params(ListParams),
    responses(
        (status = 200, description = "A page of documents", body = PageBody),
        (status = 400, description = "`VALIDATION_ERROR`: a parameter out of range", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<PageBody>, ApiError> {
    let query = DocumentQuery::parse(params.into())?;
    Ok(Json(state.documents.list_documents(&query).await?.into()))
}

/// Read one document: its status, and why it failed.
#[utoipa::path(get, path = "/api/documents/{id}", operation_id = "getDocument", tag = "documents",
    params(("id" = Uuid, Path, description = "The document's id")),
    responses(
        (status = 200, description = "The document", body = DocumentBody,
            links(("Content" = (operation_id = "getDocumentContent", parameters(("id" = "$request.path.id")))),
                  ("Delete" = (operation_id = "deleteDocument", parameters(("id" = "$request.path.id")))))),
        (status = 400, description = "`INVALID_ID`", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DocumentBody>, ApiError> {
    let id = parse_document_id(&id)?;
    let document = state.documents.document(id).await?;
    let document = document.ok_or_else(|| Error::NotFound("Document not found".into()))?;
    Ok(Json(document.into()))
}

/// Upload a document: stored, then queued for processing.
#[utoipa::path(post, path = "/api/documents", operation_id = "uploadDocument", tag = "documents",
    request_body(content = inline(UploadForm), content_type = "multipart/form-data",
        description = "One part with a file name (any field name; clients use `file`)"),
    responses(
        (status = 201, description = "Stored as PENDING and queued", body = UploadAnswer,
            links(
                ("Get" = (operation_id = "getDocument", parameters(("id" = "$response.body#/id")))),
                ("Content" = (operation_id = "getDocumentContent", parameters(("id" = "$response.body#/id")))),
                ("Search" = (operation_id = "searchDocuments",
                    request_body = json!({"query": "what does it say", "documentIds": ["$response.body#/id"]}))),
                ("Availability" = (operation_id = "setDocumentAvailability",
                    parameters(("id" = "$response.body#/id")), request_body = json!({"isActive": false}))),
                ("Retry" = (operation_id = "retryDocument", parameters(("id" = "$response.body#/id")))),
                ("Delete" = (operation_id = "deleteDocument", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, description = "`NO_FILE`, `INVALID_FORMAT`, `INVALID_FILENAME` or `VALIDATION_ERROR` (not multipart)", body = ErrorBody),
        (status = 409, description = "`DUPLICATE_FILE`: the same bytes are stored as `existingId`", body = ErrorBody),
        (status = 413, description = "`FILE_TOO_LARGE`: over `MAX_FILE_SIZE_MB`", body = ErrorBody),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: too many uploads in progress, or a backend is down", body = ErrorBody),
    ))]
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

/// Delete a document with its chunks and stored bytes.
#[utoipa::path(delete, path = "/api/documents/{id}", operation_id = "deleteDocument", tag = "documents",
    params(("id" = Uuid, Path, description = "The document's id")),
    responses(
        (status = 200, description = "Deleted", body = DeleteAnswer,
            links(("Gone" = (operation_id = "getDocument", parameters(("id" = "$request.path.id")))))),
        (status = 400, description = "`INVALID_ID`", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: a worker is processing it", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeleteAnswer>, ApiError> {
    let id = parse_document_id(&id)?;
    state.documents.delete_document(id).await?;
    Ok(Json(DeleteAnswer { id, deleted: true }))
}

/// Process a FAILED document again (or one whose worker died).
#[utoipa::path(post, path = "/api/documents/{id}/retry", operation_id = "retryDocument", tag = "documents",
    params(("id" = Uuid, Path, description = "The document's id")),
    responses(
        (status = 200, description = "PENDING and queued", body = RetryAnswer),
        (status = 400, description = "`INVALID_ID`, or `INVALID_STATUS`: not FAILED", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RetryAnswer>, ApiError> {
    let id = parse_document_id(&id)?;
    let document = retry_document(state.documents.as_ref(), state.queue.as_ref(), id).await?;
    let status = document.status.as_str();
    Ok(Json(RetryAnswer { id, status }))
}

/// Enable or disable a COMPLETED document in search.
#[utoipa::path(patch, path = "/api/documents/{id}/availability", operation_id = "setDocumentAvailability",
    tag = "documents", params(("id" = Uuid, Path, description = "The document's id")),
    request_body = AvailabilityBody,
    responses(
        (status = 200, description = "Changed", body = AvailabilityAnswer),
        (status = 400, description = "`INVALID_ID`, `VALIDATION_ERROR`, or `INVALID_STATUS`: not COMPLETED", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
    ))]
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
#[utoipa::path(get, path = "/api/documents/{id}/content", operation_id = "getDocumentContent", tag = "documents",
    params(("id" = Uuid, Path, description = "The document's id"), ContentParams),
    responses(
        (status = 200, description = "The text, or with `format=json` its chunks too",
            content((ContentBody = "application/json"), (String = "text/markdown"))),
        (status = 400, description = "`INVALID_ID`, or `INVALID_FORMAT`: not markdown or json", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`NOT_READY`: not COMPLETED", body = ErrorBody),
    ))]
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
