//! Search latency and HNSW recall at 10k, 100k and 1M chunks. Run with `local/bench/search`
//! (PostgreSQL) or `local/bench/search --embedded` (the embedded store, whose search is exact).
//!
//! Each scale's corpus (`common/corpus`: realistic, or the old worst case with `--adversarial`)
//! gets a database of its own, filled once and reused by later runs. Then, against the real
//! server router in this process, 1 and 8 clients (`BENCH_CLIENTS`) send the 113 Cranfield
//! development queries, three rounds per mode (`BENCH_ROUNDS`), `topK` 10, hybrid once per
//! keyword ranking (`BENCH_KEYWORD_PATHS`: bm25 and portable), and the latency of every
//! `POST /api/query` (query embedding included) is recorded. Recall@10 compares the HNSW search
//! clients get with an exact scan, per query.

mod common;
#[path = "common/corpus/mod.rs"]
mod corpus;

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use ragbase::{
    adapters::{postgres::PgStore, sqlite::SqliteStore},
    config::{Config, KeywordIndex},
    domain::{
        query::{Keywords, SearchFilter},
        ranking::ChunkHit,
    },
    http,
    ports::{ChunkSearch, Embedder},
    wiring::{Backends, load_embedder},
};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

/// Rounds of the queries per mode; `BENCH_ROUNDS` lowers it where a query takes seconds.
const ROUNDS: usize = 3;

/// Fills the embedded store for a scale (under `target/bench/`) unless an earlier run did.
async fn prepare_embedded(kind: corpus::Kind, chunks: usize, embedder: &dyn Embedder) -> String {
    let name = corpus::database_name(kind, chunks);
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/bench/{name}"));
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
    let started = Instant::now();
    let (documents, rows) = corpus::generate(kind, chunks, embedder);
    conn.execute("DELETE FROM chunks; DELETE FROM documents; BEGIN")
        .await
        .unwrap();
    for d in &documents {
        sqlx::query(
            "INSERT INTO documents (id, filename, format, file_size, content_hash, status, is_active, \
             created_at, updated_at) VALUES (?, ?, ?, 1000, ?, ?, ?, \
             '2026-11-24T00:00:00+00:00', '2026-11-24T00:00:00+00:00')",
        )
        .bind(corpus::document_id(d.number))
        .bind(format!("document-{}.{}", d.number, d.format.as_str()))
        .bind(d.format.as_str())
        .bind(format!("{:032x}", d.number + 1).into_bytes())
        .bind(d.status)
        .bind(d.active)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    for (i, (document, index, text, vector)) in rows.enumerate() {
        let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
        sqlx::query(
            "INSERT INTO chunks (id, document_id, chunk_index, content, embedding, char_start, char_end, \
             token_count) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        )
        .bind(uuid::Uuid::from_u128(u128::MAX - i as u128))
        .bind(corpus::document_id(document))
        .bind(index as i64)
        .bind(&text)
        .bind(bytes)
        .bind(text.chars().count() as i64)
        .bind((text.split_whitespace().count() * 4 / 3) as i64)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.execute(
        "UPDATE documents SET chunk_count = (SELECT count(*) FROM chunks WHERE document_id = documents.id); \
         COMMIT; ANALYZE",
    )
    .await
    .unwrap();
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

/// Latencies of `rounds` rounds of the queries from each of `clients` concurrent clients (each
/// starting at another query), after a warm-up.
async fn latencies(
    base: &str,
    queries: &[String],
    mode: &str,
    rounds: usize,
    clients: usize,
) -> Vec<Duration> {
    let send = |client: reqwest::Client, query: String| {
        let url = format!("{base}/api/query");
        async move {
            let started = Instant::now();
            let response = client
                .post(url)
                .json(&serde_json::json!({"query": query, "topK": 10, "mode": mode}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap();
            assert!(status.is_success(), "{status} for {query:?}: {body}");
            assert_eq!(body["results"].as_array().unwrap().len(), 10);
            started.elapsed()
        }
    };
    let client = reqwest::Client::new();
    for query in queries.iter().take(10) {
        send(client.clone(), query.clone()).await;
    }
    let runs = (0..clients).map(|c| {
        let (client, send) = (client.clone(), &send);
        async move {
            let mut times = Vec::new();
            for i in 0..rounds * queries.len() {
                let query = &queries[(i + c * queries.len() / clients) % queries.len()];
                times.push(send(client.clone(), query.clone()).await);
            }
            times
        }
    });
    let mut times: Vec<Duration> = futures_util::future::join_all(runs).await.concat();
    times.sort();
    times
}

/// Mean share of the exact BM25 top 100 (every match scored) that the portable ranking's top 100
/// (the default `KEYWORD_CANDIDATES`) holds, over the first `count` queries.
async fn keyword_overlap(url: &str, queries: &[String], count: usize) -> f64 {
    let store = |candidates| {
        PgStore::connect(url, 40, Duration::from_secs(3600))
            .unwrap()
            .with_keywords(KeywordIndex::Portable, candidates)
    };
    let (bounded, exact) = (
        store(Config::from_env().unwrap().store.keyword_candidates),
        store(u64::MAX),
    );
    let mut total = 0.0;
    for query in &queries[..count.min(queries.len())] {
        let (keywords, filter) = (Keywords::parse(query), SearchFilter::default());
        let (found, truth) = (
            bounded
                .keyword_ranking(&keywords, &filter, 100)
                .await
                .unwrap(),
            exact
                .keyword_ranking(&keywords, &filter, 100)
                .await
                .unwrap(),
        );
        let found: HashSet<_> = found.into_iter().collect();
        let held = truth.iter().filter(|id| found.contains(id)).count();
        total += held as f64 / truth.len().max(1) as f64;
    }
    total / count.min(queries.len()) as f64
}

/// HNSW recall@10 at each `ef_search`, as (the mean share of the exact ten nearest chunks, of
/// those searches may read, that the index search returns; the same share counting a returned
/// chunk as found when it is no farther than the tenth exact one plus 1e-3, which forgives
/// near-ties between chunks made of the same sentences).
async fn recall_at_10(url: &str, efs: &[u32], vectors: &[Vec<f32>]) -> Vec<(f64, f64)> {
    let mut exact = PgConnection::connect(url).await.unwrap();
    let (mut truths, mut tied) = (Vec::new(), 0);
    for vector in vectors {
        // `+ 0` keeps the planner off the index: a full scan, the true nearest.
        let mut truth: Vec<(uuid::Uuid, f64)> = sqlx::query_as(
            "SELECT c.id, c.embedding <=> $1 FROM chunks c JOIN documents d ON d.id = c.document_id \
             WHERE d.status = 'COMPLETED' AND d.is_active ORDER BY (c.embedding <=> $1) + 0 LIMIT 100",
        )
        .bind(pgvector::Vector::from(vector.clone()))
        .fetch_all(&mut exact)
        .await
        .unwrap();
        let tenth = truth.get(9).map_or(0.0, |(_, distance)| *distance);
        tied += truth.iter().filter(|(_, d)| *d <= tenth + 1e-3).count();
        truth.truncate(10);
        truths.push(truth);
    }
    println!(
        "- chunks within 1e-3 of the exact tenth nearest, mean over the queries: {:.1} (of 100 read)",
        tied as f64 / vectors.len() as f64
    );
    let mut recalls = Vec::new();
    for &ef in efs {
        let store = PgStore::connect(url, ef, Duration::from_secs(600)).unwrap();
        let (mut by_id, mut by_distance) = (0.0, 0.0);
        for (vector, truth) in vectors.iter().zip(&truths) {
            let found = store
                .nearest_chunks(vector, &SearchFilter::default(), 10)
                .await
                .unwrap();
            let ids: HashSet<uuid::Uuid> = found.iter().map(|hit| hit.chunk_id).collect();
            by_id += truth.iter().filter(|(id, _)| ids.contains(id)).count() as f64 / 10.0;
            let tenth = truth.last().map_or(0.0, |(_, distance)| *distance);
            let near = |hit: &&ChunkHit| 1.0 - f64::from(hit.similarity) <= tenth + 1e-3;
            by_distance += found.iter().filter(near).count() as f64 / 10.0;
        }
        let queries = vectors.len() as f64;
        recalls.push((by_id / queries, by_distance / queries));
    }
    recalls
}

/// Loads the chunks, documents and their indexes into PostgreSQL's cache, so that the figures
/// are a warm server's (a cold one reads the indexes from disk during its first searches).
async fn prewarm(url: &str) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    conn.execute(
        "CREATE EXTENSION IF NOT EXISTS pg_prewarm; \
         SELECT pg_prewarm(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')",
    )
    .await
    .unwrap();
}

/// Serves the router over `store` (the URL, or the embedded folder) with `KEYWORD_INDEX`; the
/// server's base URL and its task.
async fn serve(
    store: (Option<String>, Option<String>),
    keyword_index: &str,
    embedder: &Arc<dyn Embedder>,
) -> (String, tokio::task::JoinHandle<()>) {
    let (url, data_dir) = store;
    let embedded = url.is_none();
    let config = Config::from_lookup(|name| match name {
        "DATABASE_URL" => url.clone(),
        "REDIS_URL" if embedded => None,
        "RAGBASE_DATA_DIR" => data_dir.clone(),
        "RATE_LIMIT_MAX" => Some("100000000".into()),
        "KEYWORD_INDEX" => Some(keyword_index.into()),
        "API_KEY" => None,
        other => std::env::var(other).ok(),
    })
    .unwrap();
    let backends = Backends::connect(&config).await.unwrap();
    if let Some(postgres) = &backends.postgres {
        postgres.keyword_path().await.unwrap();
    }
    let serving = config.http.clone();
    let router = http::router(backends.app_state(config, Some(Arc::clone(embedder))));
    drop(backends); // the router holds what it needs; the store's lock goes with the router
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        http::serve(listener, router, std::future::pending(), &serving).await
    });
    (base, server)
}

fn p50_p99(times: &[Duration]) -> String {
    format!(
        "{:.1} / {:.1}",
        percentile(times, 50.0),
        percentile(times, 99.0)
    )
}

fn env_list<T: std::str::FromStr>(name: &str, default: &str) -> Vec<T> {
    let raw = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    raw.split_whitespace()
        .map(|v| v.parse().ok().unwrap())
        .collect()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let embedded = args.iter().any(|a| a == "--embedded");
    let kind = if args.iter().any(|a| a == "--adversarial") {
        corpus::Kind::Adversarial
    } else {
        corpus::Kind::Realistic
    };
    let mut scales: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if scales.is_empty() {
        // Beyond about 100k chunks the embedded store is the wrong tool (see its vectors module).
        scales = if embedded {
            vec![10_000, 100_000]
        } else {
            vec![10_000, 100_000, 1_000_000]
        };
    }
    let rounds = env_list("BENCH_ROUNDS", &ROUNDS.to_string())[0];
    let clients: Vec<usize> = env_list("BENCH_CLIENTS", "1 8");
    let recall_efs: Vec<u32> = env_list("BENCH_RECALL_EF", "40 100 200 400");
    let keyword_paths: Vec<String> = if embedded {
        vec!["auto".into()]
    } else {
        env_list("BENCH_KEYWORD_PATHS", "bm25 portable")
    };
    let base_config = Config::from_env().unwrap();
    let embedder = load_embedder(&base_config).unwrap();
    let queries = common::cranfield_texts("queries-dev.jsonl");
    let query_vectors = embedder
        .embed(&queries.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    println!(
        "Store: {}, {kind:?} corpus. Method: {rounds} rounds of the {} Cranfield dev queries per mode and \
         client, topK 10, through the real router (query embedding on the CPU included) in this process; \
         p50 / p99 in ms; recall@10 = share of an exact scan's top 10 that the HNSW search returns, mean \
         over the queries (ties: counting a result no farther than the exact tenth + 1e-3 as found).",
        if embedded {
            "embedded (SQLite, exact search in memory)"
        } else {
            "PostgreSQL with pgvector"
        },
        queries.len()
    );
    let mut table = vec![
        format!(
            "| chunks | clients | semantic | hybrid, keywords by | hybrid | recall@10 (ef {recall_efs:?}) |"
        ),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    for chunks in scales {
        let store = if embedded {
            (
                None,
                Some(prepare_embedded(kind, chunks, embedder.as_ref()).await),
            )
        } else {
            let base_url =
                std::env::var("DATABASE_URL").expect("DATABASE_URL (run local/bench/search)");
            let url = corpus::prepare(&base_url, kind, chunks, embedder.as_ref()).await;
            prewarm(&url).await;
            (Some(url), None)
        };
        let recall = match &store.0 {
            Some(_) if recall_efs.is_empty() => "not run".to_owned(),
            Some(url) => {
                let recalls = recall_at_10(url, &recall_efs, &query_vectors).await;
                let (by_id, by_distance): (Vec<_>, Vec<_>) = recalls
                    .iter()
                    .map(|(id, distance)| (format!("{id:.3}"), format!("{distance:.3}")))
                    .unzip();
                let recall = format!("{} (ties: {})", by_id.join(" / "), by_distance.join(" / "));
                println!("- {chunks} chunks: recall@10 at ef {recall_efs:?}: {recall}");
                recall
            }
            None => "exact".to_owned(),
        };
        let overlap_count = env_list("BENCH_OVERLAP_QUERIES", &queries.len().to_string())[0];
        if let Some(url) = store.0.as_ref().filter(|_| overlap_count > 0) {
            let overlap = keyword_overlap(url, &queries, overlap_count).await;
            println!(
                "- {chunks} chunks: portable keyword top 100 ∩ exact BM25 top 100: {overlap:.3} (mean over {overlap_count} queries)"
            );
        }
        for &clients in &clients {
            let mut semantic = None;
            for path in &keyword_paths {
                let (base, server) = serve(store.clone(), path, &embedder).await;
                if semantic.is_none() {
                    semantic = Some(p50_p99(
                        &latencies(&base, &queries, "semantic", rounds, clients).await,
                    ));
                }
                let hybrid = latencies(&base, &queries, "hybrid", rounds, clients).await;
                server.abort();
                let row = format!(
                    "| {chunks} | {clients} | {} | {path} | {} | {recall} |",
                    semantic.as_deref().unwrap_or_default(),
                    p50_p99(&hybrid)
                );
                println!("{row}");
                table.push(row);
            }
        }
    }
    println!("\n{}", table.join("\n"));
}
