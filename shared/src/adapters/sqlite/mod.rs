//! The embedded store: SQLite in a data folder, for a RAGBase that needs no servers. Documents,
//! bytes, chunks, vectors, the full-text index and the job queue share one file; vectors are also
//! held in memory for search (`vectors`).
//!
//! One process owns a data folder (a lock file says which), so this process is the only writer:
//! writes go through a single connection and never contend, reads use a small pool (WAL mode).

use std::{
    collections::HashMap,
    fs::{File, TryLockError},
    path::Path,
    sync::{Arc, RwLock},
    time::Duration,
};

mod chunk_search;
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
mod queue;
mod rows;
mod vectors;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::{
    QueryBuilder, Sqlite, SqlitePool, Transaction,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use uuid::Uuid;

pub use queue::SqliteQueue;
use vectors::VectorIndex;

use crate::{Error, domain::chunking::Chunk, ports::ReadinessCheck};

type Db = Sqlite;
type Store = SqliteStore;

/// No row locks: the single writer connection serialises every write.
const FOR_UPDATE: &str = "";

/// ` AND <column> contains <needle>`, ignoring case.
fn push_contains(sql: &mut QueryBuilder<Sqlite>, column: &str, needle: &str) {
    // instr() takes the needle literally (LIKE would need escaping); lower() folds ASCII.
    sql.push(format_args!(" AND instr(lower({column}), "))
        .push_bind(needle.to_lowercase())
        .push(") > 0");
}

/// Whether chunk `c` has breadcrumbs (a JSON array).
const HAS_BREADCRUMBS: &str = "c.breadcrumbs <> '[]'";

/// The hour or day of `column` (RFC 3339 text), as RFC 3339 text.
fn truncated(column: &str, hourly: bool) -> String {
    let format = if hourly {
        "%Y-%m-%dT%H:00:00Z"
    } else {
        "%Y-%m-%dT00:00:00Z"
    };
    format!("strftime('{format}', {column})")
}

/// One process owns the store: its reconciler is the only one.
async fn take_reconciler_lock(_tx: &mut Transaction<'static, Sqlite>) -> Result<bool, sqlx::Error> {
    Ok(true)
}

fn encode_vector(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A JSON array of strings (SQLite has no array type).
fn encode_breadcrumbs(breadcrumbs: &[String]) -> String {
    serde_json::to_string(breadcrumbs).unwrap_or_default()
}

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

#[derive(Clone)]
pub struct SqliteStore {
    /// The one connection that writes.
    writer: SqlitePool,
    reader: SqlitePool,
    vectors: Arc<RwLock<VectorIndex>>,
    /// Held (locked) while any clone lives.
    _owner: Arc<File>,
}

fn db_error(err: impl std::fmt::Display) -> Error {
    Error::backend("database", err)
}

impl SqliteStore {
    /// Opens (creating when needed) the store in `dir`, migrates it and loads its vectors.
    pub async fn open(dir: &Path) -> Result<Self, Error> {
        let shown = dir.display();
        let config_error = |what: String| Error::Config(format!("RAGBASE_DATA_DIR: {what}"));
        std::fs::create_dir_all(dir)
            .map_err(|e| config_error(format!("cannot create {shown}: {e}")))?;
        let owner = File::create(dir.join("ragbase.lock"))
            .map_err(|e| config_error(format!("cannot write in {shown}: {e}")))?;
        match owner.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(config_error(format!(
                    "{shown} is in use by another ragbase process; the embedded store serves \
                     one process (run several against PostgreSQL and Redis instead)"
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(config_error(format!("cannot lock {shown}: {e}")));
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(dir.join("ragbase.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL survives a process crash; only a power cut can lose the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| config_error(format!("cannot open {shown}/ragbase.db: {e}")))?;
        MIGRATOR.run(&writer).await.map_err(db_error)?;
        // This process owns the store now: the attempts of the last one have no worker left.
        sqlx::query("UPDATE documents SET lease_until = $1 WHERE status = 'PROCESSING'")
            .bind(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH)
            .execute(&writer)
            .await
            .map_err(db_error)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(db_error)?;
        let store = Self {
            writer,
            reader,
            vectors: Arc::default(),
            _owner: Arc::new(owner),
        };
        store.load_vectors().await?;
        Ok(store)
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// A read transaction: one snapshot in WAL mode.
    async fn snapshot(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.reader.begin().await
    }

    fn index_vectors(&self, document: Uuid, ids: &[Uuid], chunks: &[(Chunk, Vec<f32>)]) {
        let vectors = chunks.iter().map(|(_, vector)| vector.clone());
        self.vectors
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .replace(document, ids.iter().copied().zip(vectors));
    }

    fn forget_vectors(&self, document: Uuid) {
        self.vectors
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&document);
    }

    /// The durable queue in this store.
    pub async fn queue(&self, lease: Duration) -> Result<SqliteQueue, Error> {
        SqliteQueue::open(self.writer.clone(), self.reader.clone(), lease).await
    }

    async fn load_vectors(&self) -> Result<(), Error> {
        let mut rows = sqlx::query_as::<_, (Uuid, Uuid, Vec<u8>)>(
            "SELECT document_id, id, embedding FROM chunks ORDER BY document_id, chunk_index",
        )
        .fetch(&self.reader);
        let mut by_document: HashMap<Uuid, Vec<(Uuid, Vec<f32>)>> = HashMap::new();
        while let Some((document, chunk, bytes)) = rows.try_next().await.map_err(db_error)? {
            by_document
                .entry(document)
                .or_default()
                .push((chunk, decode(&bytes)));
        }
        let mut index = VectorIndex::default();
        for (document, chunks) in by_document {
            index.replace(document, chunks);
        }
        tracing::debug!(chunks = index.len(), "vectors loaded");
        *self.vectors.write().unwrap_or_else(|p| p.into_inner()) = index;
        Ok(())
    }
}

fn decode(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[async_trait]
impl ReadinessCheck for SqliteStore {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map(drop)
            .map_err(db_error)
    }
}
