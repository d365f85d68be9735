//! PostgreSQL with pgvector: the production `Store`.

use std::{str::FromStr, sync::Arc, time::Duration};

mod chunk_search;
mod keyword_index;
mod keyword_portable;
// Compiled once per store, over its own driver (see `sql/documents.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "../sql/analytics.rs"]
mod analytics;
#[allow(clippy::duplicate_mod)]
#[path = "../sql/documents.rs"]
mod documents;
// Compiled once per store, over its own driver (see `sql/events.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "../sql/events.rs"]
mod events;
// Compiled once per store, over its own driver (see `sql/processing.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "../sql/processing.rs"]
mod processing;
// Compiled once per store, over its own driver (see `sql/profiles.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "../sql/profiles.rs"]
mod profiles;
mod rows;

pub use keyword_index::KeywordPath;

use async_trait::async_trait;
use pgvector::Vector;
use sqlx::{
    Executor, PgPool, Postgres, QueryBuilder, Transaction,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use uuid::Uuid;

use crate::{Error, config::KeywordIndex, domain::chunking::Chunk, ports::ReadinessCheck};

type Db = Postgres;
type Store = PgStore;

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// What `KEYWORD_INDEX` asks for, and what was decided from it (`keyword_path`).
    keyword_index: KeywordIndex,
    /// `KEYWORD_CANDIDATES`: the portable ranking's bound on the chunks it scores.
    keyword_candidates: i64,
    keyword_path: Arc<tokio::sync::OnceCell<KeywordPath>>,
}

fn db_error(err: sqlx::Error) -> Error {
    Error::backend("database", err)
}

/// Locks the rows a statement reads until its transaction ends.
const FOR_UPDATE: &str = " FOR UPDATE";

/// ` AND <column> contains <needle>`, ignoring case.
fn push_contains(sql: &mut QueryBuilder<Postgres>, column: &str, needle: &str) {
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    sql.push(format_args!(" AND {column} ILIKE "))
        .push_bind(format!("%{escaped}%"));
}

/// Whether chunk `c` has breadcrumbs.
const HAS_BREADCRUMBS: &str = "cardinality(c.breadcrumbs) > 0";

/// The hour or day of `column`, as a time.
fn truncated(column: &str, hourly: bool) -> String {
    let unit = if hourly { "hour" } else { "day" };
    format!("date_trunc('{unit}', {column})")
}

/// One reconciler at a time across processes: the others skip their pass.
async fn take_reconciler_lock(
    tx: &mut Transaction<'static, Postgres>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('ragbase.reconciler'))")
        .fetch_one(&mut **tx)
        .await
}

fn encode_vector(vector: &[f32]) -> Vector {
    Vector::from(vector.to_vec())
}

fn encode_breadcrumbs(breadcrumbs: &[String]) -> Vec<String> {
    breadcrumbs.to_vec()
}

impl PgStore {
    /// Connects lazily: the server starts (and `/ready` reports) even while the database is down.
    /// `ef_search` is the HNSW candidate list per search: higher finds more true neighbours, slower.
    /// The URL's `sslmode` works as libpq's (`require` encrypts; `verify-full` also checks the
    /// certificate and host name), and `connection_limit` sets the pool size (default 10).
    /// `statement_timeout` cancels a statement (a lock wait included) that runs longer, so a
    /// slow query cannot hold a pooled connection for good.
    pub fn connect(url: &str, ef_search: u32, statement_timeout: Duration) -> Result<Self, Error> {
        let timeout_ms = statement_timeout.as_millis();
        let (options, pool_size) = connect_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            // Fail a request fast while the database is away instead of queueing it for 30 s.
            .acquire_timeout(Duration::from_secs(3))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    // Iterative scans keep walking the index until filtered searches fill their
                    // LIMIT; relaxed order is exact after the query's own final sort. Standard
                    // strings: the BM25 search writes the question as a literal.
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = {ef_search}; \
                         SET statement_timeout = {timeout_ms}; SET standard_conforming_strings = on"
                    )))
                    .await
                    .map(drop)
                })
            })
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            keyword_index: KeywordIndex::Auto,
            keyword_candidates: 5_000,
            keyword_path: Arc::default(),
        })
    }

    /// The keyword ranking to use (`KEYWORD_INDEX`; `Auto` unless set) and the portable
    /// ranking's bound on the chunks it scores (`KEYWORD_CANDIDATES`).
    pub fn with_keywords(mut self, index: KeywordIndex, candidates: u64) -> Self {
        self.keyword_index = index;
        self.keyword_candidates = i64::try_from(candidates).unwrap_or(i64::MAX);
        self
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// A read-only transaction on one snapshot (REPEATABLE READ).
    async fn snapshot(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut snapshot = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *snapshot)
            .await?;
        Ok(snapshot)
    }

    /// Vectors live in the chunks table only: nothing else to keep in step.
    fn index_vectors(&self, _document: Uuid, _ids: &[Uuid], _chunks: &[(Chunk, Vec<f32>)]) {}

    fn forget_vectors(&self, _document: Uuid) {}

    /// Applies the pending migrations, then builds the BM25 index where the server offers it,
    /// on a connection of their own, without the statement timeout (an index build on a large
    /// table may rightly take longer); it is closed after, never handed back to the pool
    /// without its timeout.
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?.detach();
        conn.execute("SET statement_timeout = 0")
            .await
            .map_err(db_error)?;
        MIGRATOR
            .run(&mut conn)
            .await
            .map_err(|e| Error::backend("database", e))?;
        conn.execute(keyword_index::ENSURE_INDEX)
            .await
            .map(drop)
            .map_err(db_error)
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

/// Splits the pool size off the URL. `connection_limit` is the parameter the original's (Prisma's)
/// URLs carry; it is consumed here, as the server would refuse it as an unknown setting.
fn connect_options(url: &str) -> Result<(PgConnectOptions, u32), Error> {
    let invalid = |why: String| Error::Config(format!("DATABASE_URL is invalid: {why}"));
    let mut url = reqwest::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    let mut pool_size = 10;
    let mut rest = Vec::new();
    for (key, value) in url.query_pairs() {
        if key == "connection_limit" {
            pool_size = value.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                invalid(format!("connection_limit={value}: expected an integer ≥ 1"))
            })?;
        } else {
            rest.push((key.into_owned(), value.into_owned()));
        }
    }
    if rest.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(rest);
    }
    let options = PgConnectOptions::from_str(url.as_str()).map_err(|e| invalid(e.to_string()))?;
    Ok((options, pool_size))
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

#[cfg(test)]
mod tests {
    use sqlx::postgres::PgSslMode;

    use super::*;

    #[test]
    fn connection_limit_is_the_pool_size_and_leaves_the_url() {
        let (options, size) = connect_options(
            "postgresql://app:secret@db:5432/ragbase?connection_limit=3&sslmode=require",
        )
        .unwrap();
        assert_eq!(size, 3);
        assert!(matches!(options.get_ssl_mode(), PgSslMode::Require));
        assert_eq!(options.get_database(), Some("ragbase"));
        assert_eq!(options.get_host(), "db");

        let (_, size) = connect_options("postgres://db/ragbase").unwrap();
        assert_eq!(size, 10);
    }

    #[test]
    fn a_bad_connection_limit_names_database_url() {
        for bad in ["0", "ten", "-1"] {
            let url = format!("postgres://db/ragbase?connection_limit={bad}");
            let message = connect_options(&url).unwrap_err().to_string();
            assert!(
                message.contains("DATABASE_URL") && message.contains(bad),
                "{message}"
            );
        }
    }
}
