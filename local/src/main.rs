//! `ragbase`: the long-running server and its operational commands.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use ragbase::{config::Config, http, telemetry, wiring::Backends};

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
    /// Serve the HTTP API (the default command).
    Serve {
        /// Apply pending database migrations before serving.
        #[arg(long)]
        migrate: bool,
    },
    /// Apply pending database migrations, then exit.
    Migrate,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
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
    match cli.command.unwrap_or(Command::Serve { migrate: false }) {
        Command::Serve { migrate } => serve(config, migrate).await,
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
    }
}

async fn serve(config: Config, migrate: bool) -> anyhow::Result<()> {
    let backends = Backends::connect(&config).await?;
    if migrate {
        backends
            .postgres
            .migrate()
            .await
            .context("migrating the database")?;
    }
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
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot listen on PORT {}", config.port))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        url = %format!("http://localhost:{}", addr.port()),
        redis = backends.redis.is_some(),
        auth = !config.api_keys.is_empty(),
        "ragbase listening"
    );
    if config.api_keys.is_empty() {
        tracing::warn!(
            "API_KEY is not set: /api routes are open to anyone who can reach this port"
        );
    }
    let router = http::router(backends.app_state(config));
    http::serve(listener, router, http::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
