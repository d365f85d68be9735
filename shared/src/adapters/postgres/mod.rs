//! PostgreSQL with pgvector: the production `Store`.

use std::time::Duration;

mod search;
mod store;

use async_trait::async_trait;
use sqlx::{Executor, PgPool, migrate::Migrator, postgres::PgPoolOptions};

use crate::{Error, ports::ReadinessCheck};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

fn db_error(err: sqlx::Error) -> Error {
    Error::backend("database", err)
}

impl PgStore {
    /// Connects lazily: the server starts (and `/ready` reports) even while the database is down.
    /// `ef_search` is the HNSW candidate list per search: higher finds more true neighbours, slower.
    pub fn connect(url: &str, ef_search: u32) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            // Fail a request fast while the database is away instead of queueing it for 30 s.
            .acquire_timeout(Duration::from_secs(3))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    // Iterative scans keep walking the index until filtered searches fill their
                    // LIMIT; relaxed order is exact after the query's own final sort.
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = {ef_search}"
                    )))
                    .await
                    .map(drop)
                })
            })
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
