//! Implementations of the ports: the two SQL stores (`sql/` holds what they share), the Redis,
//! SQS and embedded queues, the tract embedder and the in-memory rate limiter.

#[macro_use]
mod sql;

pub mod memory_rate_limiter;
pub mod onnx_embedder;
pub mod postgres;
pub mod redis;
pub mod redis_queue;
pub mod sqlite;
pub mod sqs_queue;
