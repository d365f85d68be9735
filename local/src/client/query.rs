//! `ragbase query "question"`: the passages found, each with its citation, or the server's
//! answer as JSON.

use clap::Args;
use serde::Deserialize;
use serde_json::json;

use super::{Client, ServerArgs};

/// How much of each passage the plain listing shows.
const PASSAGE_CHARS: usize = 400;

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The question.
    question: String,
    /// `semantic`, or `hybrid` (keywords and vectors fused).
    #[arg(long, default_value = "semantic", value_parser = ["semantic", "hybrid"])]
    mode: String,
    /// How many passages.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=100))]
    top_k: u16,
    /// Hybrid: the weight of the vector ranks against the keyword ranks, 0 to 1.
    #[arg(long)]
    alpha: Option<f64>,
    /// Print the server's answer as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Deserialize)]
struct Answer {
    results: Vec<Passage>,
}

#[derive(Deserialize)]
struct Passage {
    score: f64,
    filename: String,
    content: String,
    metadata: Place,
}

#[derive(Deserialize)]
struct Place {
    page: Option<u32>,
    #[serde(default)]
    breadcrumbs: Vec<String>,
}

pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let mut body = json!({"query": args.question, "mode": args.mode, "topK": args.top_k});
    if let Some(alpha) = args.alpha {
        body["alpha"] = json!(alpha);
    }
    let answer = Client::new(&args.server)?.query(&body).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let answer: Answer = serde_json::from_value(answer)?;
    if answer.results.is_empty() {
        println!("Nothing found.");
    }
    for (rank, passage) in answer.results.iter().enumerate() {
        println!(
            "{}. {}  (score {:.3})",
            rank + 1,
            citation(passage),
            passage.score
        );
        println!("   {}\n", excerpt(&passage.content));
    }
    Ok(())
}

/// File, page and heading path, as a reader cites a passage.
fn citation(passage: &Passage) -> String {
    let mut parts = vec![passage.filename.clone()];
    if let Some(page) = passage.metadata.page {
        parts.push(format!("p. {page}"));
    }
    if !passage.metadata.breadcrumbs.is_empty() {
        parts.push(passage.metadata.breadcrumbs.join(" › "));
    }
    parts.join(" · ")
}

/// The passage on one line, cut at a word near `PASSAGE_CHARS`.
fn excerpt(content: &str) -> String {
    let flat = content.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= PASSAGE_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(PASSAGE_CHARS).collect();
    let at_word = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{at_word} …")
}
