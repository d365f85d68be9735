//! `ragbase`: the long-running server, the worker, and their operational commands.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use ragbase::{
    config::Config,
    convert::sandbox,
    domain::formats::Format,
    http, telemetry,
    wiring::{Backends, load_embedder},
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
    /// (internal) Convert one file from stdin in a sandboxed child process.
    #[command(hide = true)]
    Convert {
        #[arg(long, value_parser = |s: &str| Format::parse(s).ok_or("unknown format"))]
        format: Format,
        #[arg(long, default_value_t = 125)]
        cpu_seconds: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The converter child runs without an async runtime: nothing but the conversion in it.
    if let Some(Command::Convert {
        format,
        cpu_seconds,
    }) = cli.command
    {
        return ExitCode::from(sandbox::run_child(format, cpu_seconds) as u8);
    }
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
        Command::Serve { migrate, no_worker } => serve(config, migrate, no_worker).await,
        Command::Worker => {
            let backends = Backends::connect(&config).await?;
            ensure_migrated(&backends).await?;
            let (stop, stopped) = watch::channel(false);
            tokio::spawn(async move {
                http::shutdown_signal().await;
                let _ = stop.send(true);
            });
            backends
                .worker(&config, load_embedder(&config)?, converter(&config)?)
                .run(stopped)
                .await;
            Ok(())
        }
        Command::Migrate => {
            Backends::connect(&config)
                .await?
                .postgres
                .migrate()
                .await
                .context("migrating the database")?;
            tracing::info!("database migrated");
            Ok(())
        }
        Command::Eval(args) => eval::run(config, args).await,
        Command::Convert { .. } => unreachable!("handled before the runtime starts"),
    }
}

/// Converter children are this executable running its `convert` command.
fn converter(config: &Config) -> anyhow::Result<(std::path::PathBuf, Vec<String>)> {
    let program = std::env::current_exe().context("locating the ragbase executable")?;
    let cpu = (config.conversion_timeout.as_secs() + 5).to_string();
    Ok((program, vec!["convert".into(), "--cpu-seconds".into(), cpu]))
}

async fn ensure_migrated(backends: &Backends) -> anyhow::Result<()> {
    let pending = backends
        .postgres
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

async fn serve(config: Config, migrate: bool, no_worker: bool) -> anyhow::Result<()> {
    let backends = Backends::connect(&config).await?;
    if migrate {
        backends
            .postgres
            .migrate()
            .await
            .context("migrating the database")?;
    }
    ensure_migrated(&backends).await?;
    let embedder = load_embedder(&config)?;
    let worker = if no_worker {
        None
    } else {
        Some(backends.worker(&config, embedder.clone(), converter(&config)?))
    };
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot listen on PORT {}", config.port))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        url = %format!("http://localhost:{}", addr.port()),
        worker = worker.is_some(),
        auth = !config.api_keys.is_empty(),
        "ragbase listening"
    );
    if config.api_keys.is_empty() {
        tracing::warn!(
            "API_KEY is not set: /api routes are open to anyone who can reach this port"
        );
    }
    let (stop, stopped) = watch::channel(false);
    let worker = worker.map(|w| {
        let stopped = stopped.clone();
        tokio::spawn(async move { w.run(stopped).await })
    });
    let router = http::router(backends.app_state(config, embedder));
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
