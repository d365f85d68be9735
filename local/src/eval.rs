//! `ragbase eval`: retrieval quality on a test collection, measured through the real pipeline.
//! Every corpus record becomes a text document that the worker converts, chunks and embeds;
//! every query then runs through the same search as `POST /api/query`, and the chunks found are
//! mapped back to the documents the relevance judgments name.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use ragbase::{
    Error,
    app::{documents::submit, search::search},
    config::Config,
    domain::{
        documents::{DocumentQuery, NewDocument, RawDocumentQuery},
        formats::Format,
        query::{RawSearchRequest, SearchRequest},
        sha256,
    },
    ports::Store,
    wiring::Backends,
};
use serde::Deserialize;
use tokio::sync::watch;

mod metrics;

use metrics::Judgments;

/// Results asked per query: enough for recall@100.
const DEPTH: i64 = 100;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// JSONL of `{"id", "title", "text"}`.
    #[arg(long)]
    corpus: PathBuf,
    /// JSONL of `{"id", "text"}`.
    #[arg(long)]
    queries: PathBuf,
    /// TSV of `query_id doc_id score` (a header line is allowed); higher scores are more relevant.
    #[arg(long)]
    qrels: PathBuf,
    #[arg(long, value_delimiter = ',', default_value = "semantic,hybrid",
          value_parser = ["semantic", "hybrid"])]
    modes: Vec<String>,
    /// Weight of the vector ranks in hybrid mode (the API's default when absent).
    #[arg(long)]
    alpha: Option<f64>,
}

#[derive(Deserialize)]
struct CorpusRecord {
    id: String,
    #[serde(default)]
    title: String,
    text: String,
}

#[derive(Deserialize)]
struct QueryRecord {
    id: String,
    text: String,
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), n + 1))
        })
        .collect()
}

pub async fn run(config: Config, args: EvalArgs) -> anyhow::Result<()> {
    let corpus: Vec<CorpusRecord> = read_jsonl(&args.corpus)?;
    let queries: Vec<QueryRecord> = read_jsonl(&args.queries)?;
    let judgments = Judgments::read(&args.qrels)?;

    let backends = Backends::connect(&config).await?;
    if let Some(postgres) = &backends.postgres {
        postgres.migrate().await.context("migrating the database")?;
    }
    let store = backends.store.clone();
    let embedder = crate::embedder(&config)?;

    let started = Instant::now();
    let corpus_of = ingest(&config, &backends, &store, &embedder, &corpus).await?;
    eprintln!(
        "ingested {} documents in {:.1} s",
        corpus.len(),
        started.elapsed().as_secs_f64()
    );

    for mode in &args.modes {
        let mut totals = metrics::Totals::default();
        let started = Instant::now();
        for query in queries.iter().filter(|q| judgments.has(&q.id)) {
            let request = SearchRequest::parse(RawSearchRequest {
                query: Some(query.text.clone()),
                top_k: Some(DEPTH as f64),
                mode: Some(mode.clone()),
                alpha: args.alpha,
                ..Default::default()
            })
            .with_context(|| format!("query {}", query.id))?;
            let results = search(store.as_ref(), &embedder, &request).await?;
            let mut seen = HashSet::new();
            let ranking: Vec<&str> = results
                .iter()
                .filter_map(|r| corpus_of.get(&r.chunk.document_id))
                .filter(|id| seen.insert(*id))
                .map(String::as_str)
                .collect();
            totals.add(&judgments.score(&query.id, &ranking));
        }
        let mean_ms = started.elapsed().as_secs_f64() * 1e3 / totals.queries.max(1) as f64;
        println!("{}", totals.summary(mode, mean_ms));
    }
    Ok(())
}

/// Submits every record not stored yet, runs workers until none is waiting, and returns the
/// corpus id of every stored document.
async fn ingest(
    config: &Config,
    backends: &Backends,
    store: &Arc<dyn Store>,
    embedder: &Arc<dyn ragbase::ports::Embedder>,
    corpus: &[CorpusRecord],
) -> anyhow::Result<HashMap<uuid::Uuid, String>> {
    let filename = |record: &CorpusRecord| format!("{}.txt", record.id);
    let names: HashSet<String> = corpus.iter().map(filename).collect();
    let strangers = stored_filenames(store.as_ref())
        .await?
        .into_iter()
        .filter(|name| !names.contains(name))
        .count();
    if strangers > 0 {
        bail!(
            "the knowledge base holds {strangers} documents outside this collection, which would \
             skew the figures: point DATABASE_URL at an empty database (or RAGBASE_DATA_DIR at an \
             empty folder)"
        );
    }
    let mut corpus_of = HashMap::new();
    for record in corpus {
        let bytes = record_text(record).into_bytes();
        let new = NewDocument {
            id: uuid::Uuid::new_v4(),
            filename: filename(record),
            format: Format::Text,
            content_hash: sha256(&bytes),
            bytes,
        };
        let id = match submit(store.as_ref(), backends.queue.as_ref(), new).await {
            Ok(document) => document.id,
            // Stored by an earlier run: its chunks are reused.
            Err(Error::Duplicate { existing_id }) => existing_id,
            Err(e) => return Err(e).context(format!("storing corpus record {}", record.id)),
        };
        corpus_of.insert(id, record.id.clone());
    }
    process_all(config, backends, store, embedder).await?;
    Ok(corpus_of)
}

/// The title heads the document, unless the text already opens with it.
fn record_text(record: &CorpusRecord) -> String {
    match record.title.trim() {
        title if title.is_empty() || record.text.trim_start().starts_with(title) => {
            format!("{}\n", record.text)
        }
        title => format!("{title}\n\n{}\n", record.text),
    }
}

/// Runs one worker per core until no document waits: each document is a batch or two, so
/// documents are the parallelism.
async fn process_all(
    config: &Config,
    backends: &Backends,
    store: &Arc<dyn Store>,
    embedder: &Arc<dyn ragbase::ports::Embedder>,
) -> anyhow::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let workers: Vec<_> = (0..config.model.embedding_threads)
        .map(|_| {
            let worker = backends.worker(config, embedder.clone(), crate::converter(config)?);
            let stopped = stopped.clone();
            Ok(tokio::spawn(async move { worker.run(stopped).await }))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut last_report = Instant::now();
    let everything = DocumentQuery::parse(RawDocumentQuery::default())?;
    loop {
        let counts = store.list_documents(&everything).await?.counts;
        let waiting = counts.pending + counts.processing;
        if waiting == 0 {
            if counts.failed > 0 {
                eprintln!(
                    "warning: {} documents failed and are left out",
                    counts.failed
                );
            }
            break;
        }
        if last_report.elapsed() > Duration::from_secs(15) {
            eprintln!("{waiting} documents still waiting");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    Ok(())
}

async fn stored_filenames(store: &dyn Store) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    loop {
        let page = store
            .list_documents(&DocumentQuery::parse(RawDocumentQuery {
                limit: Some("100".into()),
                offset: Some(names.len().to_string()),
                ..Default::default()
            })?)
            .await?;
        let got = page.documents.len();
        names.extend(page.documents.into_iter().map(|d| d.filename));
        if got == 0 {
            return Ok(names);
        }
    }
}
