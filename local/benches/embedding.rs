//! Embedding throughput of the tract embedder, with onnxruntime on the same model file, the same
//! inputs and the same thread count measured in the same run, for the fp32 model and its int8
//! graph (`INT8_MODEL_DIR`). Run with `local/bench/embedding`.
//!
//! Inputs come from the Cranfield collection: "long" = 64 passages that fill the model's
//! 256-token window, "short" = the 225 development queries (about 20 tokens each).

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use ragbase::{adapters::onnx_embedder::OnnxEmbedder, ports::Embedder};

/// Median seconds of three timed runs after one warm-up.
fn median_seconds(mut run: impl FnMut()) -> f64 {
    run();
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[1]
}

fn main() {
    let dir = |name: &str| {
        PathBuf::from(
            std::env::var(name).unwrap_or_else(|_| panic!("{name}: run local/bench/embedding")),
        )
    };
    let python = std::env::var("ORT_PYTHON")
        .expect("ORT_PYTHON: a Python with onnxruntime (run local/bench/embedding)");
    let variants = [
        ("fp32", dir("EMBEDDING_MODEL_DIR")),
        ("int8", dir("INT8_MODEL_DIR")),
    ];
    let counter = OnnxEmbedder::load(&variants[0].1, 1).unwrap();
    let inputs = [
        ("256 tokens", full_windows(&counter, 64)),
        (
            "short queries",
            common::cranfield_texts("queries-dev.jsonl"),
        ),
    ];
    println!(
        "| input | texts | threads | model | tract tokens/s | onnxruntime tokens/s (its best batch) | tract / onnxruntime |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut latencies = Vec::new();
    for (name, texts) in &inputs {
        let tokens: usize = texts.iter().map(|t| counter.count_tokens(t).min(256)).sum();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        for threads in [1, 2] {
            let mut best = (0f64, 0f64);
            for (variant, dir) in &variants {
                let embedder = OnnxEmbedder::load(dir, threads).unwrap();
                let seconds = median_seconds(|| {
                    embedder.embed(&refs).unwrap();
                });
                let ort = onnxruntime(&python, dir, texts, threads);
                let tract_tps = tokens as f64 / seconds;
                let ort_tps = ort["tokens"].as_f64().unwrap() / ort["seconds"].as_f64().unwrap();
                best = (best.0.max(tract_tps), best.1.max(ort_tps));
                let (batch, ratio) = (&ort["batch"], tract_tps / ort_tps);
                println!(
                    "| {name} | {} | {threads} | {variant} | {tract_tps:.0} | {ort_tps:.0} ({batch}) | {ratio:.2} |",
                    texts.len()
                );
                if threads == 1 && *name == "short queries" {
                    let (p50, p99) = alone_latency_ms(&embedder, &refs);
                    let ort_ms = |at: usize| ort["latency_ms"][at].as_f64().unwrap();
                    latencies.push(format!(
                        "| {} questions, one at a time, 1 thread | {variant} | {p50:.2} / {p99:.2} | {:.2} / {:.2} |",
                        texts.len(),
                        ort_ms(0),
                        ort_ms(1)
                    ));
                }
            }
            let (tract, ort) = best;
            println!(
                "| {name} | {} | {threads} | each one's best | {tract:.0} | {ort:.0} | {:.2} |",
                texts.len(),
                tract / ort
            );
        }
    }
    println!();
    println!(
        "| single-question embedding | model | tract p50 / p99 ms | onnxruntime p50 / p99 ms |"
    );
    println!("|---|---|---|---|");
    println!("{}", latencies.join("\n"));
}

/// `count` passages of Cranfield abstracts' words, each just filling the model's 256-token window.
fn full_windows(counter: &OnnxEmbedder, count: usize) -> Vec<String> {
    let words: Vec<String> = common::cranfield_texts("corpus.jsonl")
        .iter()
        .flat_map(|text| {
            text.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut passages = Vec::new();
    let mut at = 0;
    while passages.len() < count {
        let mut end = at + 150;
        while counter.count_tokens(&words[at..end].join(" ")) < 256 {
            end += 10;
        }
        passages.push(words[at..end].join(" "));
        at = end;
    }
    passages
}

/// onnxruntime on the same texts and threads: its throughput at its best batch, and its latency.
fn onnxruntime(
    python: &str,
    model_dir: &Path,
    texts: &[String],
    threads: usize,
) -> serde_json::Value {
    let inputs = std::env::temp_dir().join(format!("ragbase-bench-{}.json", std::process::id()));
    std::fs::write(&inputs, serde_json::to_string(texts).unwrap()).unwrap();
    let ort = Command::new(python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("model/ort_throughput.py"))
        .arg(model_dir)
        .arg(&inputs)
        .arg(threads.to_string())
        .output()
        .unwrap();
    std::fs::remove_file(inputs).ok();
    assert!(
        ort.status.success(),
        "{}",
        String::from_utf8_lossy(&ort.stderr)
    );
    serde_json::from_slice(&ort.stdout).unwrap()
}

/// The p50 and p99 of embedding each text alone, as a search embeds its question.
fn alone_latency_ms(embedder: &OnnxEmbedder, texts: &[&str]) -> (f64, f64) {
    let mut times: Vec<f64> = texts
        .iter()
        .map(|text| {
            let started = Instant::now();
            embedder.embed(&[text]).unwrap();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}
