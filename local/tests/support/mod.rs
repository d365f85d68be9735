//! Real services for the integration tests: PostgreSQL with pgvector and Redis, started through
//! the project's own `local/services`, or the embedded store in a temporary folder; and the real
//! `ragbase` binary on a free port.
#![allow(dead_code)] // each test binary uses its own part of this module

#[path = "../../../shared/tests/common/model.rs"]
mod model;
pub use model::model_dir;
pub mod api;
pub mod lambda;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use sqlx::{Connection, Executor, PgConnection};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

pub fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `local/services start` with extra environment and returns the URLs it printed.
pub fn start_services(env: &[(&str, &str)], names: &[&str]) -> Urls {
    let output = std::process::Command::new(checkout().join("local/services"))
        .arg("start")
        .args(names)
        .envs(env.iter().copied())
        .stderr(Stdio::inherit())
        .output()
        .expect("local/services runs");
    assert!(output.status.success(), "local/services start failed");
    let text = String::from_utf8(output.stdout).unwrap();
    let find = |key: &str| {
        text.lines()
            .map(|l| l.trim_start_matches("export "))
            .find_map(|l| {
                l.strip_prefix(key)
                    .map(|v| v.trim_matches(['\'', '"']).to_owned())
            })
    };
    Urls {
        database_url: find("DATABASE_URL="),
        redis_url: find("REDIS_URL="),
        database_tls_url: find("DATABASE_TLS_URL="),
        sqs_endpoint: find("SQS_ENDPOINT="),
    }
}

pub fn stop_services(env: &[(&str, &str)], names: &[&str]) {
    let status = std::process::Command::new(checkout().join("local/services"))
        .arg("stop")
        .args(names)
        .envs(env.iter().copied())
        .status()
        .unwrap();
    assert!(status.success(), "local/services stop failed");
}

#[derive(Debug, Clone)]
pub struct Urls {
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    /// PgBouncer's TLS endpoint in front of the shared PostgreSQL.
    pub database_tls_url: Option<String>,
    /// The SQS-compatible server.
    pub sqs_endpoint: Option<String>,
}

/// The shared instances: the environment's when set (as the README's test command sets them),
/// otherwise started here, so a bare `cargo test` works too.
pub fn shared() -> (&'static str, &'static str) {
    static URLS: OnceLock<(String, String)> = OnceLock::new();
    let (db, redis) =
        URLS.get_or_init(
            || match (std::env::var("DATABASE_URL"), std::env::var("REDIS_URL")) {
                (Ok(db), Ok(redis)) => (db, redis),
                _ => {
                    let urls = start_services(&[], &[]);
                    (urls.database_url.unwrap(), urls.redis_url.unwrap())
                }
            },
        );
    (db, redis)
}

/// A PostgreSQL or Redis of one test's own, in a temporary folder, so the test may stop or
/// freeze it without disturbing the others. Stopped and removed when dropped.
pub struct PrivateService {
    pub name: &'static str,
    pub dir: PathBuf,
    pub url: String,
    port: String,
}

impl PrivateService {
    pub fn start(name: &'static str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ragbase-{name}-{}", uuid::Uuid::new_v4().simple()));
        let mut service = Self {
            name,
            dir,
            url: String::new(),
            port: free_port().to_string(),
        };
        let urls = service.start_again();
        service.url = urls.database_url.or(urls.redis_url).unwrap();
        service
    }

    pub fn start_again(&self) -> Urls {
        start_services(&self.env(), &[self.name])
    }

    pub fn stop(&self) {
        stop_services(&self.env(), &[self.name]);
    }

    fn env(&self) -> [(&str, &str); 2] {
        let port_var = if self.name == "postgres" {
            "PG_PORT"
        } else {
            "REDIS_PORT"
        };
        [
            ("RAGBASE_SERVICES_DIR", self.dir.to_str().unwrap()),
            (port_var, &self.port),
        ]
    }
}

impl Drop for PrivateService {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A database of its own for one test, dropped afterwards.
pub struct TestDb {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDb {
    pub async fn create() -> Self {
        Self::create_on(shared().0).await
    }

    pub async fn create_on(admin_url: &str) -> Self {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(admin_url)
            .await
            .expect("PostgreSQL reachable");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        Self {
            url: format!("{base}/{name}"),
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async code: use a small runtime of its own. Best effort: the
        // private instance of a test may already be gone.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                        let _ = admin
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .await;
                    }
                })
        })
        .join();
    }
}

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
    pub async fn postgres() -> Self {
        Self::Postgres(TestDb::create().await)
    }

    pub fn embedded() -> Self {
        Self::Embedded(TempFolder::new("data"))
    }

    /// The server environment that selects this backend.
    pub fn env(&self) -> Vec<(&str, &str)> {
        match self {
            Self::Postgres(db) => vec![("DATABASE_URL", db.url.as_str())],
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
    pub async fn set_status(&self, id: uuid::Uuid, status: &str) {
        on_database!(self, conn, {
            sqlx::query("UPDATE documents SET status = $1 WHERE id = $2")
                .bind(status)
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
        mod $test {
            #[tokio::test]
            async fn postgres() {
                super::$test(crate::support::TestBackend::postgres().await).await
            }

            #[tokio::test]
            async fn embedded() {
                super::$test(crate::support::TestBackend::embedded()).await
            }
        }
    )+};
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

/// Runs `ragbase <args>` to completion and returns (success, stdout + stderr).
pub async fn run_ragbase(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(env!("CARGO_BIN_EXE_ragbase"))
            .args(args)
            .env_clear()
            .envs(base_env(env))
            // A process still running at the deadline must not outlive the test.
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("ragbase finished within a minute")
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// Every process gets the shared Redis, the model, and a queue of its own unless the test says
/// otherwise (tests pass the same `QUEUE_NAME` to a server and its workers).
fn base_env(env: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = [
        ("LOG_FORMAT", "json"),
        ("LOG_LEVEL", "info"),
        ("PORT", "0"),
        ("REDIS_URL", shared().1),
        ("EMBEDDING_MODEL_DIR", model_dir()),
        // Every test process is 127.0.0.1 to one shared Redis: rate limits are tested on their own.
        ("RATE_LIMIT_MAX", "1000000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    all.push((
        "QUEUE_NAME".into(),
        format!("test:{}", uuid::Uuid::new_v4().simple()),
    ));
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

/// A running `ragbase serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `ragbase <args>` and waits for its "listening" log line.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let (child, log, logs) = Self::spawn_until_listening(args, env).await;
        let port = log["addr"]
            .as_str()
            .unwrap()
            .rsplit_once(':')
            .unwrap()
            .1
            .to_owned();
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            logs,
        }
    }

    /// Starts `ragbase worker`, which serves its probes and metrics.
    pub async fn start_worker(env: &[(&str, &str)]) -> Self {
        Self::start(&["worker"], env).await
    }

    async fn spawn_until_listening(
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Child, serde_json::Value, Arc<Mutex<Vec<String>>>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ragbase"))
            .args(args)
            .env_clear()
            .envs(base_env(env))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let deadline = Instant::now() + Duration::from_secs(30);
        let ready = loop {
            let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
                .await
                .expect("started within 30 s")
                .unwrap()
                .unwrap_or_else(|| {
                    panic!("exited before it was ready: {:?}", logs.lock().unwrap())
                });
            logs.lock().unwrap().push(line.clone());
            let log: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if is_listening_line(&log) {
                break log;
            }
        };
        let sink = logs.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        (child, ready, logs)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process's `/metrics` text.
    pub async fn scrape(&self) -> String {
        let answer = reqwest::get(self.url("/metrics")).await.unwrap();
        answer.text().await.unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }
}

/// The line a server logs once it listens: `{"level","time","msg":"Server running on port N",…}`.
pub fn is_listening_line(log: &serde_json::Value) -> bool {
    log["msg"]
        .as_str()
        .is_some_and(|m| m.starts_with("Server running on port "))
        && log["addr"].is_string()
}

/// Polls `probe` until it returns true or `limit` passes.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut probe: impl FnMut() -> F,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}
