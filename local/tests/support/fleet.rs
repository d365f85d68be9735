//! The processes of one delivery path for the fault-injection suite (`local/tests/faults.rs`):
//! an API server and its workers (on the embedded path, one process is both), restarted after
//! every kill; and the store's own view of the documents, for the invariants.

use std::{collections::HashMap, time::Duration};

use serde_json::Value;
use sqlx::{Connection, PgConnection, SqliteConnection};
use uuid::Uuid;

use super::{Server, api::KEY, free_port};

/// The paths a job can take from an upload to its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// PostgreSQL with Redis Streams, two `ragbase worker` processes.
    Redis,
    /// The embedded store and queue, in one `ragbase serve`.
    Embedded,
    /// PostgreSQL with SQS (the local server), two `ragbase worker` processes.
    Sqs,
}

/// Where the documents are, as the store itself says.
#[derive(Clone)]
pub enum Database {
    Postgres(String),
    Sqlite(std::path::PathBuf),
}

/// What the store holds for one document.
#[derive(Debug, Clone)]
pub struct Row {
    pub status: String,
    pub fail_reason: Option<String>,
    pub attempts: i64,
    pub chunk_count: i64,
    pub chunks: i64,
    pub distinct_chunks: i64,
}

const ROWS: &str = "SELECT d.id, d.status, d.fail_reason, CAST(d.attempts AS BIGINT), \
     CAST(d.chunk_count AS BIGINT), \
     (SELECT count(*) FROM chunks c WHERE c.document_id = d.id), \
     (SELECT count(DISTINCT c.chunk_index) FROM chunks c WHERE c.document_id = d.id) FROM documents d";

type RowTuple = (Uuid, String, Option<String>, i64, i64, i64, i64);

impl Database {
    pub async fn rows(&self) -> Result<HashMap<Uuid, Row>, sqlx::Error> {
        let rows: Vec<RowTuple> = match self {
            Self::Postgres(url) => {
                let mut conn = PgConnection::connect(url).await?;
                sqlx::query_as(ROWS).fetch_all(&mut conn).await?
            }
            Self::Sqlite(dir) => {
                let url = format!("sqlite://{}?mode=ro", dir.join("ragbase.db").display());
                let mut conn = SqliteConnection::connect(&url).await?;
                sqlx::query_as(ROWS).fetch_all(&mut conn).await?
            }
        };
        Ok(rows
            .into_iter()
            .map(
                |(id, status, fail_reason, attempts, chunk_count, chunks, distinct_chunks)| {
                    let row = Row {
                        status,
                        fail_reason,
                        attempts,
                        chunk_count,
                        chunks,
                        distinct_chunks,
                    };
                    (id, row)
                },
            )
            .collect())
    }
}

/// An API server and its workers, each restartable with the same settings.
pub struct Fleet {
    pub path: Path,
    pub api: Server,
    pub workers: Vec<Server>,
    env: Vec<(String, String)>,
    client: reqwest::Client,
}

impl Fleet {
    /// Starts the API (on a fixed port, so a restarted one answers where the last did) and, on
    /// the paths with separate workers, `workers` of them.
    pub async fn start(path: Path, env: Vec<(String, String)>, workers: usize) -> Self {
        let mut env = env;
        env.push(("API_KEY".into(), KEY.into()));
        env.push(("PORT".into(), free_port().to_string()));
        let mut fleet = Self {
            path,
            api: start_api(path, &env).await,
            workers: Vec::new(),
            env,
            client: reqwest::Client::new(),
        };
        if path != Path::Embedded {
            for _ in 0..workers {
                let worker = fleet.start_worker().await;
                fleet.workers.push(worker);
            }
        }
        fleet
    }

    pub async fn start_worker(&self) -> Server {
        let mut env = self.env.clone();
        env.retain(|(name, _)| name != "PORT");
        env.push(("PORT".into(), "0".into()));
        Server::start_worker(&pairs(&env)).await
    }

    /// SIGKILLs the process that processes on this path (worker `index`, or the one embedded
    /// server), waits for it to die, and starts it again.
    pub async fn kill_and_restart(&mut self, index: usize) {
        match self.path {
            Path::Embedded => {
                signal(&self.api, "KILL");
                self.api.child.wait().await.unwrap();
                self.api = start_api(self.path, &self.env).await;
            }
            Path::Redis | Path::Sqs => {
                let index = index % self.workers.len();
                signal(&self.workers[index], "KILL");
                self.workers[index].child.wait().await.unwrap();
                self.workers[index] = self.start_worker().await;
            }
        }
    }

    /// `POST /api/documents`; the new document's id when the answer is 201.
    pub async fn upload(&self, filename: &str, bytes: Vec<u8>) -> Option<Uuid> {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
        let answer = self
            .client
            .post(self.api.url("/api/documents"))
            .header("x-api-key", KEY)
            .multipart(form)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .ok()?;
        if answer.status() != 201 {
            return None;
        }
        let body: Value = answer.json().await.ok()?;
        body["id"].as_str()?.parse().ok()
    }

    /// `DELETE /api/documents/:id`: whether it answered `deleted: true`.
    pub async fn delete(&self, id: Uuid) -> bool {
        let answer = self
            .client
            .delete(self.api.url(&format!("/api/documents/{id}")))
            .header("x-api-key", KEY)
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status() == 200 => {
                let body: Value = answer.json().await.unwrap_or_default();
                body["deleted"] == true
            }
            _ => false,
        }
    }
}

async fn start_api(path: Path, env: &[(String, String)]) -> Server {
    let args: &[&str] = match path {
        Path::Embedded => &["serve"],
        Path::Redis | Path::Sqs => &["serve", "--migrate", "--no-worker"],
    };
    Server::start(args, &pairs(env)).await
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Sends `SIGNAL` (KILL, STOP, CONT) to a process.
pub fn signal(server: &Server, name: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{name}"), server.pid().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name} {}", server.pid());
}
