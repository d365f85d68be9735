//! PostgreSQL with pgvector: the production `Store`.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{
    PgPool, QueryBuilder, Row,
    migrate::Migrator,
    postgres::{PgPoolOptions, PgRow},
};
use uuid::Uuid;

use crate::{
    Error,
    domain::documents::{
        Document, DocumentPage, DocumentQuery, DocumentStatus, SortField, StatusCounts,
    },
    ports::{ReadinessCheck, Store},
};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The columns `document_from_row` reads, as a literal so queries stay static strings.
macro_rules! document_columns {
    () => {
        "id, filename, format, file_size, status, is_active, retry_count, fail_reason, chunk_count, created_at, \
         updated_at"
    };
}

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

fn db_error(err: sqlx::Error) -> Error {
    Error::backend("database", err)
}

impl PgStore {
    /// Connects lazily: the server starts (and `/ready` reports) even while the database is down.
    pub fn connect(url: &str) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            // Fail a request fast while the database is away instead of queueing it for 30 s.
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy(url)
            .map_err(|e| Error::Config(format!("DATABASE_URL is invalid: {e}")))?;
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> Result<(), Error> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| Error::backend("database", e))
    }

    /// Versions of the bundled migrations that this database has not applied.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, Error> {
        let applied: Vec<i64> =
            match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
            {
                Ok(versions) => versions,
                // 42P01 = undefined_table: nothing was ever migrated here.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => Vec::new(),
                Err(e) => return Err(db_error(e)),
            };
        Ok(MIGRATOR
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect())
    }
}

fn document_from_row(row: &PgRow) -> Result<Document, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Document {
        id: row.try_get("id")?,
        filename: row.try_get("filename")?,
        format: row.try_get("format")?,
        file_size: row.try_get("file_size")?,
        status: DocumentStatus::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown document status {status}").into())
        })?,
        is_active: row.try_get("is_active")?,
        retry_count: row.try_get("retry_count")?,
        fail_reason: row.try_get("fail_reason")?,
        chunk_count: row.try_get("chunk_count")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Appends the query's filters, shared by the page and its total.
fn push_filters(sql: &mut QueryBuilder<sqlx::Postgres>, query: &DocumentQuery) {
    sql.push(" WHERE true");
    if let Some(status) = query.status {
        sql.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(active) = query.is_active {
        sql.push(" AND is_active = ").push_bind(active);
    }
    if let Some(needle) = &query.filename_contains {
        let escaped = needle
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        sql.push(" AND filename ILIKE ")
            .push_bind(format!("%{escaped}%"));
    }
}

#[async_trait]
impl Store for PgStore {
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

        let (rows, total, by_status) = tokio::try_join!(
            page.build().fetch_all(&self.pool),
            total.build_query_scalar::<i64>().fetch_one(&self.pool),
            sqlx::query_as::<_, (String, i64)>(
                "SELECT status, count(*) FROM documents GROUP BY status"
            )
            .fetch_all(&self.pool),
        )
        .map_err(db_error)?;

        let mut counts = StatusCounts::default();
        for (status, n) in by_status {
            if let Some(status) = DocumentStatus::parse(&status) {
                counts.add(status, n);
            }
        }
        let documents = rows
            .iter()
            .map(document_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_error)?;
        Ok(DocumentPage {
            documents,
            total,
            counts,
        })
    }

    async fn document(&self, id: Uuid) -> Result<Option<Document>, Error> {
        sqlx::query(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .and_then(|row| row.as_ref().map(document_from_row).transpose())
        .map_err(db_error)
    }
}

#[async_trait]
impl ReadinessCheck for PgStore {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(db_error)
    }
}
