//! `POST /api/query`: the question as clients send it, and the passages they get.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::documents::MetadataBody;
use crate::domain::{formats::Format, query::RawSearchRequest, ranking::SearchResult};

/// The `formats` filter's schema: a list of the names every format is known by (`null` is no
/// filter, as for every optional field).
fn format_names() -> utoipa::openapi::Array {
    use utoipa::openapi::{Type, schema::SchemaType};
    let names = Format::ALL
        .iter()
        .map(|f| f.as_str())
        .chain(["markdown", "text"]);
    let item = utoipa::openapi::ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names));
    utoipa::openapi::ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(item)
        .min_items(Some(1))
        .build()
}

/// `POST /api/query` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"query": "How do I reset the device?", "topK": 5, "mode": "hybrid", "alpha": 0.7}))]
pub struct QueryBody {
    /// The question: 1–1000 characters after trimming spaces.
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 1000,
        pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]"
    )]
    query: Option<String>,
    /// Results wanted (default 5).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100)]
    top_k: Option<f64>,
    /// `semantic` (default) or `hybrid` (keywords and vectors, fused by reciprocal rank).
    #[schema(pattern = "^(semantic|hybrid)$")]
    mode: Option<String>,
    /// Hybrid: the weight of the vector ranks against the keyword ranks (default 0.7).
    #[schema(minimum = 0.0, maximum = 1.0)]
    alpha: Option<f64>,
    /// Only these documents.
    #[schema(value_type = Option<Vec<Uuid>>, min_items = 1, max_items = 1000)]
    document_ids: Option<Vec<String>>,
    /// Only these formats (`md` or `markdown`, `txt` or `text`, `pdf`, …).
    #[schema(schema_with = format_names)]
    formats: Option<Vec<String>>,
    /// Only results at least this similar to the question (cosine, -1 to 1).
    #[schema(minimum = -1.0, maximum = 1.0)]
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

/// One answer of `POST /api/query`: the passage, its scores and its citation.
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryAnswer {
    /// `semantic` or `hybrid`.
    pub mode: &'static str,
    /// Hybrid only: the weight of the vector ranks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    pub results: Vec<ResultBody>,
}
