//! The worker's role (`ProcessingStore`) on PostgreSQL.

use async_trait::async_trait;
use pgvector::Vector;
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{PgStore, db_error, rows::document_from_row};
use crate::{
    Error,
    domain::{chunking::Chunk, documents::Document, failure::Failure},
    ports::ProcessingStore,
};

#[async_trait]
impl ProcessingStore for PgStore {
    async fn document_file(&self, id: Uuid) -> Result<Option<Vec<u8>>, Error> {
        sqlx::query_scalar("SELECT bytes FROM document_files WHERE document_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }

    async fn begin_processing(&self, id: Uuid) -> Result<Option<Document>, Error> {
        sqlx::query(concat!(
            "UPDATE documents SET status = 'PROCESSING', processing_started_at = now(), updated_at = now() ",
            "WHERE id = $1 AND status IN ('PENDING', 'PROCESSING') RETURNING ",
            document_columns!()
        ))
        .bind(id)
        .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Lock the row: a concurrent delete waits for us, or we see it gone.
        let present: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM documents WHERE id = $1 FOR UPDATE")
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
        // 11 parameters a row: batches stay far below PostgreSQL's 65,535 bind limit.
        for batch in chunks.chunks(1000) {
            let mut insert = QueryBuilder::new(
                "INSERT INTO chunks (id, document_id, chunk_index, content, embedding, page, heading, breadcrumbs, \
                 char_start, char_end, token_count) ",
            );
            insert.push_values(batch, |mut row, (chunk, vector)| {
                row.push_bind(Uuid::new_v4())
                    .push_bind(id)
                    .push_bind(chunk.index as i32)
                    .push_bind(chunk.content.clone())
                    .push_bind(Vector::from(vector.clone()))
                    .push_bind(chunk.page.map(|p| p as i32))
                    .push_bind(chunk.heading.clone())
                    .push_bind(chunk.breadcrumbs.clone())
                    .push_bind(chunk.char_start as i32)
                    .push_bind(chunk.char_end as i32)
                    .push_bind(chunk.token_count as i32);
            });
            insert.build().execute(&mut *tx).await.map_err(db_error)?;
        }
        sqlx::query(
            "UPDATE documents SET status = 'COMPLETED', chunk_count = $2, processed_content = $3, fail_reason = NULL, \
             fail_message = NULL, processing_started_at = NULL, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(chunks.len() as i32)
        .bind(markdown)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn fail_processing(&self, id: Uuid, failure: &Failure, last: bool) -> Result<(), Error> {
        sqlx::query(
            "UPDATE documents SET status = CASE WHEN $4 THEN 'FAILED' ELSE 'PENDING' END, fail_reason = $2, \
             fail_message = $3, retry_count = retry_count + CASE WHEN $4 THEN 0 ELSE 1 END, \
             processing_started_at = NULL, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(failure.code.as_str())
        .bind(&failure.message)
        .bind(last)
        .execute(&self.pool)
        .await
        .map(drop)
        .map_err(db_error)
    }
}
