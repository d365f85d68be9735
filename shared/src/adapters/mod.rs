//! Implementations of the ports.

pub mod memory_rate_limiter;
pub mod postgres;
pub mod redis;
