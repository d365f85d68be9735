//! The document routes' role (`DocumentStore`) on SQLite: the same answers as PostgreSQL's for
//! the same data.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{QueryBuilder, Row, Sqlite, sqlite::SqliteRow};
use uuid::Uuid;

use super::{
    SqliteStore, db_error,
    rows::{chunk_from_row, document_from_row},
};
use crate::adapters::sql::{
    ensure_completed, not_found, not_retried, status_counts, still_processing,
};
use crate::{
    Error,
    domain::documents::{
        Document, DocumentContent, DocumentPage, DocumentQuery, NewDocument, SortField,
    },
    ports::DocumentStore,
};

fn documents_from_rows(rows: &[SqliteRow]) -> Result<Vec<Document>, Error> {
    rows.iter()
        .map(document_from_row)
        .collect::<Result<_, _>>()
        .map_err(db_error)
}

/// Appends the query's filters, shared by the page and its total.
fn push_filters(sql: &mut QueryBuilder<Sqlite>, query: &DocumentQuery) {
    sql.push(" WHERE 1");
    if let Some(status) = query.status {
        sql.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(active) = query.is_active {
        sql.push(" AND is_active = ").push_bind(active);
    }
    if let Some(needle) = &query.filename_contains {
        // instr() takes the needle literally (LIKE would need escaping); lower() folds ASCII.
        sql.push(" AND instr(lower(filename), ")
            .push_bind(needle.to_lowercase())
            .push(") > 0");
    }
}

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn list_documents(&self, query: &DocumentQuery) -> Result<DocumentPage, Error> {
        let mut page =
            QueryBuilder::new(concat!("SELECT ", document_columns!(), " FROM documents"));
        push_filters(&mut page, query);
        let column = match query.sort_by {
            SortField::CreatedAt => "created_at",
            SortField::Filename => "filename",
            SortField::FileSize => "file_size",
        };
        let direction = if query.descending { "DESC" } else { "ASC" };
        // The id breaks ties so pages never overlap or skip rows.
        page.push(format_args!(
            " ORDER BY {column} {direction}, id {direction} LIMIT "
        ))
        .push_bind(i64::from(query.limit))
        .push(" OFFSET ")
        .push_bind(i64::from(query.offset));
        let mut total = QueryBuilder::new("SELECT count(*) FROM documents");
        push_filters(&mut total, query);

        // One read transaction, one snapshot: the counts always agree with the page.
        let mut snapshot = self.reader.begin().await.map_err(db_error)?;
        let rows = page
            .build()
            .fetch_all(&mut *snapshot)
            .await
            .map_err(db_error)?;
        let total = total
            .build_query_scalar::<i64>()
            .fetch_one(&mut *snapshot)
            .await
            .map_err(db_error)?;
        let by_status = sqlx::query_as::<_, (String, i64)>(
            "SELECT status, count(*) FROM documents GROUP BY status",
        )
        .fetch_all(&mut *snapshot)
        .await
        .map_err(db_error)?;
        Ok(DocumentPage {
            documents: documents_from_rows(&rows)?,
            total,
            counts: status_counts(by_status),
        })
    }

    async fn document(&self, id: Uuid) -> Result<Option<Document>, Error> {
        sqlx::query(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .and_then(|row| row.as_ref().map(document_from_row).transpose())
        .map_err(db_error)
    }

    async fn create_document(&self, new: NewDocument) -> Result<Document, Error> {
        let mut tx = self.writer.begin().await.map_err(db_error)?;
        let now = Utc::now();
        let inserted = sqlx::query(concat!(
            "INSERT INTO documents (id, filename, format, file_size, content_hash, created_at, updated_at) ",
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (content_hash) DO NOTHING RETURNING ",
            document_columns!()
        ))
        .bind(new.id)
        .bind(&new.filename)
        .bind(new.format.as_str())
        .bind(new.bytes.len() as i64)
        .bind(&new.content_hash[..])
        .bind(now)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = inserted else {
            let existing: Uuid =
                sqlx::query_scalar("SELECT id FROM documents WHERE content_hash = ?")
                    .bind(&new.content_hash[..])
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
            return Err(Error::Duplicate {
                existing_id: existing,
            });
        };
        sqlx::query("INSERT INTO document_files (document_id, bytes) VALUES (?, ?)")
            .bind(new.id)
            .bind(&new.bytes)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        document_from_row(&row).map_err(db_error)
    }

    async fn delete_document(&self, id: Uuid) -> Result<(), Error> {
        let mut tx = self.writer.begin().await.map_err(db_error)?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM documents WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
        match status.as_deref() {
            None => return Err(not_found()),
            Some("PROCESSING") => return Err(still_processing()),
            Some(_) => {}
        }
        // Chunks first: their trigger keeps the full-text index in step.
        for table in ["chunks", "document_files"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE document_id = ?"
            )))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        sqlx::query("DELETE FROM documents WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        self.vectors
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        Ok(())
    }

    async fn retry_document(&self, id: Uuid) -> Result<Document, Error> {
        let retried = sqlx::query(concat!(
            "UPDATE documents SET status = 'PENDING', retry_count = 0, fail_reason = NULL, fail_message = NULL, ",
            "updated_at = ? WHERE id = ? AND status = 'FAILED' RETURNING ",
            document_columns!()
        ))
        .bind(Utc::now())
        .bind(id)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_error)?;
        match retried {
            Some(row) => document_from_row(&row).map_err(db_error),
            None => Err(not_retried(self.document(id).await?)),
        }
    }

    async fn set_availability(&self, id: Uuid, active: bool) -> Result<Document, Error> {
        sqlx::query(concat!(
            "UPDATE documents SET is_active = ?, updated_at = ? WHERE id = ? RETURNING ",
            document_columns!()
        ))
        .bind(active)
        .bind(Utc::now())
        .bind(id)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_error)?
        .map(|row| document_from_row(&row).map_err(db_error))
        .unwrap_or_else(|| Err(not_found()))
    }

    async fn document_content(&self, id: Uuid) -> Result<DocumentContent, Error> {
        let row = sqlx::query(concat!(
            "SELECT processed_content, ",
            document_columns!(),
            " FROM documents WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?
        .ok_or_else(not_found)?;
        let document = document_from_row(&row).map_err(db_error)?;
        ensure_completed(&document)?;
        let chunks = sqlx::query(
            "SELECT id, chunk_index, content, page, heading, breadcrumbs, char_start, char_end, token_count \
             FROM chunks WHERE document_id = ? ORDER BY chunk_index",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(chunk_from_row)
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
        Ok(DocumentContent {
            processed_content: row
                .try_get::<Option<String>, _>("processed_content")
                .map_err(db_error)?
                .unwrap_or_default(),
            document,
            chunks,
        })
    }
}
