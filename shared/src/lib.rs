//! RAGBase core: domain, ports, adapters and the HTTP routes shared by every runtime.

pub mod adapters;
pub mod alerts;
pub mod app;
pub mod config;
pub mod convert;
pub mod domain;
mod error;
pub mod http;
pub mod ports;
#[cfg(feature = "lambda")]
pub mod serverless;
pub mod startup;
pub mod telemetry;
pub mod wiring;

pub use error::Error;
