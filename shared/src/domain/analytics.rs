//! What the original service's chunk explorer and analytics pages ask for: chunks by quality,
//! and the processing figures of a period, with the validated queries that select them.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{
    chunk_quality::{ChunkQuality, QualityBand, QualityFlag, QualityFlags},
    documents::{Document, DocumentQuery},
    formats::Format,
    processing::ProcessingMetrics,
};
use crate::Error;

fn bad(field: &str, expected: &str) -> Error {
    Error::Validation(format!("{field} must be {expected}"))
}

/// The last page a paged analytics route serves: bounds the rows a database skips.
pub const MAX_PAGE: u32 = 1_000_000;

/// `page` (1 to `MAX_PAGE`) and `limit` (1 to 100, 20 by default), as every paged analytics
/// route takes.
pub fn parse_paging(page: Option<&str>, limit: Option<&str>) -> Result<(u32, u32), Error> {
    let page = match page {
        None => 1,
        Some(s) => s
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| bad("page", "an integer from 1 to 1000000"))?,
    };
    Ok((page, DocumentQuery::parse_limit(limit)?))
}

/// The stretch of time the analytics routes report on, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    All,
}

impl Period {
    /// `24h`, `7d` (the default), `30d` or `all`.
    pub fn parse(raw: Option<&str>) -> Result<Self, Error> {
        match raw {
            Some("24h") => Ok(Self::Day),
            None | Some("7d") => Ok(Self::Week),
            Some("30d") => Ok(Self::Month),
            Some("all") => Ok(Self::All),
            Some(_) => Err(bad("period", "24h, 7d, 30d or all")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
            Self::All => "all",
        }
    }

    pub fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Day => now - Duration::hours(24),
            Self::Week => now - Duration::days(7),
            Self::Month => now - Duration::days(30),
            Self::All => DateTime::UNIX_EPOCH,
        }
    }

    /// Trends are by hour over a day, by day otherwise.
    pub fn hourly(self) -> bool {
        self == Self::Day
    }
}

/// The explorer's order: by place in the document, by size, or by score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkOrder {
    Index,
    TokenCount,
    QualityScore,
}

/// `GET /api/chunks` as asked, before validation.
#[derive(Debug, Default)]
pub struct RawChunkQuery {
    pub page: Option<String>,
    pub limit: Option<String>,
    pub document_id: Option<String>,
    pub quality: Option<String>,
    pub chunk_type: Option<String>,
    pub flags: Option<String>,
    pub search: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChunkQuery {
    pub page: u32,
    pub limit: u32,
    pub document_id: Option<Uuid>,
    pub band: Option<QualityBand>,
    /// Chunks of documents in these formats (a category's).
    pub formats: Option<Vec<Format>>,
    /// Chunks with any of these flags.
    pub any_flags: Option<QualityFlags>,
    /// A case-insensitive part of the text.
    pub contains: Option<String>,
    pub order: ChunkOrder,
    pub descending: bool,
    /// A text with a control character: no chunk has one, and PostgreSQL refuses NUL.
    pub none_match: bool,
}

impl ChunkQuery {
    pub fn parse(raw: RawChunkQuery) -> Result<Self, Error> {
        let (page, limit) = parse_paging(raw.page.as_deref(), raw.limit.as_deref())?;
        let document_id = raw
            .document_id
            .map(|s| Uuid::parse_str(&s).map_err(|_| bad("documentId", "a document id")))
            .transpose()?;
        let band = raw
            .quality
            .map(|s| QualityBand::parse(&s).ok_or_else(|| bad("quality", "excellent, good or low")))
            .transpose()?;
        let formats = raw
            .chunk_type
            .map(|s| {
                Format::of_category(&s)
                    .ok_or_else(|| bad("type", "document, presentation or tabular"))
            })
            .transpose()?;
        let any_flags = raw.flags.map(|s| parse_flags(&s)).transpose()?;
        let (order, default_descending) = match raw.sort_by.as_deref() {
            None | Some("index") => (ChunkOrder::Index, false),
            Some("tokenCount") => (ChunkOrder::TokenCount, true),
            Some("qualityScore") => (ChunkOrder::QualityScore, true),
            Some(_) => return Err(bad("sortBy", "index, tokenCount or qualityScore")),
        };
        let descending = match raw.sort_order.as_deref() {
            None => default_descending,
            Some("desc") => true,
            Some("asc") => false,
            Some(_) => return Err(bad("sortOrder", "asc or desc")),
        };
        let contains = DocumentQuery::parse_search(raw.search)?;
        let none_match = contains
            .as_ref()
            .is_some_and(|s| s.contains(char::is_control));
        Ok(Self {
            page,
            limit,
            document_id,
            band,
            formats,
            any_flags,
            contains: contains.filter(|_| !none_match),
            order,
            descending,
            none_match,
        })
    }

    /// A document's chunks in order, as `GET /api/analytics/documents/{id}/chunks` pages them.
    pub fn of_document(id: Uuid, page: u32, limit: u32) -> Self {
        Self {
            page,
            limit,
            document_id: Some(id),
            band: None,
            formats: None,
            any_flags: None,
            contains: None,
            order: ChunkOrder::Index,
            descending: false,
            none_match: false,
        }
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }
}

/// Comma-separated flag names (`TOO_SHORT,FRAGMENT`).
fn parse_flags(raw: &str) -> Result<QualityFlags, Error> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            QualityFlag::parse(s).ok_or_else(|| {
                bad(
                    "flags",
                    "TOO_SHORT, TOO_LONG, NO_CONTEXT, FRAGMENT or EMPTY, comma-separated",
                )
            })
        })
        .collect()
}

/// A chunk as the explorer shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExploredChunk {
    pub id: Uuid,
    pub document_id: Uuid,
    pub filename: String,
    pub format: Format,
    pub index: i32,
    pub content: String,
    /// `None` for chunks stored before scores were kept.
    pub quality: Option<ChunkQuality>,
    pub token_count: i32,
    pub breadcrumbs: Vec<String>,
    pub page: Option<i32>,
    /// When its document finished processing.
    pub stored_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChunkPage {
    pub chunks: Vec<ExploredChunk>,
    /// Chunks matching the filters, ignoring the page.
    pub total: i64,
}

/// The processing figures of the documents processed in a period: averages and sums.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricTotals {
    pub documents: i64,
    pub avg_conversion_ms: f64,
    pub avg_chunking_ms: f64,
    pub avg_embedding_ms: f64,
    pub avg_total_ms: f64,
    pub avg_queue_ms: f64,
    pub avg_user_wait_ms: f64,
    pub avg_quality_score: f64,
    pub conversion_ms: i64,
    pub pages: i64,
    pub tokens: i64,
}

impl MetricTotals {
    /// Conversion time per page, over the documents that have pages.
    pub fn conversion_ms_per_page(&self) -> i64 {
        if self.pages == 0 {
            0
        } else {
            (self.conversion_ms as f64 / self.pages as f64).round() as i64
        }
    }
}

/// `GET /api/analytics/overview`: documents uploaded in the period, and how processing went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overview {
    pub completed: i64,
    pub failed: i64,
    /// Chunks of the documents processed in the period.
    pub chunks: i64,
    pub formats: Vec<(Format, i64)>,
    pub totals: MetricTotals,
}

impl Overview {
    /// COMPLETED of those finished, in percent with two decimals.
    pub fn success_rate(&self) -> f64 {
        let finished = self.completed + self.failed;
        if finished == 0 {
            return 0.0;
        }
        (self.completed as f64 * 10_000.0 / finished as f64).round() / 100.0
    }
}

/// Documents processed in one hour or day of a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub at: DateTime<Utc>,
    pub documents: i64,
    pub avg_total_ms: f64,
    pub avg_queue_ms: f64,
}

/// `GET /api/analytics/quality`: the chunks of the documents processed in a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualitySummary {
    pub chunks: i64,
    /// Chunks with a score (stored since scores were kept).
    pub scored: i64,
    pub avg_score: f64,
    pub excellent: i64,
    pub good: i64,
    pub low: i64,
    /// How many chunks have each flag.
    pub flags: Vec<(QualityFlag, i64)>,
    pub with_breadcrumbs: i64,
    pub tokens: i64,
}

impl QualitySummary {
    /// `n` in whole percent of the chunks.
    pub fn percent(&self, n: i64) -> i64 {
        if self.chunks == 0 {
            0
        } else {
            (n as f64 * 100.0 / self.chunks as f64).round() as i64
        }
    }

    pub fn flagged(&self, flag: QualityFlag) -> i64 {
        self.flags
            .iter()
            .find(|(f, _)| *f == flag)
            .map_or(0, |(_, n)| *n)
    }

    pub fn avg_tokens_per_chunk(&self) -> i64 {
        if self.chunks == 0 {
            0
        } else {
            (self.tokens as f64 / self.chunks as f64).round() as i64
        }
    }
}

/// How `GET /api/analytics/documents` orders its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsOrder {
    TotalTime,
    QualityScore,
    ProcessedAt,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    pub since: DateTime<Utc>,
    pub page: u32,
    pub limit: u32,
    pub order: MetricsOrder,
    pub descending: bool,
}

impl MetricsQuery {
    pub fn parse(
        since: DateTime<Utc>,
        (page, limit): (u32, u32),
        sort_by: Option<&str>,
        sort_order: Option<&str>,
    ) -> Result<Self, Error> {
        let order = match sort_by {
            None | Some("createdAt") => MetricsOrder::ProcessedAt,
            Some("totalTimeMs") => MetricsOrder::TotalTime,
            Some("avgQualityScore") => MetricsOrder::QualityScore,
            Some(_) => return Err(bad("sortBy", "totalTimeMs, avgQualityScore or createdAt")),
        };
        let descending = match sort_order {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(_) => return Err(bad("sortOrder", "asc or desc")),
        };
        Ok(Self {
            since,
            page,
            limit,
            order,
            descending,
        })
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }
}

/// A processed document with its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedDocument {
    pub document: Document,
    pub metrics: ProcessingMetrics,
    pub processed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricsPage {
    pub documents: Vec<ProcessedDocument>,
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_queries_take_the_originals_filters() {
        let q = ChunkQuery::parse(RawChunkQuery {
            quality: Some("good".into()),
            chunk_type: Some("tabular".into()),
            flags: Some("TOO_SHORT, FRAGMENT".into()),
            sort_by: Some("qualityScore".into()),
            search: Some(" Pump ".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((q.page, q.limit, q.offset()), (1, 20, 0));
        assert_eq!(q.band, Some(QualityBand::Good));
        assert_eq!(q.formats, Some(vec![Format::Xlsx, Format::Csv]));
        let flags = q.any_flags.unwrap();
        assert!(flags.contains(QualityFlag::TooShort) && flags.contains(QualityFlag::Fragment));
        assert_eq!((q.order, q.descending), (ChunkOrder::QualityScore, true));
        assert_eq!(q.contains.as_deref(), Some("Pump"));
        let nul = ChunkQuery::parse(RawChunkQuery {
            search: Some("a\0b".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(nul.none_match && nul.contains.is_none());
    }

    #[test]
    fn bad_chunk_query_values_name_their_field() {
        for (field, raw) in [
            (
                "page",
                RawChunkQuery {
                    page: Some("0".into()),
                    ..Default::default()
                },
            ),
            (
                "page",
                RawChunkQuery {
                    page: Some("1000001".into()),
                    ..Default::default()
                },
            ),
            (
                "limit",
                RawChunkQuery {
                    limit: Some("101".into()),
                    ..Default::default()
                },
            ),
            (
                "documentId",
                RawChunkQuery {
                    document_id: Some("7".into()),
                    ..Default::default()
                },
            ),
            (
                "quality",
                RawChunkQuery {
                    quality: Some("great".into()),
                    ..Default::default()
                },
            ),
            (
                "type",
                RawChunkQuery {
                    chunk_type: Some("slides".into()),
                    ..Default::default()
                },
            ),
            (
                "flags",
                RawChunkQuery {
                    flags: Some("TOO_SHORT,SHORT".into()),
                    ..Default::default()
                },
            ),
            (
                "sortBy",
                RawChunkQuery {
                    sort_by: Some("score".into()),
                    ..Default::default()
                },
            ),
        ] {
            match ChunkQuery::parse(raw) {
                Err(Error::Validation(m)) => assert!(m.starts_with(field), "{m}"),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn periods_and_rates_follow_the_original() {
        assert_eq!(Period::parse(None).unwrap(), Period::Week);
        assert!(Period::parse(Some("1y")).is_err());
        let now = Utc::now();
        assert_eq!(now - Period::Day.start(now), Duration::hours(24));
        let overview = Overview {
            completed: 2,
            failed: 1,
            ..Default::default()
        };
        assert_eq!(overview.success_rate(), 66.67);
        let quality = QualitySummary {
            chunks: 8,
            tokens: 810,
            ..Default::default()
        };
        assert_eq!(
            (quality.percent(2), quality.avg_tokens_per_chunk()),
            (25, 101)
        );
        let totals = MetricTotals {
            conversion_ms: 1000,
            pages: 3,
            ..Default::default()
        };
        assert_eq!(totals.conversion_ms_per_page(), 333);
    }
}
