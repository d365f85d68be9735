//! PostgreSQL with pgvector, Redis and the SQS server for the tests: the shared instances, private
//! ones a test may stop, and a database of each test's own.

use std::{net::TcpListener, path::PathBuf, process::Stdio, sync::OnceLock};

use sqlx::{Connection, Executor, PgConnection};

use super::checkout;

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
    /// The server's `KEYWORD_INDEX`: `bm25` unless a test asks for `portable`.
    pub keyword_index: &'static str,
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
            keyword_index: "bm25",
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
