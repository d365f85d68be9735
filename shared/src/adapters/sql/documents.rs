//! The document routes' role (`DocumentStore`), written once for both SQL stores. Each store
//! compiles this file as its own module, so every query is checked against that store's driver
//! and column types. The parent module provides: `Db` (the sqlx database), `Store` (the store
//! type, with `reader()`, `writer()`, `snapshot()` and `forget_vectors()`), `db_error`,
//! `push_contains`, `FOR_UPDATE` (the row lock, where the database has one) and `rows`.
//! Placeholders are `$N`, which both drivers read as the N-th bound value.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::{
    Db, FOR_UPDATE, Store, db_error, push_contains,
    rows::{chunk_from_row, document_from_row},
};
use crate::adapters::sql::{
    ensure_completed, not_found, not_retried, not_toggled, status_counts, still_processing,
};
use crate::{
    Error,
    domain::documents::{
        Document, DocumentContent, DocumentPage, DocumentQuery, NewDocument, SortField,
    },
    ports::DocumentStore,
};

/// Appends the query's filters, shared by the page and its total.
fn push_filters(sql: &mut QueryBuilder<Db>, query: &DocumentQuery) {
    sql.push(" WHERE 1 = 1");
    if let Some(status) = query.status {
        sql.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(active) = query.is_active {
        sql.push(" AND is_active = ").push_bind(active);
    }
    if let Some(needle) = &query.filename_contains {
        push_contains(sql, "filename", needle);
    }
    if query.none_match {
        sql.push(" AND 1 = 0");
    }
}

fn page_query(query: &DocumentQuery) -> QueryBuilder<Db> {
    let mut page = QueryBuilder::new(concat!("SELECT ", document_columns!(), " FROM documents"));
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
    page
}

/// A page's rows and the number of rows its filters match, read on one connection (a snapshot,
/// so that they agree).
pub(super) async fn rows_and_total(
    conn: &mut <Db as sqlx::Database>::Connection,
    mut page: QueryBuilder<Db>,
    mut total: QueryBuilder<Db>,
) -> Result<(Vec<<Db as sqlx::Database>::Row>, i64), Error> {
    let rows = page.build().fetch_all(&mut *conn).await.map_err(db_error)?;
    let total = total
        .build_query_scalar::<i64>()
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok((rows, total))
}

#[async_trait]
impl DocumentStore for Store {
    async fn list_documents(&self, query: &DocumentQuery) -> Result<DocumentPage, Error> {
        let mut total = QueryBuilder::new("SELECT count(*) FROM documents");
        push_filters(&mut total, query);
        // One snapshot: the counts always agree with the page.
        let mut snapshot = self.snapshot().await.map_err(db_error)?;
        let (rows, total) = rows_and_total(&mut snapshot, page_query(query), total).await?;
        let by_status = sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT status, count(*), count(*) FILTER (WHERE is_active) FROM documents GROUP BY status",
        )
        .fetch_all(&mut *snapshot)
        .await
        .map_err(db_error)?;
        let documents = rows
            .iter()
            .map(document_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_error)?;
        Ok(DocumentPage {
            documents,
            total,
            counts: status_counts(by_status),
        })
    }

    async fn document(&self, id: Uuid) -> Result<Option<Document>, Error> {
        sqlx::query(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await
        .and_then(|row| row.as_ref().map(document_from_row).transpose())
        .map_err(db_error)
    }

    async fn create_document(&self, new: NewDocument) -> Result<Document, Error> {
        let mut tx = self.writer().begin().await.map_err(db_error)?;
        let now = Utc::now();
        let inserted = sqlx::query(concat!(
            // Processed with the profile active now, whatever is activated later.
            "INSERT INTO documents (id, filename, format, file_size, content_hash, created_at, updated_at, ",
            "processing_profile_id) VALUES ($1, $2, $3, $4, $5, $6, $6, ",
            "(SELECT id FROM processing_profiles WHERE is_active)) ",
            "ON CONFLICT (content_hash) DO NOTHING RETURNING ",
            document_columns!()
        ))
        .bind(new.id)
        .bind(&new.filename)
        .bind(new.format.as_str())
        .bind(new.bytes.len() as i64)
        .bind(&new.content_hash[..])
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = inserted else {
            let existing: Uuid =
                sqlx::query_scalar("SELECT id FROM documents WHERE content_hash = $1")
                    .bind(&new.content_hash[..])
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
            return Err(Error::Duplicate {
                existing_id: existing,
            });
        };
        sqlx::query("INSERT INTO document_files (document_id, bytes) VALUES ($1, $2)")
            .bind(new.id)
            .bind(&new.bytes)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        document_from_row(&row).map_err(db_error)
    }

    async fn delete_document(&self, id: Uuid) -> Result<(), Error> {
        let mut tx = self.writer().begin().await.map_err(db_error)?;
        // The lock makes a worker's pickup wait for this delete, or this delete see its lease.
        let held: Option<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(status = 'PROCESSING' AND lease_until >= $2, false) FROM documents WHERE id = $1{FOR_UPDATE}"
        )))
        .bind(id)
        .bind(Utc::now())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        match held {
            None => return Err(not_found()),
            Some(true) => return Err(still_processing()),
            Some(false) => {}
        }
        // Chunks first: SQLite's trigger keeps its full-text index in step.
        for table in ["chunks", "document_files"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE document_id = $1"
            )))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        sqlx::query("DELETE FROM documents WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        self.forget_vectors(id);
        Ok(())
    }

    async fn retry_document(&self, id: Uuid) -> Result<Document, Error> {
        let retried = sqlx::query(concat!(
            "UPDATE documents SET status = 'PENDING', retry_count = 0, attempts = 0, fail_reason = NULL, ",
            "fail_message = NULL, processing_token = NULL, lease_until = NULL, processing_started_at = NULL, ",
            "updated_at = $2 WHERE id = $1 AND (status = 'FAILED' OR (status = 'PROCESSING' AND lease_until < $2)) ",
            "RETURNING ",
            document_columns!()
        ))
        .bind(id)
        .bind(Utc::now())
        .fetch_optional(self.writer())
        .await
        .map_err(db_error)?;
        match retried {
            Some(row) => document_from_row(&row).map_err(db_error),
            None => Err(not_retried(self.document(id).await?)),
        }
    }

    async fn set_availability(&self, id: Uuid, active: bool) -> Result<Document, Error> {
        let row = sqlx::query(concat!(
            "UPDATE documents SET is_active = $2, updated_at = $3 WHERE id = $1 AND status = 'COMPLETED' RETURNING ",
            document_columns!()
        ))
        .bind(id)
        .bind(active)
        .bind(Utc::now())
        .fetch_optional(self.writer())
        .await
        .map_err(db_error)?;
        match row {
            Some(row) => document_from_row(&row).map_err(db_error),
            None => Err(not_toggled(self.document(id).await?)),
        }
    }

    async fn document_content(&self, id: Uuid) -> Result<DocumentContent, Error> {
        let row = sqlx::query(concat!(
            "SELECT processed_content, ",
            document_columns!(),
            " FROM documents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await
        .map_err(db_error)?
        .ok_or_else(not_found)?;
        let document = document_from_row(&row).map_err(db_error)?;
        ensure_completed(&document)?;
        let chunks = sqlx::query(
            "SELECT id, chunk_index, content, page, heading, breadcrumbs, char_start, char_end, token_count \
             FROM chunks WHERE document_id = $1 ORDER BY chunk_index",
        )
        .bind(id)
        .fetch_all(self.reader())
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
