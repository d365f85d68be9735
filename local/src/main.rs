//! `ragbase`: the long-running server, the worker, and their operational commands.

use std::{path::Path, process::ExitCode, sync::Arc};

use anyhow::{Context, ensure};
use clap::{Parser, Subcommand};
use ragbase::{
    config::{Config, variables},
    convert::sandbox::{self, Sandbox},
    http,
    ports::Embedder,
    startup::{self, Application, Role},
    telemetry,
    wiring::load_embedder,
};

mod client;
mod eval;

#[derive(Parser)]
#[command(
    name = "ragbase",
    version,
    about = "Turns documents into a searchable knowledge base"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default command), with a worker in the same process.
    Serve {
        /// Apply pending database migrations before serving.
        #[arg(long)]
        migrate: bool,
        /// Leave processing to separate `ragbase worker` processes.
        #[arg(long)]
        no_worker: bool,
    },
    /// Process queued documents until SIGTERM.
    Worker,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// List every setting: its value here (secrets only as "set"), its default and its meaning.
    Config,
    /// Measure retrieval quality on a test collection: ingest it, run its queries, print
    /// nDCG@10, recall@100 and MRR@10 per mode as JSON lines.
    Eval(eval::EvalArgs),
    /// Upload files and folders to a running server (`--wait` follows their processing), and
    /// list what failed; exits non-zero when anything did.
    Ingest(client::ingest::IngestArgs),
    /// Ask a running server a question: the passages found, with their citations.
    Query(client::query::QueryArgs),
}

fn main() -> ExitCode {
    // A converter child runs without an async runtime: nothing but the conversion in it.
    if let Some(code) = sandbox::run_child_if_asked() {
        return ExitCode::from(code as u8);
    }
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("the async runtime starts");
    let outcome = runtime.block_on(run(cli));
    // An abandoned job's embedding may still run on a blocking thread: do not wait for it.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line an operator can act on, not a backtrace.
            eprintln!("ragbase: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Before validation: these need none of the server's settings.
    match cli.command {
        Some(Command::Config) => {
            print!("{}", variables::table(|name| std::env::var(name).ok()));
            return Ok(());
        }
        Some(Command::Ingest(args)) => return client::ingest::run(args).await,
        Some(Command::Query(args)) => return client::query::run(args).await,
        _ => {}
    }
    let config = Config::from_env()?;
    telemetry::init_logging(&config);
    let command = cli.command.unwrap_or(Command::Serve {
        migrate: false,
        no_worker: false,
    });
    let (role, migrate) = match command {
        Command::Serve { migrate, no_worker } => {
            let worker = if no_worker {
                None
            } else {
                Some(converter(&config)?)
            };
            (Role::Server { worker }, migrate)
        }
        Command::Worker => (Role::Worker(converter(&config)?), false),
        Command::Migrate => {
            startup::migrate(&config).await?;
            tracing::info!("database migrated");
            return Ok(());
        }
        Command::Eval(args) => return eval::run(config, args).await,
        Command::Config | Command::Ingest(_) | Command::Query(_) => {
            unreachable!("answered before the configuration is read")
        }
    };
    let embedder = embedder(&config)?;
    let app = Application::build(config, role, migrate, embedder).await?;
    app.run_until_stopped(http::shutdown_signal()).await?;
    Ok(())
}

/// Loads the embedding model. In a checkout (`cargo run`), a missing model is fetched first by
/// the checkout's own `local/fetch-model`, once; elsewhere (an image carries its model) a missing
/// model stops start-up with a message naming `EMBEDDING_MODEL_DIR`.
fn embedder(config: &Config) -> anyhow::Result<Arc<dyn Embedder>> {
    let (dir, fetcher) = (
        &config.model.embedding_model_dir,
        Path::new("local/fetch-model"),
    );
    if !dir.join("model.onnx").is_file() && fetcher.is_file() {
        tracing::info!(dir = %dir.display(), "fetching the embedding model (once; about a minute)");
        let status = std::process::Command::new(fetcher)
            .env("EMBEDDING_MODEL_DIR", dir)
            .stdout(std::process::Stdio::null())
            .status()
            .context("running local/fetch-model")?;
        ensure!(
            status.success(),
            "local/fetch-model failed (its messages are above)"
        );
    }
    Ok(load_embedder(config)?)
}

/// Converter children are this executable running its `convert` command.
fn converter(config: &Config) -> anyhow::Result<Sandbox> {
    Sandbox::of_this_executable(config.worker.conversion_timeout)
        .context("locating the ragbase executable")
}
