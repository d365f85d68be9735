//! Implementations of the ports.

pub mod memory_rate_limiter;
pub mod onnx_embedder;
pub mod postgres;
pub mod redis;
pub mod redis_queue;
pub mod sqlite;
