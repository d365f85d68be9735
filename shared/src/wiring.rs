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
    app::worker::Worker,
    config::Config,
    convert::sandbox::Sandbox,
    http::AppState,
    ports::{Embedder, Queue, RateLimiter, ReadinessCheck, Store},
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
        let (store, postgres, embedded): (Arc<dyn Store>, _, _) = match &config.store.database_url {
            Some(url) => {
                let postgres = PgStore::connect(
                    url,
                    config.store.hnsw_ef_search,
                    config.store.statement_timeout,
                )?
                .with_keywords(config.store.keyword_index, config.store.keyword_candidates);
                readiness.push(Arc::new(postgres.clone()));
                (Arc::new(postgres.clone()), Some(postgres), None)
            }
            None => {
                let embedded = SqliteStore::open(&config.store.data_dir).await?;
                readiness.push(Arc::new(embedded.clone()));
                (Arc::new(embedded.clone()), None, Some(embedded))
            }
        };
        let redis = match &config.queue.redis_url {
            Some(url) => Some(Redis::connect(url).await.map_err(unreachable_redis)?),
            None => None,
        };
        // Counters in Redis are shared by every instance; in memory, each instance counts alone.
        let rate_limiter: Arc<dyn RateLimiter> = match &redis {
            Some(redis) => {
                readiness.push(Arc::new(redis.clone()));
                Arc::new(redis.rate_limiter(config.http.rate_limit_window))
            }
            None => Arc::new(MemoryRateLimiter::new(config.http.rate_limit_window)),
        };
        let (queue, queue_kind) = connect_queue(config, embedded.as_ref()).await?;
        readiness.push(queue.clone());
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
            lease: config.queue.queue_lease,
            requeue_pending_after: config.queue.requeue_pending_after,
            max_chunks: config.worker.max_document_chunks,
        }
    }
}

/// A queue that `/ready` also checks.
trait CheckedQueue: Queue + ReadinessCheck {}

impl<T: Queue + ReadinessCheck> CheckedQueue for T {}

/// Jobs on SQS when it is configured, else on Redis, else in the embedded store; and the queue's
/// name for the first log line.
async fn connect_queue(
    config: &Config,
    embedded: Option<&SqliteStore>,
) -> Result<(Arc<dyn CheckedQueue>, &'static str), Error> {
    let queue = &config.queue;
    Ok(match (&queue.sqs, &queue.redis_url, embedded) {
        (Some(sqs), _, _) => {
            let (url, dead) = (&sqs.queue_url, &sqs.dead_letter_queue_url);
            let endpoint = sqs.endpoint.as_deref();
            let sqs = SqsQueue::new(url, dead, endpoint, queue.queue_lease).await;
            (Arc::new(sqs), "sqs")
        }
        (None, Some(url), _) => {
            let redis = RedisQueue::connect(url, &queue.queue_name, queue.queue_lease)
                .await
                .map_err(unreachable_redis)?;
            (Arc::new(redis), "redis")
        }
        (None, None, Some(embedded)) => (
            Arc::new(embedded.queue(queue.queue_lease).await?),
            "embedded",
        ),
        (None, None, None) => {
            return Err(Error::Config(
                "REDIS_URL is not set: with DATABASE_URL, jobs and rate limits need Redis (or \
                 jobs SQS: SQS_QUEUE_URL); set REDIS_URL, or unset DATABASE_URL for the \
                 embedded store"
                    .into(),
            ));
        }
    })
}

fn unreachable_redis(e: Error) -> Error {
    Error::Config(format!("REDIS_URL: cannot connect to Redis ({e})"))
}

/// The embedding model, loaded once per process and shared by the query route and the worker.
pub fn load_embedder(config: &Config) -> Result<Arc<dyn Embedder>, Error> {
    let embedder = OnnxEmbedder::load(
        &config.model.embedding_model_dir,
        config.model.embedding_threads,
    )?;
    Ok(Arc::new(embedder))
}
