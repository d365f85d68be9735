//! The worker's role (`ProcessingStore`), written once for both SQL stores and compiled by each
//! as its own module (see `documents.rs` beside this file for what the parent provides; this
//! role also uses `encode_vector`, `encode_breadcrumbs` and `Store::index_vectors`).

use async_trait::async_trait;
use chrono::Utc;
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{
    Db, FOR_UPDATE, Store, db_error, encode_breadcrumbs, encode_vector, rows::document_from_row,
};
use crate::{
    Error,
    domain::{chunking::Chunk, documents::Document, failure::Failure},
    ports::ProcessingStore,
};

/// 11 parameters a row: batches stay below both databases' bind limits (SQLite's is 32,766).
const INSERT_BATCH: usize = 1000;

fn insert_chunks(document: Uuid, batch: &[(Chunk, Vec<f32>)], ids: &[Uuid]) -> QueryBuilder<Db> {
    let mut insert = QueryBuilder::new(
        "INSERT INTO chunks (id, document_id, chunk_index, content, embedding, page, heading, breadcrumbs, \
         char_start, char_end, token_count) ",
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
                .push_bind(chunk.token_count as i32);
        },
    );
    insert
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

    async fn begin_processing(&self, id: Uuid) -> Result<Option<Document>, Error> {
        sqlx::query(concat!(
            "UPDATE documents SET status = 'PROCESSING', processing_started_at = $2, updated_at = $2 ",
            "WHERE id = $1 AND status IN ('PENDING', 'PROCESSING') RETURNING ",
            document_columns!()
        ))
        .bind(id)
        .bind(Utc::now())
        .fetch_optional(self.writer())
        .await
        .and_then(|row| row.as_ref().map(document_from_row).transpose())
        .map_err(db_error)
    }

    async fn finish_processing(
        &self,
        id: Uuid,
        markdown: &str,
        chunks: &[(Chunk, Vec<f32>)],
    ) -> Result<bool, Error> {
        let mut tx = self.writer().begin().await.map_err(db_error)?;
        // A concurrent delete waits for this transaction, or this one sees the row gone.
        let present: Option<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM documents WHERE id = $1{FOR_UPDATE}"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        if present.is_none() {
            return Ok(false);
        }
        sqlx::query("DELETE FROM chunks WHERE document_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let ids: Vec<Uuid> = chunks.iter().map(|_| Uuid::new_v4()).collect();
        for (batch, batch_ids) in chunks.chunks(INSERT_BATCH).zip(ids.chunks(INSERT_BATCH)) {
            let mut insert = insert_chunks(id, batch, batch_ids);
            insert.build().execute(&mut *tx).await.map_err(db_error)?;
        }
        sqlx::query(
            "UPDATE documents SET status = 'COMPLETED', chunk_count = $2, processed_content = $3, fail_reason = NULL, \
             fail_message = NULL, processing_started_at = NULL, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(chunks.len() as i32)
        .bind(markdown)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // Before the commit makes the document searchable; if the commit fails, the vectors sit
        // unused (searches read only COMPLETED documents) until the next attempt replaces them.
        self.index_vectors(id, &ids, chunks);
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn fail_processing(&self, id: Uuid, failure: &Failure, last: bool) -> Result<(), Error> {
        sqlx::query(
            "UPDATE documents SET status = CASE WHEN $4 THEN 'FAILED' ELSE 'PENDING' END, fail_reason = $2, \
             fail_message = $3, retry_count = retry_count + CASE WHEN $4 THEN 0 ELSE 1 END, \
             processing_started_at = NULL, updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(failure.code.as_str())
        .bind(&failure.message)
        .bind(last)
        .bind(Utc::now())
        .execute(self.writer())
        .await
        .map(drop)
        .map_err(db_error)
    }
}
