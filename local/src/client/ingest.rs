//! `ragbase ingest PATH...`: uploads files and folders of documents, a few at a time, then
//! (with `--wait`) follows their processing to the end, and says what failed and why.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, ensure};
use clap::Args;
use futures_util::{StreamExt, stream};
use indicatif::HumanBytes;
use ragbase::domain::formats::Format;
use reqwest::StatusCode;
use uuid::Uuid;

use super::{
    Client, ServerArgs,
    progress::{Progress, Unit},
};

const POLL_EVERY: Duration = Duration::from_secs(1);

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files (uploaded whatever their name), and folders (walked for files whose extension
    /// names a supported format).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Follow processing until every uploaded document is COMPLETED or FAILED.
    #[arg(long)]
    wait: bool,
    /// Uploads in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    jobs: u16,
    #[command(flatten)]
    server: ServerArgs,
}

/// What became of one file.
enum Outcome {
    /// Uploaded now (`fresh`), or already held by the server (409): the document, and once
    /// followed to COMPLETED, its chunks.
    Ingested {
        id: Uuid,
        fresh: bool,
        chunks: Option<u64>,
    },
    /// Refused at upload, unreadable, or FAILED in processing: the code and why.
    Failed { code: String, message: String },
}

struct Ingested {
    path: PathBuf,
    outcome: Outcome,
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let files = files_under(&args.paths)?;
    ensure!(
        !files.is_empty(),
        "no file of a supported format under the paths given"
    );
    let client = Client::new(&args.server)?;
    let mut results = upload_all(&client, files, args.jobs.into()).await?;
    if args.wait {
        follow_processing(&client, &mut results).await?;
    }
    let failed = summarise(&results, args.wait);
    ensure!(failed == 0, "{failed} of {} files failed", results.len());
    Ok(())
}

/// Each file named, and each supported file in the folders named (at any depth, hidden names
/// skipped), with its size, in path order.
fn files_under(paths: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, u64)>> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push((path.clone(), meta.len()));
        }
    }
    Ok(found)
}

fn walk(folder: &Path, found: &mut Vec<(PathBuf, u64)>) -> anyhow::Result<()> {
    let mut entries = std::fs::read_dir(folder)
        .with_context(|| format!("{}", folder.display()))?
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let (path, meta) = (entry.path(), entry.metadata()?);
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if meta.is_dir() {
            walk(&path, found)?;
        } else if is_supported(&path) {
            found.push((path, meta.len()));
        }
    }
    Ok(())
}

fn is_supported(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(|e| Format::from_extension(&e.to_ascii_lowercase()))
        .is_some()
}

async fn upload_all(
    client: &Client,
    files: Vec<(PathBuf, u64)>,
    jobs: usize,
) -> anyhow::Result<Vec<Ingested>> {
    let (count, bytes) = (files.len(), files.iter().map(|(_, size)| size).sum());
    eprintln!("uploading {count} files ({})", HumanBytes(bytes));
    let progress = Progress::new("uploading", bytes, Unit::Bytes);
    let mut uploads = stream::iter(files)
        .map(|(path, size)| async move { (upload_one(client, &path).await, path, size) })
        .buffer_unordered(jobs);
    let mut results = Vec::with_capacity(count);
    while let Some((outcome, path, size)) = uploads.next().await {
        results.push(Ingested {
            path,
            outcome: outcome?,
        });
        progress.advance(size, format!("{}/{count} files", results.len()));
    }
    progress.finish();
    results.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(results)
}

/// One upload's outcome; an error only when the server cannot be reached at all.
async fn upload_one(client: &Client, path: &Path) -> anyhow::Result<Outcome> {
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(e) => return Ok(failed("UNREADABLE", e.to_string())),
    };
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let ingested = |id, fresh| Outcome::Ingested {
        id,
        fresh,
        chunks: None,
    };
    Ok(match client.upload(name, bytes).await? {
        Ok(id) => ingested(id, true),
        Err((StatusCode::CONFLICT, refusal)) => match refusal.existing_id {
            Some(id) => ingested(id, false),
            None => failed(&refusal.error, refusal.message),
        },
        Err((_, refusal)) => failed(&refusal.error, refusal.message),
    })
}

fn failed(code: &str, message: String) -> Outcome {
    Outcome::Failed {
        code: code.to_owned(),
        message,
    }
}

/// Polls each document (uploaded now or already held) until it is COMPLETED or FAILED.
async fn follow_processing(client: &Client, results: &mut [Ingested]) -> anyhow::Result<()> {
    let waiting = |r: &Ingested| matches!(r.outcome, Outcome::Ingested { chunks: None, .. });
    let total = results.iter().filter(|r| waiting(r)).count();
    let progress = Progress::new("processing", total as u64, Unit::Documents);
    let mut chunks = 0;
    while results.iter().any(waiting) {
        for result in results.iter_mut().filter(|r| waiting(r)) {
            let Outcome::Ingested { id, fresh, .. } = result.outcome else {
                continue;
            };
            let state = client.document(id).await?;
            let count = state.chunk_count.unwrap_or(0);
            result.outcome = match state.status.as_str() {
                "COMPLETED" => Outcome::Ingested {
                    id,
                    fresh,
                    chunks: Some(count),
                },
                "FAILED" => failed(
                    state.fail_reason.as_deref().unwrap_or("FAILED"),
                    state.fail_message.unwrap_or_default(),
                ),
                _ => continue,
            };
            if fresh {
                chunks += count;
            }
            progress.advance(1, format!("{chunks} chunks embedded"));
        }
        if results.iter().any(waiting) {
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
    progress.finish();
    Ok(())
}

/// Prints what became of the files, each failure with its code; returns how many failed.
fn summarise(results: &[Ingested], waited: bool) -> usize {
    let (mut fresh, mut held, mut chunks, mut failures) = (0, 0, 0, Vec::new());
    for r in results {
        match &r.outcome {
            Outcome::Ingested {
                fresh: true,
                chunks: c,
                ..
            } => {
                fresh += 1;
                chunks += c.unwrap_or(0);
            }
            Outcome::Ingested { .. } => held += 1,
            Outcome::Failed { code, message } => failures.push((r, code, message)),
        }
    }
    let done = if waited { "ingested" } else { "uploaded" };
    let mut line = format!(
        "{} files: {fresh} {done}, {held} already ingested, {} failed",
        results.len(),
        failures.len()
    );
    if waited {
        line += &format!(" ({chunks} chunks embedded)");
    }
    println!("{line}");
    for (r, code, message) in &failures {
        println!("  {}: {code}: {message}", r.path.display());
    }
    failures.len()
}
