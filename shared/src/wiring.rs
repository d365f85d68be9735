//! Chooses and connects the adapters the configuration asks for.

use std::sync::Arc;

use crate::{
    Error,
    adapters::{memory_rate_limiter::MemoryRateLimiter, postgres::PgStore, redis::Redis},
    config::Config,
    http::AppState,
    ports::{RateLimiter, ReadinessCheck},
};

pub struct Backends {
    pub postgres: PgStore,
    pub redis: Option<Redis>,
}

impl Backends {
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        let database_url = config.database_url.as_deref().ok_or_else(|| {
            Error::Config("DATABASE_URL is not set: point it at PostgreSQL with pgvector".into())
        })?;
        let postgres = PgStore::connect(database_url)?;
        let redis =
            match &config.redis_url {
                Some(url) => Some(Redis::connect(url).await.map_err(|e| {
                    Error::Config(format!("REDIS_URL: cannot connect to Redis ({e})"))
                })?),
                None => None,
            };
        Ok(Self { postgres, redis })
    }

    /// The HTTP state over these backends: rate limits in Redis when there is one, in memory otherwise.
    pub fn app_state(&self, config: Config) -> AppState {
        let mut readiness: Vec<Arc<dyn ReadinessCheck>> = vec![Arc::new(self.postgres.clone())];
        let rate_limiter: Arc<dyn RateLimiter> = match &self.redis {
            Some(redis) => {
                readiness.push(Arc::new(redis.clone()));
                Arc::new(redis.rate_limiter(config.rate_limit_window))
            }
            None => Arc::new(MemoryRateLimiter::new(config.rate_limit_window)),
        };
        AppState::new(
            config,
            Arc::new(self.postgres.clone()),
            rate_limiter,
            readiness,
        )
    }
}
