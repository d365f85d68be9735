//! Benchmark corpora, filled into a PostgreSQL database of their own through the real schema
//! (its triggers keep the keyword statistics) and indexed as `ragbase migrate` indexes them.
//!
//! - `Realistic`: each chunk is a run of real sentences (the Cranfield abstracts and the text of
//!   the sample documents, recombined), and its vector is the normalised mean of the model's
//!   embeddings of those sentences, so text and vector agree. Documents hold about 100 chunks,
//!   of varied formats; some are disabled, some FAILED or PENDING without chunks.
//! - `Adversarial`: 1,400 abstracts' vectors mixed with each other and noise, every chunk with
//!   one abstract's text: the worst case for both indexes.

mod realistic;

use std::{path::PathBuf, time::Instant};

use ragbase::{adapters::postgres::PgStore, domain::formats::Format, ports::Embedder};
use sqlx::{Connection, Executor, PgConnection};

const DIMENSIONS: usize = 384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Realistic,
    Adversarial,
}

/// splitmix64: a reproducible stream without a dependency.
pub struct Random(pub u64);

impl Random {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Box–Muller.
    fn gaussian(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn normalised(v: Vec<f64>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter().map(|x| (*x / norm) as f32).collect()
}

/// The URL of `database` on the server of `base`.
pub fn url_for(base: &str, database: &str) -> String {
    let (server, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL ends in /database");
    format!("{server}/{database}")
}

pub fn database_name(kind: Kind, chunks: usize) -> String {
    match kind {
        Kind::Realistic => format!("ragbase_corpus_{chunks}"),
        Kind::Adversarial => format!("ragbase_bench_{chunks}"),
    }
}

/// Creates, migrates and fills the corpus's database unless an earlier run did; its URL.
pub async fn prepare(base_url: &str, kind: Kind, chunks: usize, embedder: &dyn Embedder) -> String {
    let database = database_name(kind, chunks);
    let mut admin = PgConnection::connect(base_url).await.unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&database)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    if !exists {
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .await
            .unwrap();
    }
    let url = url_for(base_url, &database);
    let store = PgStore::connect(&url, 40, std::time::Duration::from_secs(3600)).unwrap();
    store.migrate().await.unwrap();
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let filled: bool = sqlx::query_scalar(
        "SELECT (SELECT chunks FROM chunk_totals) = $1 \
         AND EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'chunks_embedding_hnsw_idx')",
    )
    .bind(chunks as i64)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    if filled {
        eprintln!("- {database} already holds {chunks} chunks");
        return url;
    }
    let started = Instant::now();
    let (documents, chunk_rows) = generate(kind, chunks, embedder);
    load(&mut conn, &documents, chunk_rows).await;
    eprintln!(
        "- {database}: {chunks} chunks generated and loaded in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    build_indexes(&mut conn, &store).await;
    url
}

/// The corpus's documents, and its chunks, generated as they are read.
pub fn generate(
    kind: Kind,
    chunks: usize,
    embedder: &dyn Embedder,
) -> (Vec<DocumentRow>, Box<dyn Iterator<Item = ChunkRow>>) {
    match kind {
        Kind::Realistic => realistic::generate(chunks, embedder),
        Kind::Adversarial => adversarial(chunks, embedder),
    }
}

/// A document row: id number, format, status, whether active.
pub struct DocumentRow {
    pub number: usize,
    pub format: Format,
    pub status: &'static str,
    pub active: bool,
}

/// A chunk row: its document's number, its index there, text, vector.
pub type ChunkRow = (usize, usize, String, Vec<f32>);

pub fn document_id(number: usize) -> uuid::Uuid {
    uuid::Uuid::from_u128(number as u128 + 1)
}

/// COPY's text format: backslash, tab and line breaks escaped.
fn copy_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

async fn copy_in(conn: &mut PgConnection, statement: &str, rows: &str) {
    let mut copy = conn.copy_in_raw(statement).await.unwrap();
    copy.send(rows.as_bytes()).await.unwrap();
    copy.finish().await.unwrap();
}

/// Empties the tables and drops the search indexes, then loads the rows with COPY.
async fn load(
    conn: &mut PgConnection,
    documents: &[DocumentRow],
    chunks: impl Iterator<Item = ChunkRow>,
) {
    conn.execute(
        "TRUNCATE documents CASCADE; UPDATE chunk_totals SET chunks = 0, tokens = 0; \
         TRUNCATE chunk_lexemes; DROP INDEX IF EXISTS chunks_embedding_hnsw_idx; \
         DROP INDEX IF EXISTS chunks_search_vector_idx; DROP INDEX IF EXISTS chunks_content_bm25_idx",
    )
    .await
    .unwrap();
    let mut rows = String::new();
    for d in documents {
        rows.push_str(&format!(
            "{}\tdocument-{}.{}\t{}\t1000\t\\\\x{:064x}\t{}\t{}\n",
            document_id(d.number),
            d.number,
            d.format.as_str(),
            d.format.as_str(),
            d.number + 1,
            d.status,
            d.active
        ));
    }
    copy_in(
        conn,
        "COPY documents (id, filename, format, file_size, content_hash, status, is_active) FROM STDIN",
        &rows,
    )
    .await;
    load_chunks(conn, chunks).await;
    conn.execute(
        "UPDATE documents d SET chunk_count = n FROM \
         (SELECT document_id, count(*) AS n FROM chunks GROUP BY document_id) c WHERE c.document_id = d.id",
    )
    .await
    .unwrap();
}

/// In batches: each COPY fires the statistics trigger once.
async fn load_chunks(conn: &mut PgConnection, chunks: impl Iterator<Item = ChunkRow>) {
    let mut rows = String::new();
    let mut in_batch = 0;
    let mut chunks = chunks.enumerate().peekable();
    while let Some((i, (document, index, text, vector))) = chunks.next() {
        let vector: Vec<String> = vector.iter().map(|x| format!("{x:.6}")).collect();
        rows.push_str(&format!(
            "{}\t{}\t{index}\t{}\t[{}]\t0\t{}\t{}\n",
            uuid::Uuid::from_u128(u128::MAX - i as u128),
            document_id(document),
            copy_escape(&text),
            vector.join(","),
            text.chars().count(),
            text.split_whitespace().count() * 4 / 3,
        ));
        in_batch += 1;
        if in_batch == 50_000 || chunks.peek().is_none() {
            copy_in(
                conn,
                "COPY chunks (id, document_id, chunk_index, content, embedding, char_start, char_end, \
                 token_count) FROM STDIN",
                &rows,
            )
            .await;
            rows.clear();
            in_batch = 0;
        }
    }
}

/// Prints how long building `index` took since `started`, and its size.
async fn report(conn: &mut PgConnection, what: &str, started: Instant, index: &str) {
    let seconds = started.elapsed().as_secs_f64();
    let size: Option<String> =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_relation_size(to_regclass($1)))")
            .bind(index)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let size = size.unwrap_or_else(|| "not built (no pg_textsearch)".into());
    eprintln!("- {what}: {seconds:.0} s, {size}");
}

async fn build(conn: &mut PgConnection, what: &str, sql: &str, index: &str) {
    let started = Instant::now();
    conn.execute(sqlx::AssertSqlSafe(sql.to_owned()))
        .await
        .unwrap();
    report(conn, what, started, index).await;
}

/// The migration's index definitions, built once over the loaded table; the BM25 index by
/// `migrate` itself, where the server offers it.
async fn build_indexes(conn: &mut PgConnection, store: &PgStore) {
    conn.execute("SET maintenance_work_mem = '6GB'; SET max_parallel_maintenance_workers = 1")
        .await
        .unwrap();
    build(
        conn,
        "HNSW build",
        "CREATE INDEX chunks_embedding_hnsw_idx ON chunks USING hnsw (embedding vector_cosine_ops)",
        "chunks_embedding_hnsw_idx",
    )
    .await;
    build(
        conn,
        "GIN build",
        "CREATE INDEX chunks_search_vector_idx ON chunks USING gin (search_vector)",
        "chunks_search_vector_idx",
    )
    .await;
    let started = Instant::now();
    store.migrate().await.unwrap();
    report(
        conn,
        "BM25 build (migrate)",
        started,
        "chunks_content_bm25_idx",
    )
    .await;
    conn.execute("ANALYZE").await.unwrap();
}

/// A path in the team's kit beside the checkout.
fn kit(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(path)
}

fn embed_all(embedder: &dyn Embedder, texts: &[String]) -> Vec<Vec<f32>> {
    let mut vectors = Vec::with_capacity(texts.len());
    for batch in texts.chunks(64) {
        let batch: Vec<&str> = batch.iter().map(String::as_str).collect();
        vectors.extend(embedder.embed(&batch).unwrap());
    }
    vectors
}

fn adversarial(
    chunks: usize,
    embedder: &dyn Embedder,
) -> (Vec<DocumentRow>, Box<dyn Iterator<Item = ChunkRow>>) {
    let texts: Vec<String> = crate::common::cranfield_texts("corpus.jsonl")
        .into_iter()
        .filter(|t| !t.trim().is_empty())
        .collect();
    let vectors = embed_all(embedder, &texts);
    let documents = (0..chunks.div_ceil(100))
        .map(|number| DocumentRow {
            number,
            format: Format::Text,
            status: "COMPLETED",
            active: true,
        })
        .collect();
    let mut random = Random(chunks as u64);
    let rows = (0..chunks).map(move |i| {
        let a = random.below(texts.len());
        let b = random.below(texts.len());
        let mix = 0.5 * random.unit();
        let v = (0..DIMENSIONS)
            .map(|k| {
                f64::from(vectors[a][k]) + mix * f64::from(vectors[b][k]) + 0.03 * random.gaussian()
            })
            .collect();
        (i / 100, i % 100, texts[a].clone(), normalised(v))
    });
    (documents, Box::new(rows))
}
