//! The two backends a contract test runs on: PostgreSQL with Redis, or the embedded store in a
//! folder of the test's own; and `on_each_backend!`, which runs a test on each.

use std::path::PathBuf;

#[allow(unused_imports)] // used by `on_database!`, which not every test binary expands
use sqlx::{Connection, Executor};

use super::TestDb;

/// Runs `$body` with `$conn` connected to the backend's database. One SQL text serves both:
/// SQLite reads `$1` as a parameter too.
macro_rules! on_database {
    ($backend:expr, $conn:ident, $body:expr) => {
        match $backend {
            TestBackend::Postgres(db) => {
                let mut $conn = db.connect().await;
                $body
            }
            TestBackend::Embedded(_) => {
                let mut $conn = $backend.sqlite().await;
                $body
            }
        }
    };
}

/// The backend a contract test's server runs on; `on_each_backend!` runs the test on each.
pub enum TestBackend {
    /// PostgreSQL (a database of the test's own) with the shared Redis.
    Postgres(TestDb),
    /// The embedded store in a folder of the test's own, without Redis.
    Embedded(TempFolder),
}

impl TestBackend {
    /// PostgreSQL ranking keywords by pg_textsearch's index, required (local/services has it).
    pub async fn postgres() -> Self {
        Self::Postgres(TestDb::create().await)
    }

    /// PostgreSQL ranking keywords in SQL, as where the extension cannot be loaded.
    pub async fn postgres_portable() -> Self {
        let mut db = TestDb::create().await;
        db.keyword_index = "portable";
        Self::Postgres(db)
    }

    pub fn embedded() -> Self {
        Self::Embedded(TempFolder::new("data"))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Embedded(_) => "embedded",
        }
    }

    /// The server environment that selects this backend.
    pub fn env(&self) -> Vec<(&str, &str)> {
        match self {
            Self::Postgres(db) => vec![
                ("DATABASE_URL", db.url.as_str()),
                ("KEYWORD_INDEX", db.keyword_index),
            ],
            // An empty REDIS_URL is unset: the embedded queue and rate limits.
            Self::Embedded(folder) => vec![
                ("RAGBASE_DATA_DIR", folder.path.to_str().unwrap()),
                ("REDIS_URL", ""),
            ],
        }
    }

    /// Read from the store itself: (chunk rows, the documents' summed chunk counts, the shortest
    /// vector's dimensions, vectors not of unit length).
    pub async fn chunk_census(&self) -> (i64, i64, i64, i64) {
        match self {
            Self::Postgres(db) => sqlx::query_as(
                "SELECT (SELECT count(*) FROM chunks), (SELECT sum(chunk_count)::bigint FROM documents), \
                 (SELECT min(vector_dims(embedding))::bigint FROM chunks), \
                 (SELECT count(*) FROM chunks WHERE abs(vector_norm(embedding) - 1) > 0.001)",
            )
            .fetch_one(&mut db.connect().await)
            .await
            .unwrap(),
            Self::Embedded(_) => {
                let mut conn = self.sqlite().await;
                let expected: i64 = sqlx::query_scalar("SELECT sum(chunk_count) FROM documents")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                let vectors: Vec<Vec<u8>> = sqlx::query_scalar("SELECT embedding FROM chunks")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                let norm = |bytes: &[u8]| {
                    bytes
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap()).powi(2))
                        .sum::<f32>()
                        .sqrt()
                };
                (
                    vectors.len() as i64,
                    expected,
                    vectors.iter().map(|v| v.len() as i64 / 4).min().unwrap_or(0),
                    vectors.iter().filter(|v| (norm(v) - 1.0).abs() > 0.001).count() as i64,
                )
            }
        }
    }

    /// Sets a document's status behind the server's back, to stage a race.
    /// Sets a document's status as a worker would: PROCESSING comes with a live lease (an
    /// hour long), any other status with none.
    pub async fn set_status(&self, id: uuid::Uuid, status: &str) {
        let lease =
            (status == "PROCESSING").then(|| chrono::Utc::now() + chrono::Duration::hours(1));
        on_database!(self, conn, {
            sqlx::query("UPDATE documents SET status = $1, lease_until = $2 WHERE id = $3")
                .bind(status)
                .bind(lease)
                .bind(id)
                .execute(&mut conn)
                .await
                .map(drop)
        })
        .unwrap();
    }

    /// Stores a document row as another process would have: (filename, format, size),
    /// (status, active), created on `day` (YYYY-MM-DD). No bytes, no chunks.
    pub async fn insert_document(
        &self,
        id: uuid::Uuid,
        (filename, format, size): (&str, &str, i64),
        (status, active): (&str, bool),
        day: &str,
    ) {
        let created =
            sqlx::types::chrono::DateTime::parse_from_rfc3339(&format!("{day}T00:00:00Z"))
                .unwrap()
                .to_utc();
        let hash = [id.as_bytes().as_slice(), id.as_bytes()].concat();
        on_database!(self, conn, {
            sqlx::query(
                "INSERT INTO documents (id, filename, format, file_size, content_hash, status, \
                 is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(id)
            .bind(filename)
            .bind(format)
            .bind(size)
            .bind(&hash)
            .bind(status)
            .bind(active)
            .bind(created)
            .execute(&mut conn)
            .await
            .map(drop)
        })
        .unwrap();
    }

    /// Stores a chunk as a worker would, without a real vector: `(score, flag bits)`.
    pub async fn insert_chunk(
        &self,
        document: uuid::Uuid,
        (index, content, tokens): (i32, &str, i32),
        (score, flags): (f64, i32),
        breadcrumbs: &[&str],
    ) {
        let columns = "INSERT INTO chunks (id, document_id, chunk_index, content, breadcrumbs, char_start, \
             char_end, token_count, quality_score, quality_flags, embedding)";
        let values = "VALUES ($1, $2, $3, $4, $5, 0, 1, $6, $7, $8, ";
        let id = uuid::Uuid::new_v4();
        let crumbs: Vec<String> = breadcrumbs.iter().map(|b| b.to_string()).collect();
        match self {
            Self::Postgres(db) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "{columns} {values} array_fill(0.05, ARRAY[384])::vector)"
            )))
            .bind(id)
            .bind(document)
            .bind(index)
            .bind(content)
            .bind(crumbs)
            .bind(tokens)
            .bind(score)
            .bind(flags)
            .execute(&mut db.connect().await)
            .await
            .map(drop),
            Self::Embedded(_) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "{columns} {values} zeroblob(1536))"
            )))
            .bind(id)
            .bind(document)
            .bind(index)
            .bind(content)
            .bind(serde_json::to_string(&crumbs).unwrap())
            .bind(tokens)
            .bind(score)
            .bind(flags)
            .execute(&mut self.sqlite().await)
            .await
            .map(drop),
        }
        .unwrap();
    }

    /// Stores a processed document's figures, as a worker would: the phases' milliseconds
    /// (queue, conversion, chunking, embedding, total), pages, tokens and average score,
    /// processed at `at`.
    pub async fn insert_metrics(
        &self,
        document: uuid::Uuid,
        phases: [i64; 5],
        (pages, tokens, score): (i64, i64, f64),
        at: chrono::DateTime<chrono::Utc>,
    ) {
        on_database!(self, conn, {
            sqlx::query(
                "INSERT INTO processing_metrics (document_id, queue_time_ms, conversion_time_ms, \
                 chunking_time_ms, embedding_time_ms, total_time_ms, page_count, total_tokens, \
                 avg_quality_score, raw_size_bytes, markdown_size_chars, total_chunks, avg_chunk_size, \
                 oversized_chunks, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, 0, 0, 0, $10)",
            )
            .bind(document)
            .bind(phases[0])
            .bind(phases[1])
            .bind(phases[2])
            .bind(phases[3])
            .bind(phases[4])
            .bind(pages)
            .bind(tokens)
            .bind(score)
            .bind(at)
            .execute(&mut conn)
            .await
            .map(drop)
        })
        .unwrap();
    }

    /// Rows the store holds for a document: (chunks, stored files).
    pub async fn rows_of(&self, id: uuid::Uuid) -> (i64, i64) {
        on_database!(self, conn, {
            sqlx::query_as(
                "SELECT (SELECT count(*) FROM chunks WHERE document_id = $1), \
                 (SELECT count(*) FROM document_files WHERE document_id = $1)",
            )
            .bind(id)
            .fetch_one(&mut conn)
            .await
        })
        .unwrap()
    }

    /// Whether the keyword index agrees with the chunks it indexes: PostgreSQL's BM25 statistics
    /// (kept by triggers) against a recount, or FTS5's own integrity check.
    pub async fn keyword_index_is_consistent(&self) -> bool {
        match self {
            Self::Postgres(db) => {
                let mut conn = db.connect().await;
                let drift: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT word, ndoc FROM ts_stat('SELECT search_vector FROM chunks')) s \
                     FULL JOIN (SELECT * FROM chunk_lexemes WHERE chunks <> 0) l ON l.lexeme = s.word \
                     WHERE s.ndoc IS DISTINCT FROM l.chunks",
                )
                .fetch_one(&mut conn)
                .await
                .unwrap();
                let totals_match: bool = sqlx::query_scalar(
                    "SELECT (t.chunks, t.tokens) = (c.n, c.tokens) FROM chunk_totals t, \
                     (SELECT count(*) AS n, sum(token_count) AS tokens FROM chunks) c",
                )
                .fetch_one(&mut conn)
                .await
                .unwrap();
                drift == 0 && totals_match
            }
            Self::Embedded(_) => sqlx::query(
                "INSERT INTO chunk_text (chunk_text, rank) VALUES ('integrity-check', 1)",
            )
            .execute(&mut self.sqlite().await)
            .await
            .is_ok(),
        }
    }

    /// Stores `n` documents in one statement, as a bulk load would, and reads the change log:
    /// (events kept, the newest event's number).
    pub async fn load_documents_and_read_the_log(&self, n: i64) -> (i64, i64) {
        let columns = "INSERT INTO documents (id, filename, format, file_size, content_hash, created_at, updated_at)";
        let census = "SELECT count(*), max(seq) FROM document_events";
        match self {
            Self::Postgres(db) => {
                let mut conn = db.connect().await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{columns} SELECT gen_random_uuid(), 'bulk.txt', 'txt', 1, sha256(i::text::bytea), now(), now() \
                     FROM generate_series(1, {n}) i"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
                sqlx::query_as(census).fetch_one(&mut conn).await.unwrap()
            }
            Self::Embedded(_) => {
                let mut conn = self.sqlite().await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
                     {columns} SELECT randomblob(16), 'bulk.txt', 'txt', 1, randomblob(32), '2026-01-01T00:00:00Z', \
                     '2026-01-01T00:00:00Z' FROM n"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
                sqlx::query_as(census).fetch_one(&mut conn).await.unwrap()
            }
        }
    }

    /// A connection to the embedded store's database, beside the server's own.
    async fn sqlite(&self) -> sqlx::SqliteConnection {
        let Self::Embedded(folder) = self else {
            panic!("not the embedded backend")
        };
        let url = format!("sqlite://{}", folder.path.join("ragbase.db").display());
        sqlx::SqliteConnection::connect(&url).await.unwrap()
    }
}

/// Declares a contract test once per backend: `on_each_backend!(name);` runs
/// `async fn name(backend: TestBackend)` as the tests `name::postgres` and `name::embedded`.
#[allow(unused_macros)] // some test binaries have no contract tests
macro_rules! on_each_backend {
    ($($test:ident),+ $(,)?) => {$(
        crate::support::on_each_backend!(@with [] $test);
    )+};
    // Searches run on PostgreSQL's portable keyword ranking too.
    (keyword_paths: $($test:ident),+ $(,)?) => {$(
        crate::support::on_each_backend!(@with [postgres_portable] $test);
    )+};
    (@with [$($extra:ident)?] $test:ident) => {
        mod $test {
            #[tokio::test]
            async fn postgres() {
                super::$test(crate::support::TestBackend::postgres().await).await
            }

            $(#[tokio::test]
            async fn $extra() {
                super::$test(crate::support::TestBackend::$extra().await).await
            })?

            #[tokio::test]
            async fn embedded() {
                super::$test(crate::support::TestBackend::embedded()).await
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_each_backend;

/// A folder of one test's own, removed when dropped.
pub struct TempFolder {
    pub path: PathBuf,
}

impl TempFolder {
    pub fn new(what: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("ragbase-{what}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        Self { path }
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
