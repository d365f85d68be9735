//! `ragbase`: the long-running server, the worker, and their operational commands.

use std::{path::Path, process::ExitCode, sync::Arc};

use anyhow::{Context, bail, ensure};
use clap::{Parser, Subcommand};
use ragbase::{
    config::Config,
    convert::sandbox::{self, Sandbox},
    http::{self, Routes},
    ports::Embedder,
    telemetry,
    wiring::{Backends, load_embedder},
    worker::Worker,
};
use tokio::sync::watch;

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
    /// Measure retrieval quality on a test collection: ingest it, run its queries, print
    /// nDCG@10, recall@100 and MRR@10 per mode as JSON lines.
    Eval(eval::EvalArgs),
}

fn main() -> ExitCode {
    // A converter child runs without an async runtime: nothing but the conversion in it.
    if let Some(code) = sandbox::run_child_if_asked() {
        return ExitCode::from(code as u8);
    }
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("the async runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line an operator can act on, not a backtrace.
            eprintln!("ragbase: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    telemetry::init_logging(&config);
    match cli.command.unwrap_or(Command::Serve {
        migrate: false,
        no_worker: false,
    }) {
        Command::Serve { migrate, no_worker } => {
            let backends = connect(&config, migrate).await?;
            let embedder = embedder(&config)?;
            let worker = if no_worker {
                None
            } else {
                Some(backends.worker(&config, embedder.clone(), converter(&config)?))
            };
            let router = http::router(backends.app_state(config.clone(), Some(embedder)));
            serve(&config, &backends, router, worker).await
        }
        Command::Worker => {
            let backends = connect(&config, false).await?;
            let embedder = embedder(&config)?;
            let worker = backends.worker(&config, embedder.clone(), converter(&config)?);
            // Its own probes and metrics, so that Prometheus sees each worker's counters.
            let router = http::router_for(
                Routes::Probes,
                backends.app_state(config.clone(), Some(embedder)),
            );
            serve(&config, &backends, router, Some(worker)).await
        }
        Command::Migrate => {
            // Opening the embedded store migrates it; PostgreSQL is migrated here.
            if let Some(postgres) = Backends::connect(&config).await?.postgres {
                postgres.migrate().await.context("migrating the database")?;
            }
            tracing::info!("database migrated");
            Ok(())
        }
        Command::Eval(args) => eval::run(config, args).await,
    }
}

/// Loads the embedding model. In a checkout (`cargo run`), a missing model is fetched first by
/// the checkout's own `local/fetch-model`, once; elsewhere (an image carries its model) a missing
/// model stops start-up with a message naming `EMBEDDING_MODEL_DIR`.
fn embedder(config: &Config) -> anyhow::Result<Arc<dyn Embedder>> {
    let (dir, fetcher) = (&config.embedding_model_dir, Path::new("local/fetch-model"));
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
    Sandbox::of_this_executable(config.conversion_timeout)
        .context("locating the ragbase executable")
}

async fn ensure_migrated(backends: &Backends) -> anyhow::Result<()> {
    let Some(postgres) = &backends.postgres else {
        return Ok(()); // the embedded store migrates itself when opened
    };
    let pending = postgres
        .pending_migrations()
        .await
        .context("reading the database's migrations")?;
    if !pending.is_empty() {
        bail!(
            "the database at DATABASE_URL is not migrated (pending: {pending:?}); \
             run `ragbase migrate` first, or start with `ragbase serve --migrate`"
        );
    }
    Ok(())
}

/// Connects the configured backends; PostgreSQL must be migrated, by `migrate` or beforehand.
async fn connect(config: &Config, migrate: bool) -> anyhow::Result<Backends> {
    let backends = Backends::connect(config).await?;
    if let (true, Some(postgres)) = (migrate, &backends.postgres) {
        postgres.migrate().await.context("migrating the database")?;
    }
    ensure_migrated(&backends).await?;
    Ok(backends)
}

/// Serves `router` on PORT, and runs `worker` beside it, until SIGTERM or SIGINT; then lets
/// requests in flight and the job in hand finish.
async fn serve(
    config: &Config,
    backends: &Backends,
    router: axum::Router,
    worker: Option<Worker>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((config.host, config.port))
        .await
        .with_context(|| format!("cannot listen on HOST {} PORT {}", config.host, config.port))?;
    let addr = listener.local_addr()?;
    let data_dir =
        (backends.store_kind == "embedded").then(|| config.data_dir.display().to_string());
    let port = addr.port();
    macro_rules! listening {
        ($level:ident, $access:expr) => {
            tracing::$level!(
                %addr,
                url = %format!("http://localhost:{port}"),
                store = backends.store_kind,
                queue = backends.queue_kind,
                data_dir,
                worker = worker.is_some(),
                auth = !config.api_keys.is_empty(),
                access = $access,
                "Server running on port {port}"
            )
        };
    }
    match (config.api_keys.is_empty(), addr.ip().is_loopback()) {
        (false, _) => listening!(info, "an API key is required on /api"),
        (true, true) => listening!(
            warn,
            "API_KEY is not set, so /api is open: listening on this machine only (HOST changes the address)"
        ),
        (true, false) => listening!(
            warn,
            "API_KEY is not set, so /api is open to anyone who can reach this address"
        ),
    }
    let (stop, stopped) = watch::channel(false);
    let worker = worker.map(|w| {
        let stopped = stopped.clone();
        tokio::spawn(async move { w.run(stopped).await })
    });
    let shutdown = {
        let stop = stop.clone();
        async move {
            http::shutdown_signal().await;
            let _ = stop.send(true);
        }
    };
    http::serve(listener, router, shutdown).await?;
    let _ = stop.send(true);
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    tracing::info!("stopped");
    Ok(())
}
