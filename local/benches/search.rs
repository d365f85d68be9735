//! Search latency and HNSW recall at 10k, 100k and 1M chunks. Run with `local/bench/search`
//! (PostgreSQL) or `local/bench/search --embedded` (the embedded store, whose search is exact).
//!
//! Each scale gets its own database, filled once and reused by later runs: synthetic chunks whose
//! vectors are real Cranfield abstract embeddings mixed with a second abstract and Gaussian noise
//! (so neighbourhoods look like a real corpus rather than uniform noise), and whose text is the
//! first abstract's (so full-text search has real words to match). Then, against the real server
//! router in this process, one client sends the 113 Cranfield development queries, three rounds
//! per mode, `topK` 10, and the latency of every `POST /api/query` (query embedding included) is
//! recorded. Recall@10 compares the HNSW search clients get with an exact scan, per query.

mod common;

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use ragbase::{
    adapters::{postgres::PgStore, sqlite::SqliteStore},
    config::Config,
    domain::query::SearchFilter,
    http,
    ports::ChunkSearch,
    wiring::{Backends, load_embedder},
};
use sqlx::{Connection, Executor, PgConnection, Row, SqliteConnection};

const CHUNKS_PER_DOCUMENT: usize = 100;
/// Rounds of the queries per mode; `BENCH_ROUNDS` lowers it where a query takes seconds.
const ROUNDS: usize = 3;
const DIMENSIONS: usize = 384;
/// Standard deviation of the noise added to each dimension of a unit vector.
const NOISE: f64 = 0.03;

/// splitmix64: a reproducible stream without a dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Box–Muller.
    fn gaussian(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn url_for(base: &str, database: &str) -> String {
    let (server, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL ends in /database");
    format!("{server}/{database}")
}

/// COPY's text format: backslash, tab and line breaks escaped.
fn copy_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// One chunk: a seed abstract's text, and its vector mixed with a second seed's and noise.
fn synthetic_chunk<'a>(
    random: &mut Random,
    seeds: &'a [(String, Vec<f32>)],
) -> (&'a str, Vec<f32>) {
    let (text, a) = &seeds[random.next() as usize % seeds.len()];
    let (_, b) = &seeds[random.next() as usize % seeds.len()];
    let mix = 0.5 * random.unit();
    let v: Vec<f64> = (0..DIMENSIONS)
        .map(|k| f64::from(a[k]) + mix * f64::from(b[k]) + NOISE * random.gaussian())
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    (text, v.iter().map(|x| (*x / norm) as f32).collect())
}

async fn populate(url: &str, chunks: usize, seeds: &[(String, Vec<f32>)]) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let started = Instant::now();
    conn.execute(
        "TRUNCATE documents CASCADE; UPDATE chunk_totals SET chunks = 0, tokens = 0; \
         TRUNCATE chunk_lexemes; \
         DROP INDEX IF EXISTS chunks_embedding_hnsw_idx; DROP INDEX IF EXISTS chunks_search_vector_idx",
    )
    .await
    .unwrap();
    let mut random = Random(chunks as u64);
    let documents = chunks.div_ceil(CHUNKS_PER_DOCUMENT);
    let mut rows = String::new();
    for d in 0..documents {
        let id = uuid::Uuid::from_u128(d as u128 + 1);
        rows.push_str(&format!(
            "{id}\tsynthetic-{d}.txt\ttext\t1000\t\\\\x{:064x}\tCOMPLETED\n",
            d + 1
        ));
    }
    let mut copy = conn
        .copy_in_raw(
            "COPY documents (id, filename, format, file_size, content_hash, status) FROM STDIN",
        )
        .await
        .unwrap();
    copy.send(rows.as_bytes()).await.unwrap();
    copy.finish().await.unwrap();

    // A few COPY statements rather than one: each fires the statistics trigger once.
    for batch in (0..chunks).collect::<Vec<_>>().chunks(50_000) {
        let mut rows = String::with_capacity(batch.len() * 6_000);
        for &i in batch {
            let (text, v) = synthetic_chunk(&mut random, seeds);
            let vector: Vec<String> = v.iter().map(|x| format!("{x:.6}")).collect();
            let document = uuid::Uuid::from_u128((i / CHUNKS_PER_DOCUMENT) as u128 + 1);
            rows.push_str(&format!(
                "{}\t{document}\t{}\t{}\t[{}]\t0\t{}\t{}\n",
                uuid::Uuid::from_u128(u128::MAX - i as u128),
                i % CHUNKS_PER_DOCUMENT,
                copy_escape(text),
                vector.join(","),
                text.chars().count(),
                text.split_whitespace().count() * 4 / 3,
            ));
        }
        let mut copy = conn
            .copy_in_raw(
                "COPY chunks (id, document_id, chunk_index, content, embedding, char_start, char_end, token_count) \
                 FROM STDIN",
            )
            .await
            .unwrap();
        copy.send(rows.as_bytes()).await.unwrap();
        copy.finish().await.unwrap();
    }
    let loaded = started.elapsed();
    conn.execute(
        "UPDATE documents d SET chunk_count = n FROM \
         (SELECT document_id, count(*) AS n FROM chunks GROUP BY document_id) c WHERE c.document_id = d.id",
    )
    .await
    .unwrap();
    // The same index definitions as the migration, built once over the loaded table.
    let indexed = Instant::now();
    conn.execute(
        "SET maintenance_work_mem = '6GB'; SET max_parallel_maintenance_workers = 1; \
         CREATE INDEX chunks_embedding_hnsw_idx ON chunks USING hnsw (embedding vector_cosine_ops)",
    )
    .await
    .unwrap();
    let hnsw = indexed.elapsed();
    conn.execute(
        "SET maintenance_work_mem = '1GB'; \
         CREATE INDEX chunks_search_vector_idx ON chunks USING gin (search_vector); \
         ANALYZE documents; ANALYZE chunks",
    )
    .await
    .unwrap();
    println!(
        "- populated {chunks} chunks: load {:.0} s, HNSW build {:.0} s, GIN build + analyze {:.0} s",
        loaded.as_secs_f64(),
        hnsw.as_secs_f64(),
        (indexed.elapsed() - hnsw).as_secs_f64()
    );
}

/// Creates, migrates and fills the scale's database unless an earlier run did.
async fn prepare(
    base_url: &str,
    chunks: usize,
    seeds: &dyn Fn() -> Vec<(String, Vec<f32>)>,
) -> String {
    let database = format!("ragbase_bench_{chunks}");
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
    PgStore::connect(&url, 40, Duration::from_secs(600))
        .unwrap()
        .migrate()
        .await
        .unwrap();
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let indexed: bool = sqlx::query_scalar(
        "SELECT (SELECT chunks FROM chunk_totals) = $1 \
         AND EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'chunks_embedding_hnsw_idx') \
         AND EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'chunks_search_vector_idx')",
    )
    .bind(chunks as i64)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    if indexed {
        println!("- {database} already holds {chunks} chunks");
    } else {
        populate(&url, chunks, &seeds()).await;
    }
    url
}

/// Fills the embedded store for a scale (under `target/bench/`) unless an earlier run did.
async fn prepare_embedded(chunks: usize, seeds: &dyn Fn() -> Vec<(String, Vec<f32>)>) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../target/bench/embedded_{chunks}"));
    drop(SqliteStore::open(&dir).await.unwrap()); // creates and migrates it
    let url = format!("sqlite://{}", dir.join("ragbase.db").display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM chunks")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let dir = dir.display().to_string();
    if held == chunks as i64 {
        println!("- {dir} already holds {chunks} chunks");
        return dir;
    }
    let seeds = seeds();
    let started = Instant::now();
    conn.execute("DELETE FROM chunks; DELETE FROM documents; BEGIN")
        .await
        .unwrap();
    for d in 0..chunks.div_ceil(CHUNKS_PER_DOCUMENT) {
        sqlx::query(
            "INSERT INTO documents (id, filename, format, file_size, content_hash, status, chunk_count, \
             created_at, updated_at) VALUES (?, ?, 'text', 1000, ?, 'COMPLETED', ?, \
             '2026-11-24T00:00:00+00:00', '2026-11-24T00:00:00+00:00')",
        )
        .bind(uuid::Uuid::from_u128(d as u128 + 1))
        .bind(format!("synthetic-{d}.txt"))
        .bind(format!("{:032x}", d + 1).into_bytes())
        .bind(CHUNKS_PER_DOCUMENT.min(chunks - d * CHUNKS_PER_DOCUMENT) as i64)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let mut random = Random(chunks as u64);
    for i in 0..chunks {
        let (text, vector) = synthetic_chunk(&mut random, &seeds);
        let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
        sqlx::query(
            "INSERT INTO chunks (id, document_id, chunk_index, content, embedding, char_start, char_end, \
             token_count) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        )
        .bind(uuid::Uuid::from_u128(u128::MAX - i as u128))
        .bind(uuid::Uuid::from_u128((i / CHUNKS_PER_DOCUMENT) as u128 + 1))
        .bind((i % CHUNKS_PER_DOCUMENT) as i64)
        .bind(text)
        .bind(bytes)
        .bind(text.chars().count() as i64)
        .bind((text.split_whitespace().count() * 4 / 3) as i64)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.execute("COMMIT; ANALYZE").await.unwrap();
    println!(
        "- populated {chunks} chunks in {:.0} s (full-text index included)",
        started.elapsed().as_secs_f64()
    );
    dir
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

async fn latencies(base: &str, queries: &[String], mode: &str, rounds: usize) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let send = |query: &str| {
        client
            .post(format!("{base}/api/query"))
            .json(&serde_json::json!({"query": query, "topK": 10, "mode": mode}))
            .send()
    };
    for query in queries.iter().take(10) {
        send(query).await.unwrap();
    }
    let mut times = Vec::new();
    for _ in 0..rounds {
        for query in queries {
            let started = Instant::now();
            let response = send(query).await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            let body: serde_json::Value = response.json().await.unwrap();
            times.push(started.elapsed());
            assert_eq!(body["results"].as_array().unwrap().len(), 10);
        }
    }
    times.sort();
    times
}

/// Mean share of the exact ten nearest chunks that the HNSW search returns.
async fn recall_at_10(url: &str, ef_search: u32, vectors: &[Vec<f32>]) -> f64 {
    let store = PgStore::connect(url, ef_search, Duration::from_secs(600)).unwrap();
    let mut exact = PgConnection::connect(url).await.unwrap();
    let mut total = 0.0;
    for vector in vectors {
        let found: HashSet<uuid::Uuid> = store
            .nearest_chunks(vector, &SearchFilter::default(), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|hit| hit.chunk_id)
            .collect();
        // `+ 0` keeps the planner off the index: a full scan, the true nearest.
        let truth: Vec<uuid::Uuid> =
            sqlx::query("SELECT id FROM chunks ORDER BY (embedding <=> $1) + 0 LIMIT 10")
                .bind(pgvector::Vector::from(vector.clone()))
                .fetch_all(&mut exact)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
        total += truth.iter().filter(|id| found.contains(id)).count() as f64 / 10.0;
    }
    total / vectors.len() as f64
}

#[tokio::main]
async fn main() {
    let embedded = std::env::args().any(|a| a == "--embedded");
    let scales: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let scales = match (scales.is_empty(), embedded) {
        (false, _) => scales,
        (true, false) => vec![10_000, 100_000, 1_000_000],
        // Beyond about 100k chunks the embedded store is the wrong tool (see its vectors module).
        (true, true) => vec![10_000, 100_000],
    };
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(ROUNDS);
    let base_url = std::env::var("DATABASE_URL").ok();
    let base_config = Config::from_env().unwrap();
    let embedder = load_embedder(&base_config).unwrap();
    let queries = common::cranfield_texts("queries-dev.jsonl");
    let query_vectors = embedder
        .embed(&queries.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    let seeds = || {
        let texts = common::cranfield_texts("corpus.jsonl");
        let texts: Vec<String> = texts.into_iter().filter(|t| !t.trim().is_empty()).collect();
        let vectors = embedder
            .embed(&texts.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap();
        texts.into_iter().zip(vectors).collect()
    };

    println!(
        "Store: {}. Method: one client, {rounds} rounds of the {} Cranfield dev queries per mode, topK 10, \
         through the real router (query embedding on the CPU included) in this process; \
         recall@10 = share of an exact scan's top 10 that the HNSW search returns, mean over the queries.",
        if embedded {
            "embedded (SQLite, exact search in memory)"
        } else {
            "PostgreSQL with pgvector"
        },
        queries.len()
    );
    let mut table = vec![
        "| chunks | ef_search | semantic p50 ms | semantic p99 ms | hybrid p50 ms | hybrid p99 ms | recall@10 (ef 40 / 100 / 200) |".to_owned(),
        "|---|---|---|---|---|---|---|".to_owned(),
    ];
    for chunks in scales {
        let (url, data_dir) = if embedded {
            (None, Some(prepare_embedded(chunks, &seeds).await))
        } else {
            let base_url = base_url
                .as_deref()
                .expect("DATABASE_URL (run local/bench/search)");
            (Some(prepare(base_url, chunks, &seeds).await), None)
        };
        let config = Config::from_lookup(|name| match name {
            "DATABASE_URL" => url.clone(),
            "REDIS_URL" if embedded => None,
            "RAGBASE_DATA_DIR" => data_dir.clone(),
            "RATE_LIMIT_MAX" => Some("100000000".into()),
            "API_KEY" => None,
            other => std::env::var(other).ok(),
        })
        .unwrap();
        let ef_search = if embedded {
            "—".to_owned() // no index: every vector is compared
        } else {
            config.store.hnsw_ef_search.to_string()
        };
        let backends = Backends::connect(&config).await.unwrap();
        let serving = config.http.clone();
        let router = http::router(backends.app_state(config, Some(Arc::clone(&embedder))));
        drop(backends); // the router holds what it needs; the store's lock goes with the router
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            http::serve(listener, router, std::future::pending(), &serving).await
        });

        let semantic = latencies(&base, &queries, "semantic", rounds).await;
        let hybrid = latencies(&base, &queries, "hybrid", rounds).await;
        server.abort();
        let mut recalls = Vec::new();
        for ef in [40, 100, 200] {
            recalls.push(match &url {
                Some(url) => format!("{:.3}", recall_at_10(url, ef, &query_vectors).await),
                None => "exact".to_owned(),
            });
        }
        let row = format!(
            "| {chunks} | {ef_search} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            percentile(&semantic, 50.0),
            percentile(&semantic, 99.0),
            percentile(&hybrid, 50.0),
            percentile(&hybrid, 99.0),
            recalls.join(" / ")
        );
        println!("{row}");
        table.push(row);
    }
    println!("\n{}", table.join("\n"));
}
