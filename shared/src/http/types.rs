//! The API's wire format: query strings and bodies as clients send them, and answers as they
//! read them (camelCase names, the original service's fields). Domain types know no JSON; each
//! wire type converts from or into its domain value here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::app::documents::BulkOutcome;
use crate::domain::{
    documents::{
        ChunkMetadata, Document, DocumentContent, DocumentPage, DocumentStatus, RawDocumentQuery,
    },
    events::{DocumentEvent, EventKind},
    query::RawSearchRequest,
    ranking::SearchResult,
};

/// `GET /api/documents` query string.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    status: Option<String>,
    is_active: Option<String>,
    search: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    source_type: Option<String>,
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

/// `POST /api/query` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryBody {
    query: Option<String>,
    top_k: Option<i64>,
    mode: Option<String>,
    alpha: Option<f64>,
    document_ids: Option<Vec<String>>,
    formats: Option<Vec<String>>,
    min_score: Option<f64>,
}

impl From<QueryBody> for RawSearchRequest {
    fn from(b: QueryBody) -> Self {
        Self {
            query: b.query,
            top_k: b.top_k,
            mode: b.mode,
            alpha: b.alpha,
            document_ids: b.document_ids,
            formats: b.formats,
            min_score: b.min_score,
        }
    }
}

/// `PATCH /api/documents/{id}/availability` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvailabilityBody {
    pub is_active: bool,
}

/// `GET /api/documents/{id}/content` query string.
#[derive(Debug, Deserialize)]
pub struct ContentParams {
    pub format: Option<String>,
}

/// A document as every route reports it. Fields without a value are left out, as the original
/// service did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentBody {
    id: Uuid,
    filename: String,
    format: &'static str,
    file_size: i64,
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
#[derive(Debug, Serialize)]
pub struct PageBody {
    documents: Vec<DocumentBody>,
    total: i64,
    counts: CountsBody,
}

#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MetadataBody {
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

#[derive(Debug, Serialize)]
struct ChunkBody {
    id: Uuid,
    index: i32,
    content: String,
    metadata: MetadataBody,
}

/// `GET /api/documents/{id}/content?format=json`.
#[derive(Debug, Serialize)]
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

/// One answer of `POST /api/query`: the passage, its scores and its citation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultBody {
    score: f64,
    chunk_id: Uuid,
    document_id: Uuid,
    filename: String,
    content: String,
    similarity: f32,
    /// Hybrid only: the reciprocal ranks `1/(60+rank)` in each list (0 when absent from it).
    #[serde(skip_serializing_if = "Option::is_none")]
    vector_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyword_score: Option<f64>,
    metadata: MetadataBody,
}

impl From<SearchResult> for ResultBody {
    fn from(r: SearchResult) -> Self {
        let hit = r.chunk;
        Self {
            vector_score: r.ranks.map(|ranks| ranks.vector),
            keyword_score: r.ranks.map(|ranks| ranks.keyword),
            score: r.score,
            chunk_id: hit.chunk_id,
            document_id: hit.document_id,
            filename: hit.filename,
            content: hit.content,
            similarity: hit.similarity,
            metadata: hit.metadata.into(),
        }
    }
}

/// `POST /api/query`.
#[derive(Debug, Serialize)]
pub struct QueryAnswer {
    pub mode: &'static str,
    /// Hybrid only: the weight of the vector ranks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    pub results: Vec<ResultBody>,
}

/// `POST /api/documents` (201).
#[derive(Debug, Serialize)]
pub struct UploadAnswer {
    pub id: Uuid,
    pub filename: String,
    pub status: &'static str,
    pub format: &'static str,
}

/// `DELETE /api/documents/{id}`.
#[derive(Debug, Serialize)]
pub struct DeleteAnswer {
    pub id: Uuid,
    pub deleted: bool,
}

/// `POST /api/documents/{id}/retry`.
#[derive(Debug, Serialize)]
pub struct RetryAnswer {
    pub id: Uuid,
    pub status: &'static str,
}

/// `PATCH /api/documents/{id}/availability`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityAnswer {
    pub id: Uuid,
    pub is_active: bool,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/documents/bulk/delete` and `/bulk/retry` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkBody {
    pub document_ids: Vec<String>,
}

/// `PATCH /api/documents/bulk/availability` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkAvailabilityBody {
    pub document_ids: Vec<String>,
    pub is_active: bool,
}

/// A document a bulk request left as it was, and why.
#[derive(Debug, Serialize)]
pub struct BulkRefusal {
    id: Uuid,
    reason: String,
}

fn refusals(outcome: &mut BulkOutcome) -> Vec<BulkRefusal> {
    let refused = std::mem::take(&mut outcome.refused);
    refused
        .into_iter()
        .map(|(id, reason)| BulkRefusal { id, reason })
        .collect()
}

/// `PATCH /api/documents/bulk/availability`.
#[derive(Debug, Serialize)]
pub struct BulkUpdated {
    updated: usize,
    failed: Vec<BulkRefusal>,
}

/// `POST /api/documents/bulk/delete`.
#[derive(Debug, Serialize)]
pub struct BulkDeleted {
    deleted: usize,
    failed: Vec<BulkRefusal>,
}

/// `POST /api/documents/bulk/retry`.
#[derive(Debug, Serialize)]
pub struct BulkRetried {
    retried: usize,
    failed: Vec<BulkRefusal>,
}

macro_rules! from_outcome {
    ($answer:ident, $count:ident) => {
        impl From<BulkOutcome> for $answer {
            fn from(mut outcome: BulkOutcome) -> Self {
                Self {
                    failed: refusals(&mut outcome),
                    $count: outcome.changed,
                }
            }
        }
    };
}

from_outcome!(BulkUpdated, updated);
from_outcome!(BulkDeleted, deleted);
from_outcome!(BulkRetried, retried);

/// One server-sent event of `GET /api/events`: what changed, about which document, and when.
#[derive(Debug, Serialize)]
pub struct EventBody {
    #[serde(rename = "type")]
    kind: &'static str,
    payload: serde_json::Value,
    timestamp: DateTime<Utc>,
}

impl EventBody {
    /// The event's number (its `id:` line) and body, in the original service's event names.
    pub fn numbered(e: DocumentEvent) -> (i64, Self) {
        let (id, status) = (e.document_id, e.status.as_str());
        let (kind, payload) = match e.kind {
            EventKind::Created => (
                "document:created",
                json!({"id": id, "filename": e.filename, "status": status}),
            ),
            EventKind::Status => {
                let mut payload = json!({"id": id, "status": status});
                match e.status {
                    DocumentStatus::Completed => payload["chunksCount"] = json!(e.chunk_count),
                    DocumentStatus::Failed => payload["error"] = json!(e.fail_reason),
                    _ => {}
                }
                ("document:status", payload)
            }
            EventKind::Availability => (
                "document:availability",
                json!({"id": id, "isActive": e.is_active}),
            ),
            EventKind::Deleted => ("document:deleted", json!({"id": id})),
        };
        let timestamp = e.at;
        (
            e.seq,
            Self {
                kind,
                payload,
                timestamp,
            },
        )
    }
}
