//! Fixed-window request counters in this process, for a single instance without Redis. The
//! counters are sharded by client, each shard under its own lock, and bounded: a request costs
//! one map lookup, and a flood of new addresses cannot grow the map past `MAX_CLIENTS`.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;

use crate::{
    Error,
    ports::{RateLimiter, RateWindow},
};

const SHARDS: usize = 16;
/// Clients counted one by one at most. Past it, until expired windows make room, new clients
/// share one window per shard: a flood of addresses is limited as one client.
const MAX_CLIENTS: usize = 100_000;
const PER_SHARD: usize = MAX_CLIENTS / SHARDS;
/// The key of a full shard's shared window (no address reads like it).
const OVERFLOW: &str = "overflow";

struct Shard {
    windows: HashMap<String, (Instant, u64)>,
    /// A full shard sweeps its expired windows at most once a window.
    swept_at: Option<Instant>,
}

pub struct MemoryRateLimiter {
    window: Duration,
    hasher: RandomState,
    shards: Vec<Mutex<Shard>>,
}

impl MemoryRateLimiter {
    pub fn new(window: Duration) -> Self {
        let shard = || {
            Mutex::new(Shard {
                windows: HashMap::new(),
                swept_at: None,
            })
        };
        Self {
            window,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| shard()).collect(),
        }
    }

    fn hit_at(&self, client: &str, now: Instant) -> RateWindow {
        let index = self.hasher.hash_one(client) as usize % SHARDS;
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let full = shard.windows.len() >= PER_SHARD;
        if full
            && shard
                .swept_at
                .is_none_or(|at| now.duration_since(at) >= self.window)
        {
            shard
                .windows
                .retain(|_, (start, _)| now.duration_since(*start) < self.window);
            shard.swept_at = Some(now);
        }
        let key = if shard.windows.len() >= PER_SHARD && !shard.windows.contains_key(client) {
            OVERFLOW
        } else {
            client
        };
        let (start, count) = shard.windows.entry(key.to_owned()).or_insert((now, 0));
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

    #[cfg(test)]
    fn clients(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap().windows.len())
            .sum()
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
        for i in 0..MAX_CLIENTS * 2 {
            limiter.hit_at(
                &format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
                t0,
            );
        }
        limiter.hit_at("late", t0 + Duration::from_secs(2));
        assert!(limiter.clients() < MAX_CLIENTS, "{}", limiter.clients());
    }

    #[test]
    fn a_flood_of_new_addresses_is_bounded_and_limited_together() {
        let limiter = MemoryRateLimiter::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let mut highest = 0;
        for i in 0..MAX_CLIENTS * 2 {
            let address = format!("2001:db8:{:x}:{:x}::/64", i >> 16, i & 0xffff);
            highest = highest.max(limiter.hit_at(&address, t0).count);
        }
        assert!(
            limiter.clients() <= MAX_CLIENTS + SHARDS,
            "{}",
            limiter.clients()
        );
        // The extra hundred thousand shared their shards' overflow windows.
        assert!(highest as usize >= MAX_CLIENTS / SHARDS / 2, "{highest}");
        // A client counted before the flood keeps its own window.
        let known = MemoryRateLimiter::new(Duration::from_secs(60));
        known.hit_at("198.51.100.4", t0);
        for i in 0..MAX_CLIENTS * 2 {
            known.hit_at(&format!("flood-{i}"), t0);
        }
        assert_eq!(known.hit_at("198.51.100.4", t0).count, 2);
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
