//! The worker's and the reconciler's role (`ProcessingStore`), written once for both SQL stores
//! and compiled by each as its own module (see `documents.rs` beside this file for what the
//! parent provides; this role also uses `encode_vector`, `encode_breadcrumbs`,
//! `take_reconciler_lock` and `Store::index_vectors`).
//!
//! An attempt's writes match its `processing_token` and PROCESSING: once another attempt took
//! over (after the lease ran out), or the document was deleted or retried, they change nothing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::{
    Db, FOR_UPDATE, Store, db_error, encode_breadcrumbs, encode_vector, rows::document_from_row,
    take_reconciler_lock,
};
use crate::{
    Error,
    adapters::sql::format,
    domain::{
        chunking::Chunk,
        failure::Failure,
        processing::{Attempt, Pickup, ProcessingMetrics, Reconciled},
        profiles::ProfileSettings,
    },
    ports::ProcessingStore,
};

/// 13 parameters a row: batches stay below both databases' bind limits (SQLite's is 32,766).
const INSERT_BATCH: usize = 1000;
/// The most documents one reconciler pass requeues; the next pass takes the rest.
const RECONCILE_BATCH: i64 = 1000;

fn insert_chunks(document: Uuid, batch: &[(Chunk, Vec<f32>)], ids: &[Uuid]) -> QueryBuilder<Db> {
    let mut insert = QueryBuilder::new(
        "INSERT INTO chunks (id, document_id, chunk_index, content, embedding, page, heading, breadcrumbs, \
         char_start, char_end, token_count, quality_score, quality_flags) ",
    );
    insert.push_values(
        batch.iter().zip(ids),
        |mut row, ((chunk, vector), chunk_id)| {
            row.push_bind(*chunk_id)
                .push_bind(document)
                .push_bind(chunk.index as i32)
                .push_bind(chunk.content.clone())
                .push_bind(encode_vector(vector))
                .push_bind(chunk.page.map(|p| p as i32))
                .push_bind(chunk.heading.clone())
                .push_bind(encode_breadcrumbs(&chunk.breadcrumbs))
                .push_bind(chunk.char_start as i32)
                .push_bind(chunk.char_end as i32)
                .push_bind(chunk.token_count as i32)
                .push_bind(chunk.quality.score)
                .push_bind(chunk.quality.flags.0);
        },
    );
    insert
}

/// Keeps the attempt's figures beside its document, replacing an earlier attempt's.
async fn store_metrics(
    tx: &mut sqlx::Transaction<'static, Db>,
    document: Uuid,
    m: &ProcessingMetrics,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM processing_metrics WHERE document_id = $1")
        .bind(document)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO processing_metrics (document_id, page_count, queue_time_ms, conversion_time_ms, \
         chunking_time_ms, embedding_time_ms, total_time_ms, raw_size_bytes, markdown_size_chars, \
         total_chunks, avg_chunk_size, oversized_chunks, avg_quality_score, total_tokens, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(document)
    .bind(m.page_count)
    .bind(m.queue_ms)
    .bind(m.conversion_ms)
    .bind(m.chunking_ms)
    .bind(m.embedding_ms)
    .bind(m.total_ms)
    .bind(m.raw_size_bytes)
    .bind(m.markdown_chars)
    .bind(m.total_chunks)
    .bind(m.avg_chunk_size)
    .bind(m.oversized_chunks)
    .bind(m.avg_quality_score)
    .bind(m.total_tokens)
    .bind(Utc::now())
    .execute(&mut **tx)
    .await
    .map(drop)
}

impl Store {
    /// Why `begin_processing` started nothing: a live attempt holds the document, or it is
    /// gone or settled.
    async fn unavailable(&self, id: Uuid) -> Result<Pickup, Error> {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM documents WHERE id = $1")
                .bind(id)
                .fetch_optional(self.writer())
                .await
                .map_err(db_error)?;
        Ok(match status.as_deref() {
            Some("PROCESSING" | "PENDING") => Pickup::Held,
            _ => Pickup::Settled,
        })
    }

    /// Replaces the attempt's chunks and marks it COMPLETED inside `tx`; `false` when fenced off.
    async fn store_result(
        &self,
        tx: &mut sqlx::Transaction<'static, Db>,
        attempt: &Attempt,
        markdown: &str,
        chunks: &[(Chunk, Vec<f32>)],
        metrics: &ProcessingMetrics,
    ) -> Result<bool, Error> {
        let id = attempt.document.id;
        // A concurrent delete or takeover waits for this transaction, or this one sees it done.
        let current: Option<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM documents WHERE id = $1 AND status = 'PROCESSING' AND processing_token = $2{FOR_UPDATE}"
        )))
        .bind(id)
        .bind(attempt.token)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
        if current.is_none() {
            return Ok(false);
        }
        sqlx::query("DELETE FROM chunks WHERE document_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
        let ids: Vec<Uuid> = chunks.iter().map(|_| Uuid::new_v4()).collect();
        for (batch, batch_ids) in chunks.chunks(INSERT_BATCH).zip(ids.chunks(INSERT_BATCH)) {
            let mut insert = insert_chunks(id, batch, batch_ids);
            insert.build().execute(&mut **tx).await.map_err(db_error)?;
        }
        store_metrics(tx, id, metrics).await.map_err(db_error)?;
        sqlx::query(
            "UPDATE documents SET status = 'COMPLETED', chunk_count = $2, processed_content = $3, fail_reason = NULL, \
             fail_message = NULL, processing_token = NULL, lease_until = NULL, processing_started_at = NULL, \
             updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(chunks.len() as i32)
        .bind(markdown)
        .bind(Utc::now())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        // Before the commit makes the document searchable; if the commit fails, the vectors sit
        // unused (searches read only COMPLETED documents) until the next attempt replaces them.
        self.index_vectors(id, &ids, chunks);
        Ok(true)
    }
}

#[async_trait]
impl ProcessingStore for Store {
    async fn document_file(&self, id: Uuid) -> Result<Option<Vec<u8>>, Error> {
        sqlx::query_scalar("SELECT bytes FROM document_files WHERE document_id = $1")
            .bind(id)
            .fetch_optional(self.reader())
            .await
            .map_err(db_error)
    }

    async fn processing_settings(&self, id: Uuid) -> Result<ProfileSettings, Error> {
        self.document_settings(id).await
    }

    async fn begin_processing(
        &self,
        id: Uuid,
        lease_until: DateTime<Utc>,
    ) -> Result<Pickup, Error> {
        let token = Uuid::new_v4();
        let started = sqlx::query(concat!(
            "UPDATE documents SET status = 'PROCESSING', attempts = attempts + 1, processing_token = $2, ",
            "lease_until = $3, processing_started_at = $4, updated_at = $4 ",
            "WHERE id = $1 AND (status = 'PENDING' OR (status = 'PROCESSING' AND lease_until < $4)) ",
            "RETURNING attempts, ",
            document_columns!()
        ))
        .bind(id)
        .bind(token)
        .bind(lease_until)
        .bind(Utc::now())
        .fetch_optional(self.writer())
        .await
        .map_err(db_error)?;
        let Some(row) = started else {
            return self.unavailable(id).await;
        };
        let number: i32 = row.try_get("attempts").map_err(db_error)?;
        Ok(Pickup::Started(Attempt {
            document: document_from_row(&row).map_err(db_error)?,
            number: number.max(1) as u32,
            token,
        }))
    }

    async fn renew_processing(
        &self,
        attempt: &Attempt,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, Error> {
        sqlx::query(
            "UPDATE documents SET lease_until = $3 \
             WHERE id = $1 AND status = 'PROCESSING' AND processing_token = $2",
        )
        .bind(attempt.document.id)
        .bind(attempt.token)
        .bind(lease_until)
        .execute(self.writer())
        .await
        .map(|done| done.rows_affected() == 1)
        .map_err(db_error)
    }

    async fn finish_processing(
        &self,
        attempt: &Attempt,
        markdown: &str,
        chunks: &[(Chunk, Vec<f32>)],
        metrics: &ProcessingMetrics,
    ) -> Result<bool, Error> {
        let mut tx = self.writer().begin().await.map_err(db_error)?;
        let stored = self
            .store_result(&mut tx, attempt, markdown, chunks, metrics)
            .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(stored)
    }

    async fn fail_processing(
        &self,
        attempt: &Attempt,
        failure: &Failure,
        last: bool,
    ) -> Result<bool, Error> {
        sqlx::query(
            "UPDATE documents SET status = CASE WHEN $4 THEN 'FAILED' ELSE 'PENDING' END, fail_reason = $2, \
             fail_message = $3, retry_count = retry_count + CASE WHEN $4 THEN 0 ELSE 1 END, \
             processing_token = NULL, lease_until = NULL, processing_started_at = NULL, updated_at = $5 \
             WHERE id = $1 AND status = 'PROCESSING' AND processing_token = $6",
        )
        .bind(attempt.document.id)
        .bind(failure.code.as_str())
        .bind(&failure.message)
        .bind(last)
        .bind(Utc::now())
        .bind(attempt.token)
        .execute(self.writer())
        .await
        .map(|done| done.rows_affected() == 1)
        .map_err(db_error)
    }

    async fn reconcile(
        &self,
        pending_before: DateTime<Utc>,
        max_attempts: u32,
    ) -> Result<Reconciled, Error> {
        let now = Utc::now();
        let mut tx = self.writer().begin().await.map_err(db_error)?;
        if !take_reconciler_lock(&mut tx).await.map_err(db_error)? {
            return Ok(Reconciled::default());
        }
        let crash = Failure::crashed(max_attempts);
        let crashed: Vec<String> = sqlx::query_scalar(
            "UPDATE documents SET status = 'FAILED', fail_reason = $1, fail_message = $2, processing_token = NULL, \
             lease_until = NULL, processing_started_at = NULL, updated_at = $3 \
             WHERE status = 'PROCESSING' AND lease_until < $3 AND attempts >= $4 RETURNING format",
        )
        .bind(crash.code.as_str())
        .bind(&crash.message)
        .bind(now)
        .bind(max_attempts as i32)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let requeued: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE documents SET status = 'PENDING', processing_token = NULL, lease_until = NULL, \
             processing_started_at = NULL, updated_at = $1 WHERE id IN (SELECT id FROM documents \
             WHERE (status = 'PROCESSING' AND lease_until < $1) OR (status = 'PENDING' AND updated_at < $2) \
             LIMIT $3) RETURNING id",
        )
        .bind(now)
        .bind(pending_before)
        .bind(RECONCILE_BATCH)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let crashed = crashed
            .iter()
            .map(|name| format(name))
            .collect::<Result<_, _>>()
            .map_err(db_error)?;
        Ok(Reconciled { requeued, crashed })
    }
}
