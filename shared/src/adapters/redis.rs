//! Redis: rate-limit counters shared by every instance, and its readiness check.

use std::time::Duration;

use async_trait::async_trait;
use redis::{Script, aio::ConnectionManager};

use crate::{
    Error,
    ports::{RateLimiter, RateWindow, ReadinessCheck},
};

/// Counts a hit and reads the window's remaining time in one atomic step, so
/// concurrent requests on any number of instances are counted exactly.
const HIT_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

#[derive(Clone)]
pub struct Redis {
    connection: ConnectionManager,
}

impl Redis {
    /// Connects once; the manager reconnects by itself after Redis restarts.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::Config(format!("REDIS_URL is invalid: {e}")))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| Error::backend("redis", e))?;
        Ok(Self { connection })
    }

    /// A handle on the shared, self-reconnecting connection.
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    pub fn rate_limiter(&self, window: Duration) -> RedisRateLimiter {
        RedisRateLimiter {
            redis: self.clone(),
            window_ms: window.as_millis() as u64,
            script: Script::new(HIT_SCRIPT),
        }
    }
}

#[async_trait]
impl ReadinessCheck for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), Error> {
        let mut connection = self.connection.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|e| Error::backend("redis", e))?;
        Ok(())
    }
}

pub struct RedisRateLimiter {
    redis: Redis,
    window_ms: u64,
    script: Script,
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, client: &str) -> Result<RateWindow, Error> {
        let mut connection = self.redis.connection.clone();
        let (count, ttl_ms): (u64, u64) = self
            .script
            .key(format!("ragbase:ratelimit:{client}"))
            .arg(self.window_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| Error::backend("redis", e))?;
        Ok(RateWindow {
            count,
            reset_after: Duration::from_millis(ttl_ms),
        })
    }
}
