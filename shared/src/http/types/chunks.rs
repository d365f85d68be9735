//! The chunk explorer's query string and answers (`GET /api/chunks`, `/api/chunks/{id}`), in the
//! original service's fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::{
    analytics::{ChunkPage, ExploredChunk, RawChunkQuery},
    chunk_quality::{completeness, has_title},
};

/// `GET /api/chunks` query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ChunkListParams {
    /// From 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    /// Page size (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Only this document's chunks.
    #[param(value_type = Option<Uuid>)]
    document_id: Option<String>,
    /// `excellent` (score ≥ 0.85), `good` (0.70 to 0.85) or `low` (< 0.70).
    #[param(value_type = Option<String>, pattern = "^(excellent|good|low)$")]
    quality: Option<String>,
    /// The document's kind: `document`, `presentation` (PPTX) or `tabular` (XLSX, CSV).
    #[param(rename = "type", value_type = Option<String>, pattern = "^(document|presentation|tabular)$")]
    #[serde(rename = "type")]
    chunk_type: Option<String>,
    /// Chunks with any of these flags, comma-separated: `TOO_SHORT`, `TOO_LONG`, `NO_CONTEXT`,
    /// `FRAGMENT`, `EMPTY`.
    #[param(value_type = Option<String>, pattern = "^((TOO_SHORT|TOO_LONG|NO_CONTEXT|FRAGMENT|EMPTY)(, ?(TOO_SHORT|TOO_LONG|NO_CONTEXT|FRAGMENT|EMPTY))*)?$")]
    flags: Option<String>,
    /// A case-insensitive part of the text.
    #[param(max_length = 100)]
    search: Option<String>,
    /// `index` (default: by document, then place), `tokenCount` or `qualityScore`.
    #[param(value_type = Option<String>, pattern = "^(index|tokenCount|qualityScore)$")]
    sort_by: Option<String>,
    /// `asc` or `desc` (default: `asc` by index, `desc` otherwise).
    #[param(value_type = Option<String>, pattern = "^(asc|desc)$")]
    sort_order: Option<String>,
}

impl From<ChunkListParams> for RawChunkQuery {
    fn from(p: ChunkListParams) -> Self {
        Self {
            page: p.page,
            limit: p.limit,
            document_id: p.document_id,
            quality: p.quality,
            chunk_type: p.chunk_type,
            flags: p.flags,
            search: p.search,
            sort_by: p.sort_by,
            sort_order: p.sort_order,
        }
    }
}

/// Where a page sits among all the matches.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaginationBody {
    page: u32,
    limit: u32,
    total: i64,
    total_pages: i64,
}

impl PaginationBody {
    pub fn new(page: u32, limit: u32, total: i64) -> Self {
        let limit_rows = i64::from(limit);
        Self {
            page,
            limit,
            total,
            total_pages: (total + limit_rows - 1) / limit_rows,
        }
    }
}

/// A chunk with its quality, as the explorer lists it. Chunks stored before scores were kept
/// have no `qualityScore` or `completeness`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExploredChunkBody {
    id: Uuid,
    document_id: Uuid,
    filename: String,
    format: &'static str,
    /// `document`, `presentation` or `tabular`.
    format_category: &'static str,
    index: i32,
    content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    quality_score: Option<f64>,
    quality_flags: Vec<&'static str>,
    /// The same as `formatCategory`.
    chunk_type: &'static str,
    /// `complete`, `partial` (ends mid-sentence) or `empty`.
    #[serde(skip_serializing_if = "Option::is_none")]
    completeness: Option<&'static str>,
    /// Whether it opens with a heading.
    has_title: bool,
    token_count: i32,
    breadcrumbs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<i32>,
}

impl From<ExploredChunk> for ExploredChunkBody {
    fn from(c: ExploredChunk) -> Self {
        let category = c.format.category();
        Self {
            id: c.id,
            document_id: c.document_id,
            filename: c.filename,
            format: c.format.as_str(),
            format_category: category,
            index: c.index,
            has_title: has_title(&c.content),
            content: c.content,
            quality_score: c.quality.map(|q| q.score),
            quality_flags: c
                .quality
                .map(|q| q.flags.flags().map(|f| f.as_str()).collect())
                .unwrap_or_default(),
            chunk_type: category,
            completeness: c.quality.map(|q| completeness(q.flags)),
            token_count: c.token_count,
            breadcrumbs: c.breadcrumbs,
            page: c.page,
        }
    }
}

/// `GET /api/chunks`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkListBody {
    chunks: Vec<ExploredChunkBody>,
    pagination: PaginationBody,
}

impl ChunkListBody {
    pub fn new(page: ChunkPage, (number, limit): (u32, u32)) -> Self {
        Self {
            chunks: page.chunks.into_iter().map(Into::into).collect(),
            pagination: PaginationBody::new(number, limit, page.total),
        }
    }
}

/// The document a chunk belongs to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ChunkDocumentBody {
    id: Uuid,
    filename: String,
    format: &'static str,
    format_category: &'static str,
}

/// `GET /api/chunks/{id}`: the listed fields, its document, and when it was stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChunkDetailBody {
    #[serde(flatten)]
    chunk: ExploredChunkBody,
    document: ChunkDocumentBody,
    created_at: DateTime<Utc>,
}

impl From<ExploredChunk> for ChunkDetailBody {
    fn from(c: ExploredChunk) -> Self {
        let document = ChunkDocumentBody {
            id: c.document_id,
            filename: c.filename.clone(),
            format: c.format.as_str(),
            format_category: c.format.category(),
        };
        Self {
            created_at: c.stored_at,
            document,
            chunk: c.into(),
        }
    }
}
