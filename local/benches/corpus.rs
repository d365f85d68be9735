//! Fills a benchmark corpus of N chunks into a database of its own (see `common/corpus`) and
//! prints `export DATABASE_URL=...` of it. Run with `local/bench/corpus N [--adversarial]`.

mod common;
#[path = "common/corpus/mod.rs"]
mod corpus;

use ragbase::{config::Config, wiring::load_embedder};

#[tokio::main]
async fn main() {
    let chunks: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .expect("usage: corpus N [--adversarial]");
    let kind = if std::env::args().any(|a| a == "--adversarial") {
        corpus::Kind::Adversarial
    } else {
        corpus::Kind::Realistic
    };
    let base_url = std::env::var("DATABASE_URL").expect("DATABASE_URL (run local/bench/corpus)");
    let embedder = load_embedder(&Config::from_env().unwrap()).unwrap();
    let url = corpus::prepare(&base_url, kind, chunks, embedder.as_ref()).await;
    println!("export DATABASE_URL={url}");
}
