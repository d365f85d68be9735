//! Chooses and connects the adapters the configuration asks for: PostgreSQL when `DATABASE_URL`
//! is set, else the embedded store in `RAGBASE_DATA_DIR`; jobs on SQS when `SQS_QUEUE_URL` is set,
//! else on Redis when `REDIS_URL` is set, else in the embedded store; rate limits in Redis when it
//! is set, else in memory.

use std::sync::Arc;

use crate::{
    Error,
    adapters::{
        memory_rate_limiter::MemoryRateLimiter, onnx_embedder::OnnxEmbedder, postgres::PgStore,
        redis::Redis, redis_queue::RedisQueue, sqlite::SqliteStore, sqs_queue::SqsQueue,
    },
    config::Config,
    convert::sandbox::Sandbox,
    http::AppState,
    ports::{Embedder, Queue, RateLimiter, ReadinessCheck, Store},
    worker::Worker,
};

pub struct Backends {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    rate_limiter: Arc<dyn RateLimiter>,
    readiness: Vec<Arc<dyn ReadinessCheck>>,
    /// PostgreSQL when it is the store: its migrations are a deliberate step (the embedded
    /// store migrates itself when opened).
    pub postgres: Option<PgStore>,
    /// What serves, for the start-up log: `postgres` or `embedded`.
    pub store_kind: &'static str,
    /// `sqs`, `redis` or `embedded`.
    pub queue_kind: &'static str,
}

impl Backends {
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        let mut readiness: Vec<Arc<dyn ReadinessCheck>> = Vec::new();
        let (store, postgres, embedded): (Arc<dyn Store>, _, _) = match &config.database_url {
            Some(url) => {
                let postgres = PgStore::connect(url, config.hnsw_ef_search)?;
                readiness.push(Arc::new(postgres.clone()));
                (Arc::new(postgres.clone()), Some(postgres), None)
            }
            None => {
                let embedded = SqliteStore::open(&config.data_dir).await?;
                readiness.push(Arc::new(embedded.clone()));
                (Arc::new(embedded.clone()), None, Some(embedded))
            }
        };
        let unreachable =
            |e: Error| Error::Config(format!("REDIS_URL: cannot connect to Redis ({e})"));
        let redis = match &config.redis_url {
            Some(url) => Some(Redis::connect(url).await.map_err(unreachable)?),
            None => None,
        };
        // Counters in Redis are shared by every instance; in memory, each instance counts alone.
        let rate_limiter: Arc<dyn RateLimiter> = match &redis {
            Some(redis) => {
                readiness.push(Arc::new(redis.clone()));
                Arc::new(redis.rate_limiter(config.rate_limit_window))
            }
            None => Arc::new(MemoryRateLimiter::new(config.rate_limit_window)),
        };
        let (queue, queue_kind): (Arc<dyn Queue>, _) =
            match (&config.sqs, &config.redis_url, embedded) {
                (Some(sqs), _, _) => {
                    let queue = Arc::new(
                        SqsQueue::new(
                            &sqs.queue_url,
                            &sqs.dead_letter_queue_url,
                            sqs.endpoint.as_deref(),
                            config.queue_lease,
                        )
                        .await,
                    );
                    readiness.push(queue.clone());
                    (queue as Arc<dyn Queue>, "sqs")
                }
                (None, Some(url), _) => {
                    let queue = Arc::new(
                        RedisQueue::connect(url, &config.queue_name, config.queue_lease)
                            .await
                            .map_err(unreachable)?,
                    );
                    readiness.push(queue.clone());
                    (queue as Arc<dyn Queue>, "redis")
                }
                (None, None, Some(embedded)) => {
                    let queue = Arc::new(embedded.queue(config.queue_lease).await?);
                    readiness.push(queue.clone());
                    (queue as Arc<dyn Queue>, "embedded")
                }
                (None, None, None) => {
                    return Err(Error::Config(
                        "REDIS_URL is not set: with DATABASE_URL, jobs and rate limits need \
                         Redis (or jobs SQS: SQS_QUEUE_URL); set REDIS_URL, or unset \
                         DATABASE_URL for the embedded store"
                            .into(),
                    ));
                }
            };
        Ok(Self {
            store,
            store_kind: if postgres.is_some() {
                "postgres"
            } else {
                "embedded"
            },
            queue_kind,
            queue,
            rate_limiter,
            readiness,
            postgres,
        })
    }

    /// The HTTP state over these backends.
    pub fn app_state(&self, config: Config, embedder: Option<Arc<dyn Embedder>>) -> AppState {
        AppState::new(
            config,
            self.store.clone(),
            self.queue.clone(),
            embedder,
            self.rate_limiter.clone(),
            self.readiness.clone(),
        )
    }

    /// A worker over these backends that converts in `sandbox`'s children.
    pub fn worker(&self, config: &Config, embedder: Arc<dyn Embedder>, sandbox: Sandbox) -> Worker {
        Worker {
            store: self.store.clone(),
            queue: self.queue.clone(),
            embedder,
            sandbox,
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
