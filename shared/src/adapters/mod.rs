//! Implementations of the ports.

#[macro_use]
mod sql;

pub mod memory_rate_limiter;
pub mod onnx_embedder;
pub mod postgres;
pub mod redis;
pub mod redis_queue;
pub mod sqlite;
pub mod sqs_queue;
