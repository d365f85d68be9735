//! The analytics routes' query strings and answers (`/api/analytics/*`), in the original
//! service's fields. Averages are whole milliseconds; rates are whole percents.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ExploredChunkBody, PaginationBody};
use crate::domain::{
    analytics::{
        ChunkPage, MetricTotals, MetricsPage, Overview, Period, ProcessedDocument, QualitySummary,
        Trend,
    },
    chunk_quality::QualityFlag,
    documents::Document,
};

/// The period every analytics route reports on.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// `24h`, `7d` (default), `30d` or `all`.
    #[param(value_type = Option<String>, pattern = "^(24h|7d|30d|all)$")]
    pub period: Option<String>,
}

/// `GET /api/analytics/processing` query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProcessingParams {
    /// `24h`, `7d` (default), `30d` or `all`.
    #[param(value_type = Option<String>, pattern = "^(24h|7d|30d|all)$")]
    pub period: Option<String>,
    /// Only documents of this format.
    #[param(value_type = Option<String>, pattern = "^(pdf|docx|pptx|xlsx|csv|epub|html|md|markdown|txt|text|json)$")]
    pub format: Option<String>,
}

/// `GET /api/analytics/documents` query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct MetricsParams {
    /// `24h`, `7d` (default), `30d` or `all`.
    #[param(value_type = Option<String>, pattern = "^(24h|7d|30d|all)$")]
    pub period: Option<String>,
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `createdAt` (when processing finished; default), `totalTimeMs` or `avgQualityScore`.
    #[param(value_type = Option<String>, pattern = "^(totalTimeMs|avgQualityScore|createdAt)$")]
    pub sort_by: Option<String>,
    #[param(value_type = Option<String>, pattern = "^(asc|desc)$")]
    pub sort_order: Option<String>,
}

/// `GET /api/analytics/documents/{id}/chunks` query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// The period an answer covers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodBody {
    /// As asked.
    period: &'static str,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
}

impl PeriodBody {
    pub fn new(period: Period, end: DateTime<Utc>) -> Self {
        Self {
            period: period.as_str(),
            period_start: period.start(end),
            period_end: end,
        }
    }
}

fn whole(ms: f64) -> i64 {
    ms.round() as i64
}

fn three_decimals(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `GET /api/analytics/overview`: documents uploaded in the period, and the figures of those
/// processed in it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverviewBody {
    #[serde(flatten)]
    period: PeriodBody,
    /// COMPLETED documents uploaded in the period.
    total_documents: i64,
    total_chunks: i64,
    /// COMPLETED of COMPLETED and FAILED, in percent.
    success_rate: f64,
    /// Documents uploaded in the period, by format.
    format_distribution: BTreeMap<&'static str, i64>,
    avg_processing_time_ms: i64,
    avg_queue_time_ms: i64,
    avg_user_wait_time_ms: i64,
    avg_quality_score: f64,
    total_tokens: i64,
}

impl OverviewBody {
    pub fn new(period: PeriodBody, o: Overview) -> Self {
        Self {
            period,
            total_documents: o.completed,
            total_chunks: o.chunks,
            success_rate: o.success_rate(),
            format_distribution: o.formats.iter().map(|(f, n)| (f.as_str(), *n)).collect(),
            avg_processing_time_ms: whole(o.totals.avg_total_ms),
            avg_queue_time_ms: whole(o.totals.avg_queue_ms),
            avg_user_wait_time_ms: whole(o.totals.avg_user_wait_ms),
            avg_quality_score: three_decimals(o.totals.avg_quality_score),
            total_tokens: o.totals.tokens,
        }
    }
}

/// Average time in each phase.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct BreakdownBody {
    avg_conversion_time_ms: i64,
    avg_chunking_time_ms: i64,
    avg_embedding_time_ms: i64,
    avg_total_time_ms: i64,
    avg_queue_time_ms: i64,
    avg_user_wait_time_ms: i64,
}

/// Documents processed in one hour (period `24h`) or day.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TrendBody {
    date: DateTime<Utc>,
    count: i64,
    avg_total_time_ms: i64,
    avg_queue_time_ms: i64,
}

/// `GET /api/analytics/processing`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingBody {
    #[serde(flatten)]
    period: PeriodBody,
    /// As asked, or `all`.
    format: &'static str,
    documents_processed: i64,
    /// Always 0: no document is read by OCR here.
    ocr_usage_percent: i64,
    avg_conversion_time_per_page: i64,
    breakdown: BreakdownBody,
    trends: Vec<TrendBody>,
}

impl ProcessingBody {
    pub fn new(
        period: PeriodBody,
        format: &'static str,
        t: MetricTotals,
        trends: Vec<Trend>,
    ) -> Self {
        let trends = trends.into_iter().map(|t| TrendBody {
            date: t.at,
            count: t.documents,
            avg_total_time_ms: whole(t.avg_total_ms),
            avg_queue_time_ms: whole(t.avg_queue_ms),
        });
        Self {
            period,
            format,
            documents_processed: t.documents,
            ocr_usage_percent: 0,
            avg_conversion_time_per_page: t.conversion_ms_per_page(),
            breakdown: BreakdownBody {
                avg_conversion_time_ms: whole(t.avg_conversion_ms),
                avg_chunking_time_ms: whole(t.avg_chunking_ms),
                avg_embedding_time_ms: whole(t.avg_embedding_ms),
                avg_total_time_ms: whole(t.avg_total_ms),
                avg_queue_time_ms: whole(t.avg_queue_ms),
                avg_user_wait_time_ms: whole(t.avg_user_wait_ms),
            },
            trends: trends.collect(),
        }
    }
}

/// Scored chunks in each band.
#[derive(Debug, Serialize, ToSchema)]
struct DistributionBody {
    excellent: i64,
    good: i64,
    low: i64,
}

/// `GET /api/analytics/quality`: the chunks of the documents processed in the period.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QualityBody {
    #[serde(flatten)]
    period: PeriodBody,
    /// Chunks with a score.
    total_chunks: i64,
    avg_quality_score: f64,
    distribution: DistributionBody,
    /// Chunks with each flag, for the flags any chunk has.
    flags: BTreeMap<&'static str, i64>,
    fragment_rate: i64,
    no_context_rate: i64,
    too_short_rate: i64,
    /// Chunks with breadcrumbs, in percent.
    context_injection_rate: i64,
    avg_tokens_per_chunk: i64,
}

impl QualityBody {
    pub fn new(period: PeriodBody, q: QualitySummary) -> Self {
        let rate = |flag| q.percent(q.flagged(flag));
        Self {
            period,
            total_chunks: q.scored,
            avg_quality_score: three_decimals(q.avg_score),
            distribution: DistributionBody {
                excellent: q.excellent,
                good: q.good,
                low: q.low,
            },
            flags: q
                .flags
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(f, n)| (f.as_str(), *n))
                .collect(),
            fragment_rate: rate(QualityFlag::Fragment),
            no_context_rate: rate(QualityFlag::NoContext),
            too_short_rate: rate(QualityFlag::TooShort),
            context_injection_rate: q.percent(q.with_breadcrumbs),
            avg_tokens_per_chunk: q.avg_tokens_per_chunk(),
        }
    }
}

/// One document's processing figures.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct MetricsBody {
    page_count: i64,
    /// Always false: no document is read by OCR here.
    ocr_applied: bool,
    queue_time_ms: i64,
    conversion_time_ms: i64,
    chunking_time_ms: i64,
    embedding_time_ms: i64,
    total_time_ms: i64,
    user_wait_time_ms: i64,
    raw_size_bytes: i64,
    markdown_size_chars: i64,
    total_chunks: i64,
    avg_chunk_size: f64,
    oversized_chunks: i64,
    avg_quality_score: f64,
    total_tokens: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ProcessedDocumentBody {
    id: Uuid,
    filename: String,
    format: &'static str,
    file_size: i64,
    format_category: &'static str,
    status: &'static str,
    created_at: DateTime<Utc>,
    metrics: MetricsBody,
}

impl From<ProcessedDocument> for ProcessedDocumentBody {
    fn from(p: ProcessedDocument) -> Self {
        let (d, m) = (p.document, p.metrics);
        Self {
            metrics: MetricsBody {
                page_count: m.page_count,
                ocr_applied: false,
                queue_time_ms: m.queue_ms,
                conversion_time_ms: m.conversion_ms,
                chunking_time_ms: m.chunking_ms,
                embedding_time_ms: m.embedding_ms,
                total_time_ms: m.total_ms,
                user_wait_time_ms: m.user_wait_ms(),
                raw_size_bytes: m.raw_size_bytes,
                markdown_size_chars: m.markdown_chars,
                total_chunks: m.total_chunks,
                avg_chunk_size: (m.avg_chunk_size * 10.0).round() / 10.0,
                oversized_chunks: m.oversized_chunks,
                avg_quality_score: three_decimals(m.avg_quality_score),
                total_tokens: m.total_tokens,
            },
            id: d.id,
            filename: d.filename,
            format: d.format.as_str(),
            file_size: d.file_size,
            format_category: d.format.category(),
            status: d.status.as_str(),
            created_at: d.created_at,
        }
    }
}

/// `GET /api/analytics/documents`: documents processed in the period, with their figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessedPageBody {
    /// As asked.
    period: &'static str,
    documents: Vec<ProcessedDocumentBody>,
    pagination: PaginationBody,
}

impl ProcessedPageBody {
    pub fn new(period: Period, page: MetricsPage, (number, limit): (u32, u32)) -> Self {
        Self {
            period: period.as_str(),
            documents: page.documents.into_iter().map(Into::into).collect(),
            pagination: PaginationBody::new(number, limit, page.total),
        }
    }
}

/// `GET /api/analytics/documents/{id}/chunks`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentChunksBody {
    document_id: Uuid,
    filename: String,
    chunks: Vec<ExploredChunkBody>,
    pagination: PaginationBody,
}

impl DocumentChunksBody {
    pub fn new(document: Document, page: ChunkPage, (number, limit): (u32, u32)) -> Self {
        Self {
            document_id: document.id,
            filename: document.filename,
            chunks: page.chunks.into_iter().map(Into::into).collect(),
            pagination: PaginationBody::new(number, limit, page.total),
        }
    }
}
