//! The worker's role (`ProcessingStore`) on SQLite.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{SqliteStore, db_error, encode, rows::document_from_row};
use crate::{
    Error,
    domain::{chunking::Chunk, documents::Document, failure::Failure},
    ports::ProcessingStore,
};

#[async_trait]
impl ProcessingStore for SqliteStore {
    async fn document_file(&self, id: Uuid) -> Result<Option<Vec<u8>>, Error> {
        sqlx::query_scalar("SELECT bytes FROM document_files WHERE document_id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)
    }

    async fn begin_processing(&self, id: Uuid) -> Result<Option<Document>, Error> {
        sqlx::query(concat!(
            "UPDATE documents SET status = 'PROCESSING', updated_at = ? ",
            "WHERE id = ? AND status IN ('PENDING', 'PROCESSING') RETURNING ",
            document_columns!()
        ))
        .bind(Utc::now())
        .bind(id)
        .fetch_optional(&self.writer)
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
        // The single writer connection serialises this with a concurrent delete.
        let mut tx = self.writer.begin().await.map_err(db_error)?;
        let present: Option<Uuid> = sqlx::query_scalar("SELECT id FROM documents WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        if present.is_none() {
            return Ok(false);
        }
        sqlx::query("DELETE FROM chunks WHERE document_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let ids: Vec<Uuid> = chunks.iter().map(|_| Uuid::new_v4()).collect();
        // 11 parameters a row: batches stay below SQLite's 32,766 bind limit.
        for (batch, batch_ids) in chunks.chunks(1000).zip(ids.chunks(1000)) {
            let mut insert = QueryBuilder::new(
                "INSERT INTO chunks (id, document_id, chunk_index, content, embedding, page, heading, breadcrumbs, \
                 char_start, char_end, token_count) ",
            );
            insert.push_values(
                batch.iter().zip(batch_ids),
                |mut row, ((chunk, vector), chunk_id)| {
                    row.push_bind(*chunk_id)
                        .push_bind(id)
                        .push_bind(chunk.index as i64)
                        .push_bind(chunk.content.clone())
                        .push_bind(encode(vector))
                        .push_bind(chunk.page.map(i64::from))
                        .push_bind(chunk.heading.clone())
                        .push_bind(serde_json::to_string(&chunk.breadcrumbs).unwrap_or_default())
                        .push_bind(chunk.char_start as i64)
                        .push_bind(chunk.char_end as i64)
                        .push_bind(chunk.token_count as i64);
                },
            );
            insert.build().execute(&mut *tx).await.map_err(db_error)?;
        }
        sqlx::query(
            "UPDATE documents SET status = 'COMPLETED', chunk_count = ?, processed_content = ?, fail_reason = NULL, \
             fail_message = NULL, updated_at = ? WHERE id = ?",
        )
        .bind(chunks.len() as i64)
        .bind(markdown)
        .bind(Utc::now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // The vectors go in before the commit makes the document searchable; if the commit fails,
        // they sit unused (searches read only COMPLETED documents) until the next attempt replaces them.
        self.vectors
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .replace(
                id,
                ids.into_iter().zip(chunks.iter().map(|(_, v)| v.clone())),
            );
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn fail_processing(&self, id: Uuid, failure: &Failure, last: bool) -> Result<(), Error> {
        sqlx::query(
            "UPDATE documents SET status = CASE WHEN ?1 THEN 'FAILED' ELSE 'PENDING' END, fail_reason = ?2, \
             fail_message = ?3, retry_count = retry_count + CASE WHEN ?1 THEN 0 ELSE 1 END, updated_at = ?4 \
             WHERE id = ?5",
        )
        .bind(last)
        .bind(failure.code.as_str())
        .bind(&failure.message)
        .bind(Utc::now())
        .bind(id)
        .execute(&self.writer)
        .await
        .map(drop)
        .map_err(db_error)
    }
}
