//! RAGBase core: domain, ports, adapters and the HTTP routes shared by every runtime.

pub mod adapters;
pub mod alerts;
pub mod config;
pub mod convert;
pub mod domain;
mod error;
pub mod http;
pub mod ports;
pub mod search;
#[cfg(feature = "lambda")]
pub mod serverless;
pub mod submit;
pub mod telemetry;
pub mod wiring;
pub mod worker;

pub use error::Error;
