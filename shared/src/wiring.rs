//! Chooses and connects the adapters the configuration asks for.

use std::{path::PathBuf, sync::Arc};

use crate::{
    Error,
    adapters::{
        onnx_embedder::OnnxEmbedder, postgres::PgStore, redis::Redis, redis_queue::RedisQueue,
    },
    config::Config,
    convert::sandbox::Sandbox,
    http::AppState,
    ports::{Embedder, RateLimiter, ReadinessCheck},
    worker::Worker,
};

pub struct Backends {
    pub postgres: PgStore,
    pub redis: Redis,
    pub queue: Arc<RedisQueue>,
}

impl Backends {
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        let required = |name: &str, what: &str| {
            Error::Config(format!("{name} is not set: point it at {what}"))
        };
        let database_url = config
            .database_url
            .as_deref()
            .ok_or_else(|| required("DATABASE_URL", "PostgreSQL with pgvector"))?;
        let redis_url = config
            .redis_url
            .as_deref()
            .ok_or_else(|| required("REDIS_URL", "Redis (the job queue)"))?;
        let postgres = PgStore::connect(database_url, config.hnsw_ef_search)?;
        let unreachable =
            |e: Error| Error::Config(format!("REDIS_URL: cannot connect to Redis ({e})"));
        let redis = Redis::connect(redis_url).await.map_err(unreachable)?;
        let queue = Arc::new(
            RedisQueue::connect(redis_url, &config.queue_name, config.queue_lease)
                .await
                .map_err(unreachable)?,
        );
        Ok(Self {
            postgres,
            redis,
            queue,
        })
    }

    /// The HTTP state over these backends; rate-limit counters live in Redis, shared by every instance.
    pub fn app_state(&self, config: Config, embedder: Arc<dyn Embedder>) -> AppState {
        let readiness: Vec<Arc<dyn ReadinessCheck>> = vec![
            Arc::new(self.postgres.clone()),
            Arc::new(self.redis.clone()),
            self.queue.clone(),
        ];
        let rate_limiter: Arc<dyn RateLimiter> =
            Arc::new(self.redis.rate_limiter(config.rate_limit_window));
        AppState::new(
            config,
            Arc::new(self.postgres.clone()),
            self.queue.clone(),
            embedder,
            rate_limiter,
            readiness,
        )
    }

    /// A worker over these backends that converts in children started as `converter` (this
    /// executable's `convert` command).
    pub fn worker(
        &self,
        config: &Config,
        embedder: Arc<dyn Embedder>,
        converter: (PathBuf, Vec<String>),
    ) -> Worker {
        Worker {
            store: Arc::new(self.postgres.clone()),
            queue: self.queue.clone(),
            embedder,
            sandbox: Sandbox::new(converter.0, converter.1, config.conversion_timeout),
            lease: config.queue_lease,
            max_chunks: config.max_document_chunks,
        }
    }
}

/// The embedding model, loaded once per process and shared by the query route and the worker.
pub fn load_embedder(config: &Config) -> Result<Arc<dyn Embedder>, Error> {
    let embedder = OnnxEmbedder::load(&config.embedding_model_dir, config.embedding_threads)?;
    Ok(Arc::new(embedder))
}
