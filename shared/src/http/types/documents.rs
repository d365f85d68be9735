//! The document routes' query strings, bodies and answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::documents::{
    ChunkMetadata, Document, DocumentContent, DocumentPage, DocumentStatus, RawDocumentQuery,
};

/// `GET /api/documents` query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only documents in this status.
    #[param(value_type = Option<String>, pattern = "^(PENDING|PROCESSING|COMPLETED|FAILED)$")]
    status: Option<String>,
    /// Only enabled (`true`) or disabled (`false`) documents.
    #[param(value_type = Option<bool>)]
    is_active: Option<String>,
    /// A case-insensitive part of the file name.
    #[param(max_length = 100)]
    search: Option<String>,
    #[param(value_type = Option<String>, pattern = "^(createdAt|filename|fileSize)$")]
    sort_by: Option<String>,
    /// `desc` (default) or `asc`.
    #[param(value_type = Option<String>, pattern = "^(asc|desc)$")]
    sort_order: Option<String>,
    /// Page size (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    #[param(value_type = Option<u32>, minimum = 0, maximum = 4294967295_u64)]
    offset: Option<String>,
    /// `MANUAL` (uploaded: every document here) or `DRIVE` (none here).
    #[param(value_type = Option<String>, pattern = "^(MANUAL|DRIVE)$")]
    source_type: Option<String>,
    /// `STANDALONE` (every document here) or `LINKED` (none here).
    #[param(value_type = Option<String>, pattern = "^(STANDALONE|LINKED)$")]
    connection_state: Option<String>,
}

impl From<ListParams> for RawDocumentQuery {
    fn from(p: ListParams) -> Self {
        Self {
            status: p.status,
            is_active: p.is_active,
            search: p.search,
            sort_by: p.sort_by,
            sort_order: p.sort_order,
            limit: p.limit,
            offset: p.offset,
            source_type: p.source_type,
            connection_state: p.connection_state,
        }
    }
}

/// `PATCH /api/documents/{id}/availability` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"isActive": false}))]
pub struct AvailabilityBody {
    pub is_active: bool,
}

/// `GET /api/documents/{id}/content` query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentParams {
    /// `markdown` (default: the text as `text/markdown`) or `json` (with the chunks).
    #[param(value_type = Option<String>, pattern = "^(markdown|json)$")]
    pub format: Option<String>,
}

/// A document as every route reports it. Fields without a value are left out, as the original
/// service did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "filename": "manual.pdf", "format": "pdf",
    "fileSize": 52114, "status": "COMPLETED", "isActive": true, "retryCount": 0, "chunkCount": 12,
    "hasProcessedContent": true, "sourceType": "MANUAL", "connectionState": "STANDALONE",
    "createdAt": "2026-12-01T17:21:11.123Z", "updatedAt": "2026-12-01T17:21:19.456Z"}))]
pub struct DocumentBody {
    id: Uuid,
    filename: String,
    /// `pdf`, `docx`, `pptx`, `xlsx`, `csv`, `epub`, `html`, `md`, `txt` or `json`.
    format: &'static str,
    file_size: i64,
    /// `PENDING`, `PROCESSING`, `COMPLETED` or `FAILED`.
    status: &'static str,
    is_active: bool,
    retry_count: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    fail_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fail_message: Option<String>,
    /// Only once COMPLETED.
    #[serde(skip_serializing_if = "Option::is_none")]
    chunk_count: Option<i32>,
    /// Whether `/content` has the processed text: once COMPLETED.
    has_processed_content: bool,
    /// Every document here was uploaded: the original's clients also know synced ones.
    source_type: &'static str,
    connection_state: &'static str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Document> for DocumentBody {
    fn from(d: Document) -> Self {
        let completed = d.status == DocumentStatus::Completed;
        Self {
            id: d.id,
            filename: d.filename,
            format: d.format.as_str(),
            file_size: d.file_size,
            status: d.status.as_str(),
            is_active: d.is_active,
            retry_count: d.retry_count,
            fail_reason: d.fail_reason,
            fail_message: d.fail_message,
            chunk_count: completed.then_some(d.chunk_count),
            has_processed_content: completed,
            source_type: "MANUAL",
            connection_state: "STANDALONE",
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// `GET /api/documents`: a page, its total, and the whole collection's counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageBody {
    documents: Vec<DocumentBody>,
    total: i64,
    counts: CountsBody,
}

/// Documents in the whole collection, whatever the filters.
#[derive(Debug, Serialize, ToSchema)]
struct CountsBody {
    total: i64,
    active: i64,
    inactive: i64,
    pending: i64,
    processing: i64,
    completed: i64,
    failed: i64,
}

impl From<DocumentPage> for PageBody {
    fn from(page: DocumentPage) -> Self {
        let c = page.counts;
        let total = c.pending + c.processing + c.completed + c.failed;
        Self {
            documents: page.documents.into_iter().map(Into::into).collect(),
            total: page.total,
            counts: CountsBody {
                total,
                active: c.active,
                inactive: total - c.active,
                pending: c.pending,
                processing: c.processing,
                completed: c.completed,
                failed: c.failed,
            },
        }
    }
}

/// Where a chunk came from: what a citation shows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetadataBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    heading: Option<String>,
    breadcrumbs: Vec<String>,
    char_start: i32,
    char_end: i32,
    chunk_index: i32,
    token_count: i32,
}

impl From<ChunkMetadata> for MetadataBody {
    fn from(m: ChunkMetadata) -> Self {
        Self {
            page: m.page,
            heading: m.heading,
            breadcrumbs: m.breadcrumbs,
            char_start: m.char_start,
            char_end: m.char_end,
            chunk_index: m.chunk_index,
            token_count: m.token_count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct ChunkBody {
    id: Uuid,
    index: i32,
    content: String,
    metadata: MetadataBody,
}

/// `GET /api/documents/{id}/content?format=json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentBody {
    id: Uuid,
    filename: String,
    format: &'static str,
    processed_content: String,
    chunks: Vec<ChunkBody>,
}

impl From<DocumentContent> for ContentBody {
    fn from(c: DocumentContent) -> Self {
        let chunks = c.chunks.into_iter().map(|chunk| ChunkBody {
            id: chunk.id,
            index: chunk.index,
            content: chunk.content,
            metadata: chunk.metadata.into(),
        });
        Self {
            id: c.document.id,
            filename: c.document.filename,
            format: c.document.format.as_str(),
            processed_content: c.processed_content,
            chunks: chunks.collect(),
        }
    }
}

/// `POST /api/documents` (201).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "filename": "manual.pdf", "status": "PENDING", "format": "pdf"}))]
pub struct UploadAnswer {
    pub id: Uuid,
    pub filename: String,
    pub status: &'static str,
    pub format: &'static str,
}

/// `DELETE /api/documents/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteAnswer {
    pub id: Uuid,
    pub deleted: bool,
}

/// `POST /api/documents/{id}/retry`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryAnswer {
    pub id: Uuid,
    pub status: &'static str,
}

/// `PATCH /api/documents/{id}/availability`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityAnswer {
    pub id: Uuid,
    pub is_active: bool,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/documents`: one multipart part with a file name (its content, then its name's
/// extension, decide the format). Described here; the route reads the part as it streams in.
#[derive(ToSchema)]
#[allow(dead_code)] // the document's only: the upload is never deserialised into it
pub struct UploadForm {
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}
