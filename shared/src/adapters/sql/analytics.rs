//! The chunk explorer's and the analytics routes' roles (`ChunkCatalog`, `ProcessingAnalytics`),
//! written once for both SQL stores and compiled by each as its own module (see `documents.rs`
//! beside this file; these also use `push_contains`, `HAS_BREADCRUMBS` and `truncated`).
//!
//! A chunk counts in a period by when its document finished processing: its figures' time, or
//! for documents processed before figures were kept, its last change.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::{
    Db, HAS_BREADCRUMBS, Store, db_error,
    documents::rows_and_total,
    push_contains,
    rows::{document_from_row, metadata_from_row},
    truncated,
};
use crate::{
    Error,
    adapters::sql::format,
    domain::{
        analytics::{
            ChunkOrder, ChunkPage, ChunkQuery, ExploredChunk, MetricTotals, MetricsOrder,
            MetricsPage, MetricsQuery, Overview, ProcessedDocument, QualitySummary, Trend,
        },
        chunk_quality::{ChunkQuality, QualityBand, QualityFlag, QualityFlags},
        formats::Format,
        processing::ProcessingMetrics,
    },
    ports::{ChunkCatalog, ProcessingAnalytics},
};

const PROCESSED_AT: &str = "COALESCE(m.created_at, d.updated_at)";

const CHUNKS_FROM: &str = " FROM chunks c JOIN documents d ON d.id = c.document_id \
     LEFT JOIN processing_metrics m ON m.document_id = c.document_id";

const CHUNK_COLUMNS: &str = "SELECT c.id, c.document_id, d.filename, d.format, c.content, c.page, \
     c.heading, c.breadcrumbs, c.char_start, c.char_end, c.chunk_index, c.token_count, \
     c.quality_score, c.quality_flags";

/// The condition that chunk `c`'s score is in `band`.
fn band_sql(band: QualityBand) -> String {
    match band.bounds() {
        (lo, hi) if hi.is_infinite() => format!("c.quality_score >= {lo}"),
        (lo, hi) if lo.is_infinite() => format!("c.quality_score < {hi}"),
        (lo, hi) => format!("c.quality_score >= {lo} AND c.quality_score < {hi}"),
    }
}

fn push_chunk_filters(sql: &mut QueryBuilder<Db>, query: &ChunkQuery) {
    sql.push(" WHERE 1 = 1");
    if let Some(id) = query.document_id {
        sql.push(" AND c.document_id = ").push_bind(id);
    }
    if let Some(band) = query.band {
        sql.push(format_args!(" AND {}", band_sql(band)));
    }
    if let Some(formats) = &query.formats {
        sql.push(" AND d.format IN (");
        let mut list = sql.separated(", ");
        for f in formats {
            list.push_bind(f.as_str());
        }
        sql.push(")");
    }
    if let Some(flags) = query.any_flags {
        sql.push(" AND (c.quality_flags & ")
            .push_bind(flags.0)
            .push(") <> 0");
    }
    if let Some(needle) = &query.contains {
        push_contains(sql, "c.content", needle);
    }
    if query.none_match {
        sql.push(" AND 1 = 0");
    }
}

fn push_chunk_order(sql: &mut QueryBuilder<Db>, query: &ChunkQuery) {
    let dir = if query.descending { "DESC" } else { "ASC" };
    let order = match query.order {
        ChunkOrder::Index => format!("c.document_id {dir}, c.chunk_index {dir}"),
        ChunkOrder::TokenCount => format!("c.token_count {dir}, c.id {dir}"),
        ChunkOrder::QualityScore => format!("c.quality_score {dir} NULLS LAST, c.id {dir}"),
    };
    sql.push(format_args!(" ORDER BY {order} LIMIT "))
        .push_bind(i64::from(query.limit))
        .push(" OFFSET ")
        .push_bind(query.offset());
}

fn explored_from_row(row: &<Db as sqlx::Database>::Row) -> Result<ExploredChunk, sqlx::Error> {
    let metadata = metadata_from_row(row)?;
    let score: Option<f64> = row.try_get("quality_score")?;
    let flags: Option<i32> = row.try_get("quality_flags")?;
    let format_name: String = row.try_get("format")?;
    Ok(ExploredChunk {
        id: row.try_get("id")?,
        document_id: row.try_get("document_id")?,
        filename: row.try_get("filename")?,
        format: format(&format_name)?,
        index: metadata.chunk_index,
        content: row.try_get("content")?,
        quality: score.map(|score| ChunkQuality {
            score,
            flags: QualityFlags(flags.unwrap_or(0)),
        }),
        token_count: metadata.token_count,
        breadcrumbs: metadata.breadcrumbs,
        page: metadata.page,
        stored_at: row.try_get("stored_at")?,
    })
}

#[async_trait]
impl ChunkCatalog for Store {
    async fn list_chunks(&self, query: &ChunkQuery) -> Result<ChunkPage, Error> {
        let mut page = QueryBuilder::new(CHUNK_COLUMNS);
        page.push(format_args!(", {PROCESSED_AT} AS stored_at{CHUNKS_FROM}"));
        push_chunk_filters(&mut page, query);
        push_chunk_order(&mut page, query);
        let mut total = QueryBuilder::new(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id",
        );
        push_chunk_filters(&mut total, query);
        let mut snapshot = self.snapshot().await.map_err(db_error)?;
        let (rows, total) = rows_and_total(&mut snapshot, page, total).await?;
        let chunks = rows
            .iter()
            .map(explored_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_error)?;
        Ok(ChunkPage { chunks, total })
    }

    async fn chunk(&self, id: Uuid) -> Result<Option<ExploredChunk>, Error> {
        let sql =
            format!("{CHUNK_COLUMNS}, {PROCESSED_AT} AS stored_at{CHUNKS_FROM} WHERE c.id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.reader())
            .await
            .and_then(|row| row.as_ref().map(explored_from_row).transpose())
            .map_err(db_error)
    }
}

/// The averaged and summed figures, in `MetricTotals`' order.
const AVERAGED: [&str; 7] = [
    "m.conversion_time_ms",
    "m.chunking_time_ms",
    "m.embedding_time_ms",
    "m.total_time_ms",
    "m.queue_time_ms",
    "m.queue_time_ms + m.total_time_ms",
    "m.avg_quality_score",
];
const SUMMED: [&str; 3] = ["m.conversion_time_ms", "m.page_count", "m.total_tokens"];

/// `select` over the processing figures since `$1`, of documents in the format `$2` if any.
fn metrics_since(select: &str, format: Option<Format>) -> String {
    let of_format = if format.is_some() {
        " AND d.format = $2"
    } else {
        ""
    };
    format!(
        "{select} FROM processing_metrics m JOIN documents d ON d.id = m.document_id \
         WHERE m.created_at >= $1{of_format}"
    )
}

/// A document's figures, as `processed_from_row` reads them.
const METRIC_COLUMNS: &str = "m.page_count, m.queue_time_ms, m.conversion_time_ms, \
     m.chunking_time_ms, m.embedding_time_ms, m.total_time_ms, m.raw_size_bytes, \
     m.markdown_size_chars, m.total_chunks, m.avg_chunk_size, m.oversized_chunks, \
     m.avg_quality_score, m.total_tokens";

fn average(expr: &str) -> String {
    format!("CAST(COALESCE(avg({expr}), 0) AS DOUBLE PRECISION)")
}

fn total(expr: &str) -> String {
    format!("CAST(COALESCE(sum({expr}), 0) AS BIGINT)")
}

#[async_trait]
impl ProcessingAnalytics for Store {
    async fn overview(&self, since: DateTime<Utc>) -> Result<Overview, Error> {
        let mut snapshot = self.snapshot().await.map_err(db_error)?;
        let (completed, failed): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'COMPLETED'), count(*) FILTER (WHERE status = 'FAILED') \
             FROM documents WHERE created_at >= $1",
        )
        .bind(since)
        .fetch_one(&mut *snapshot)
        .await
        .map_err(db_error)?;
        let by_format: Vec<(String, i64)> = sqlx::query_as(
            "SELECT format, count(*) FROM documents WHERE created_at >= $1 GROUP BY format ORDER BY format",
        )
        .bind(since)
        .fetch_all(&mut *snapshot)
        .await
        .map_err(db_error)?;
        let chunks: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*){CHUNKS_FROM} WHERE {PROCESSED_AT} >= $1"
        )))
        .bind(since)
        .fetch_one(&mut *snapshot)
        .await
        .map_err(db_error)?;
        drop(snapshot);
        let formats = by_format
            .into_iter()
            .map(|(name, n)| Ok((format(&name)?, n)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_error)?;
        Ok(Overview {
            completed,
            failed,
            chunks,
            formats,
            totals: self.metric_totals(since, None).await?,
        })
    }

    async fn metric_totals(
        &self,
        since: DateTime<Utc>,
        format: Option<Format>,
    ) -> Result<MetricTotals, Error> {
        let columns: Vec<String> = AVERAGED
            .iter()
            .map(|e| average(e))
            .chain(SUMMED.iter().map(|e| total(e)))
            .collect();
        let sql = metrics_since(&format!("SELECT count(*), {}", columns.join(", ")), format);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since);
        if let Some(f) = format {
            query = query.bind(f.as_str());
        }
        let row = query.fetch_one(self.reader()).await.map_err(db_error)?;
        let get_f = |i: usize| row.try_get::<f64, _>(i);
        let get_i = |i: usize| row.try_get::<i64, _>(i);
        let totals = || -> Result<MetricTotals, sqlx::Error> {
            Ok(MetricTotals {
                documents: get_i(0)?,
                avg_conversion_ms: get_f(1)?,
                avg_chunking_ms: get_f(2)?,
                avg_embedding_ms: get_f(3)?,
                avg_total_ms: get_f(4)?,
                avg_queue_ms: get_f(5)?,
                avg_user_wait_ms: get_f(6)?,
                avg_quality_score: get_f(7)?,
                conversion_ms: get_i(8)?,
                pages: get_i(9)?,
                tokens: get_i(10)?,
            })
        };
        totals().map_err(db_error)
    }

    async fn trends(
        &self,
        since: DateTime<Utc>,
        format: Option<Format>,
        hourly: bool,
    ) -> Result<Vec<Trend>, Error> {
        let select = format!(
            "SELECT {} AS at, count(*), {}, {}",
            truncated("m.created_at", hourly),
            average("m.total_time_ms"),
            average("m.queue_time_ms")
        );
        let sql = format!("{} GROUP BY 1 ORDER BY 1", metrics_since(&select, format));
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(since);
        if let Some(f) = format {
            query = query.bind(f.as_str());
        }
        let rows: Vec<(DateTime<Utc>, i64, f64, f64)> =
            query.fetch_all(self.reader()).await.map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(at, documents, avg_total_ms, avg_queue_ms)| Trend {
                at,
                documents,
                avg_total_ms,
                avg_queue_ms,
            })
            .collect())
    }

    async fn quality(&self, since: DateTime<Utc>) -> Result<QualitySummary, Error> {
        let count_where = |condition: &str| format!("count(*) FILTER (WHERE {condition})");
        let bands = [QualityBand::Excellent, QualityBand::Good, QualityBand::Low];
        let flagged =
            QualityFlag::ALL.map(|f| count_where(&format!("(c.quality_flags & {}) <> 0", f.bit())));
        let columns: Vec<String> = [
            "count(*)".to_owned(),
            "count(c.quality_score)".to_owned(),
            average("c.quality_score"),
            count_where(HAS_BREADCRUMBS),
            total("c.token_count"),
        ]
        .into_iter()
        .chain(bands.map(|b| count_where(&band_sql(b))))
        .chain(flagged)
        .collect();
        let sql = format!(
            "SELECT {}{CHUNKS_FROM} WHERE {PROCESSED_AT} >= $1",
            columns.join(", ")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .fetch_one(self.reader())
            .await
            .map_err(db_error)?;
        let summary = || -> Result<QualitySummary, sqlx::Error> {
            let n = |i: usize| row.try_get::<i64, _>(i);
            let flags = QualityFlag::ALL
                .into_iter()
                .enumerate()
                .map(|(i, f)| Ok((f, n(8 + i)?)))
                .collect::<Result<_, sqlx::Error>>()?;
            Ok(QualitySummary {
                chunks: n(0)?,
                scored: n(1)?,
                avg_score: row.try_get(2)?,
                with_breadcrumbs: n(3)?,
                tokens: n(4)?,
                excellent: n(5)?,
                good: n(6)?,
                low: n(7)?,
                flags,
            })
        };
        summary().map_err(db_error)
    }

    async fn processed_documents(&self, query: &MetricsQuery) -> Result<MetricsPage, Error> {
        let dir = if query.descending { "DESC" } else { "ASC" };
        let column = match query.order {
            MetricsOrder::TotalTime => "m.total_time_ms",
            MetricsOrder::QualityScore => "m.avg_quality_score",
            MetricsOrder::ProcessedAt => "m.created_at",
        };
        let documents: Vec<String> = document_columns!()
            .split(',')
            .map(|c| format!("d.{}", c.trim()))
            .collect();
        let select = format!(
            "SELECT {}, {METRIC_COLUMNS}, m.created_at AS processed_at",
            documents.join(", ")
        );
        let sql = format!(
            "{} ORDER BY {column} {dir}, d.id {dir} LIMIT $2 OFFSET $3",
            metrics_since(&select, None)
        );
        let mut snapshot = self.snapshot().await.map_err(db_error)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(query.since)
            .bind(i64::from(query.limit))
            .bind(query.offset())
            .fetch_all(&mut *snapshot)
            .await
            .map_err(db_error)?;
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM processing_metrics WHERE created_at >= $1")
                .bind(query.since)
                .fetch_one(&mut *snapshot)
                .await
                .map_err(db_error)?;
        let documents = rows
            .iter()
            .map(processed_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_error)?;
        Ok(MetricsPage { documents, total })
    }
}

fn processed_from_row(row: &<Db as sqlx::Database>::Row) -> Result<ProcessedDocument, sqlx::Error> {
    let get = |name: &str| row.try_get::<i64, _>(name);
    Ok(ProcessedDocument {
        document: document_from_row(row)?,
        metrics: ProcessingMetrics {
            page_count: get("page_count")?,
            queue_ms: get("queue_time_ms")?,
            conversion_ms: get("conversion_time_ms")?,
            chunking_ms: get("chunking_time_ms")?,
            embedding_ms: get("embedding_time_ms")?,
            total_ms: get("total_time_ms")?,
            raw_size_bytes: get("raw_size_bytes")?,
            markdown_chars: get("markdown_size_chars")?,
            total_chunks: get("total_chunks")?,
            avg_chunk_size: row.try_get("avg_chunk_size")?,
            oversized_chunks: get("oversized_chunks")?,
            avg_quality_score: row.try_get("avg_quality_score")?,
            total_tokens: get("total_tokens")?,
        },
        processed_at: row.try_get("processed_at")?,
    })
}
