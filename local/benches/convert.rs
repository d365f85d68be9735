//! Conversion throughput per format over the sample documents (`../shared/data/documents`). Run
//! with `local/bench/convert`.
//!
//! Each file that converts is timed two ways: in this process (the converter alone), and through
//! the sandbox the worker uses (a `ragbase convert` child under its limits, so process start and
//! the JSON of the blocks count too). Each figure is the median of the runs that fit in about a
//! second, at least three. Per format: input MB/s over all its files, and for PDF pages/s.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    time::{Duration, Instant},
};

use ragbase::{
    convert::{convert, sandbox::Sandbox},
    domain::formats::{Format, detect},
};

const MB: f64 = 1e6;

/// Median time of at least three runs, more while they fit in a second.
async fn median<F: std::future::Future<Output = ()>>(mut run: impl FnMut() -> F) -> Duration {
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < 3 || (started.elapsed() < Duration::from_secs(1) && times.len() < 50) {
        let t = Instant::now();
        run().await;
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

#[derive(Default)]
struct Totals {
    files: usize,
    bytes: usize,
    pages: u32,
    in_process: Duration,
    sandboxed: Duration,
}

#[tokio::main]
async fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/documents");
    let sandbox = Sandbox::new(
        env!("CARGO_BIN_EXE_ragbase").into(),
        vec!["convert".into(), "--cpu-seconds".into(), "120".into()],
        Duration::from_secs(120),
    );
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flat_map(|folder| std::fs::read_dir(folder.unwrap().path()).unwrap())
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();

    let mut by_format: BTreeMap<&str, Totals> = BTreeMap::new();
    let mut skipped = Vec::new();
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        let Ok(format) = detect(&name, &bytes[..bytes.len().min(8192)]) else {
            skipped.push(format!("{name} (refused at upload)"));
            continue;
        };
        let blocks = match convert(format, &bytes) {
            Ok(blocks) if !blocks.is_empty() => blocks,
            Ok(_) => {
                skipped.push(format!("{name} (no text)"));
                continue;
            }
            Err(failure) => {
                skipped.push(format!("{name} ({})", failure.code.as_str()));
                continue;
            }
        };
        let in_process = median(|| async {
            std::hint::black_box(convert(format, &bytes).unwrap());
        })
        .await;
        let sandboxed = median(|| async {
            std::hint::black_box(
                sandbox
                    .convert(format, bytes.clone(), usize::MAX)
                    .await
                    .unwrap(),
            );
        })
        .await;
        let pages = blocks.iter().filter_map(|b| b.page).max().unwrap_or(0);
        println!(
            "- {name}: {:.2} MB, {} blocks, in process {:.1} ms, sandboxed {:.1} ms",
            bytes.len() as f64 / MB,
            blocks.len(),
            in_process.as_secs_f64() * 1e3,
            sandboxed.as_secs_f64() * 1e3
        );
        let totals = by_format.entry(format.as_str()).or_default();
        totals.files += 1;
        totals.bytes += bytes.len();
        totals.pages += if format == Format::Pdf { pages } else { 0 };
        totals.in_process += in_process;
        totals.sandboxed += sandboxed;
    }

    println!("\nNot timed: {}", skipped.join(", "));
    println!(
        "\n| format | files | MB | in process MB/s | sandboxed MB/s | pages/s (in process / sandboxed) |"
    );
    println!("|---|---|---|---|---|---|");
    for (format, t) in &by_format {
        let rate = |time: Duration| t.bytes as f64 / MB / time.as_secs_f64();
        let pages = if t.pages > 0 {
            format!(
                "{:.0} / {:.0}",
                f64::from(t.pages) / t.in_process.as_secs_f64(),
                f64::from(t.pages) / t.sandboxed.as_secs_f64()
            )
        } else {
            "—".into()
        };
        println!(
            "| {format} | {} | {:.2} | {:.1} | {:.1} | {pages} |",
            t.files,
            t.bytes as f64 / MB,
            rate(t.in_process),
            rate(t.sandboxed)
        );
    }
}
