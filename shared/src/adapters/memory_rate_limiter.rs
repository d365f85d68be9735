//! Fixed-window request counters in this process, for a single instance without Redis.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;

use crate::{
    Error,
    ports::{RateLimiter, RateWindow},
};

/// Expired windows are swept once the map holds this many clients, so memory stays bounded.
const SWEEP_AT: usize = 10_000;

pub struct MemoryRateLimiter {
    window: Duration,
    windows: Mutex<HashMap<String, (Instant, u64)>>,
}

impl MemoryRateLimiter {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn hit_at(&self, client: &str, now: Instant) -> RateWindow {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let (start, count) = windows.entry(client.to_owned()).or_insert((now, 0));
        if now.duration_since(*start) >= self.window {
            *start = now;
            *count = 0;
        }
        *count += 1;
        RateWindow {
            count: *count,
            reset_after: self.window.saturating_sub(now.duration_since(*start)),
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(&self, client: &str) -> Result<RateWindow, Error> {
        Ok(self.hit_at(client, Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_client_and_resets_after_the_window() {
        let limiter = MemoryRateLimiter::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(limiter.hit_at("a", t0).count, 1);
        assert_eq!(limiter.hit_at("a", t0 + Duration::from_secs(10)).count, 2);
        assert_eq!(limiter.hit_at("b", t0 + Duration::from_secs(10)).count, 1);
        let w = limiter.hit_at("a", t0 + Duration::from_secs(30));
        assert_eq!((w.count, w.reset_after), (3, Duration::from_secs(30)));
        let fresh = limiter.hit_at("a", t0 + Duration::from_secs(60));
        assert_eq!(
            (fresh.count, fresh.reset_after),
            (1, Duration::from_secs(60))
        );
    }

    #[test]
    fn expired_clients_are_swept() {
        let limiter = MemoryRateLimiter::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..SWEEP_AT {
            limiter.hit_at(&i.to_string(), t0);
        }
        limiter.hit_at("late", t0 + Duration::from_secs(2));
        assert_eq!(limiter.windows.lock().unwrap().len(), 1);
    }

    #[test]
    fn exact_under_concurrency() {
        let limiter = std::sync::Arc::new(MemoryRateLimiter::new(Duration::from_secs(60)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || {
                    (0..500)
                        .map(|_| limiter.hit_at("x", Instant::now()).count)
                        .max()
                })
            })
            .collect();
        let highest = threads.into_iter().filter_map(|t| t.join().unwrap()).max();
        assert_eq!(highest, Some(4000));
    }
}
