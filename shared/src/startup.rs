//! Start-up, in the library so that tests can run the whole app in process: connect the backends
//! (migrating when asked), build the routes and the worker, listen, then serve until a shutdown
//! signal and let the requests in flight and the job in hand finish.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, OnceLock},
};

use tokio::{net::TcpListener, sync::watch, time::Instant};

use crate::{
    Error,
    app::worker::Worker,
    config::Config,
    convert::sandbox::Sandbox,
    http::{self, Routes},
    ports::Embedder,
    wiring::Backends,
};

/// What a process runs. A worker converts in the children of `Sandbox`.
pub enum Role {
    /// Every route, with a worker in the same process unless it is `None`.
    Server { worker: Option<Sandbox> },
    /// The worker, with its probes and `/metrics`, so that Prometheus sees each worker's counters.
    Worker(Sandbox),
}

pub struct Application {
    config: Config,
    backends: Backends,
    listener: TcpListener,
    router: axum::Router,
    /// Ends the event streams when the server stops.
    closing: Arc<watch::Sender<bool>>,
    worker: Option<Worker>,
}

impl Application {
    /// Connects and listens on HOST:PORT (PORT 0 picks a free port). With `migrate`, pending
    /// PostgreSQL migrations are applied first; without it, an unmigrated database is refused.
    pub async fn build(
        config: Config,
        role: Role,
        migrate: bool,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Self, Error> {
        let backends = connect(&config, migrate).await?;
        let (routes, sandbox) = match role {
            Role::Server { worker } => (Routes::All, worker),
            Role::Worker(sandbox) => (Routes::Probes, Some(sandbox)),
        };
        let worker = sandbox.map(|sandbox| backends.worker(&config, embedder.clone(), sandbox));
        let state = backends.app_state(config.clone(), Some(embedder));
        let closing = state.closing.clone();
        let router = http::router_for(routes, state);
        let listener = TcpListener::bind((config.http.host, config.http.port))
            .await
            .map_err(|e| {
                let (host, port) = (config.http.host, config.http.port);
                Error::Config(format!("cannot listen on HOST {host} PORT {port}: {e}"))
            })?;
        Ok(Self {
            config,
            backends,
            listener,
            router,
            closing,
            worker,
        })
    }

    pub fn address(&self) -> Result<SocketAddr, Error> {
        self.listener
            .local_addr()
            .map_err(|e| Error::Internal(format!("the listener has no address: {e}")))
    }

    /// Serves until `shutdown` completes, then drains: requests in flight and the worker's job
    /// in hand get `SHUTDOWN_GRACE_SECS` from the signal. A job that needs longer is abandoned;
    /// its lease runs out and another worker (or this one, started again) takes it.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        self.announce()?;
        let (stop, stopped) = watch::channel(false);
        let worker = self
            .worker
            .map(|w| tokio::spawn(async move { w.run(stopped).await }));
        let (stop_worker, signalled_at) = (stop.clone(), Arc::new(OnceLock::new()));
        let shutdown = {
            let (signalled_at, closing) = (signalled_at.clone(), self.closing);
            async move {
                shutdown.await;
                let _ = signalled_at.set(Instant::now());
                let _ = stop_worker.send(true);
                closing.send_replace(true);
            }
        };
        let grace = self.config.http.shutdown_grace;
        http::serve(self.listener, self.router, shutdown, &self.config.http).await;
        let _ = stop.send(true);
        if let Some(worker) = worker {
            let since = signalled_at.get().copied().unwrap_or_else(Instant::now);
            if tokio::time::timeout_at(since + grace, worker)
                .await
                .is_err()
            {
                tracing::warn!(
                    grace_seconds = grace.as_secs(),
                    "the job in hand did not finish within the grace period; it is abandoned and will be delivered again"
                );
            }
        }
        tracing::info!("stopped");
        Ok(())
    }

    /// The first log line: where the server listens, on which backends, and who may call it.
    fn announce(&self) -> Result<(), Error> {
        let (config, backends) = (&self.config, &self.backends);
        let addr = self.address()?;
        let port = addr.port();
        let data_dir = (backends.store_kind == "embedded")
            .then(|| config.store.data_dir.display().to_string());
        macro_rules! listening {
            ($level:ident, $access:expr) => {
                tracing::$level!(
                    %addr,
                    url = %format!("http://localhost:{port}"),
                    store = backends.store_kind,
                    queue = backends.queue_kind,
                    data_dir,
                    worker = self.worker.is_some(),
                    auth = !config.http.api_keys.is_empty(),
                    access = $access,
                    "Server running on port {port}"
                )
            };
        }
        match (config.http.api_keys.is_empty(), addr.ip().is_loopback()) {
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
        Ok(())
    }
}

/// `ragbase migrate`: applies PostgreSQL's pending migrations (the embedded store migrates
/// itself when it is opened).
pub async fn migrate(config: &Config) -> Result<(), Error> {
    if let Some(postgres) = Backends::connect(config).await?.postgres {
        postgres.migrate().await.map_err(migrating)?;
    }
    Ok(())
}

fn migrating(e: Error) -> Error {
    Error::Config(format!("migrating the database: {e}"))
}

/// Connects the configured backends; PostgreSQL must be migrated, by `migrate` or beforehand.
async fn connect(config: &Config, migrate: bool) -> Result<Backends, Error> {
    let backends = Backends::connect(config).await?;
    let Some(postgres) = &backends.postgres else {
        return Ok(backends); // the embedded store migrates itself when opened
    };
    if migrate {
        postgres.migrate().await.map_err(migrating)?;
    }
    let pending = postgres
        .pending_migrations()
        .await
        .map_err(|e| Error::Config(format!("reading the database's migrations: {e}")))?;
    if !pending.is_empty() {
        return Err(Error::Config(format!(
            "the database at DATABASE_URL is not migrated (pending: {pending:?}); \
             run `ragbase migrate` first, or start with `ragbase serve --migrate`"
        )));
    }
    postgres.keyword_path().await?;
    Ok(backends)
}
