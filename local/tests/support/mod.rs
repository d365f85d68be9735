//! Real services for the integration tests: PostgreSQL with pgvector and Redis, started through
//! the project's own `local/services`, or the embedded store in a temporary folder; and the real
//! `ragbase` binary on a free port.
#![allow(dead_code)] // each test binary uses its own part of this module

#[path = "../../../shared/tests/common/model.rs"]
mod model;
pub use model::model_dir;
pub mod api;
mod backend;
pub mod fleet;
pub mod lambda;
mod server;
mod services;

// Each test binary uses its own part of these.
#[allow(unused_imports)]
pub(crate) use backend::on_each_backend;
#[allow(unused_imports)]
pub use {
    backend::{TempFolder, TestBackend},
    server::{Server, is_listening_line, run_ragbase},
    services::{PrivateService, TestDb, Urls, free_port, shared, start_services, stop_services},
};

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

pub fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Polls `probe` until it returns true or `limit` passes.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut probe: impl FnMut() -> F,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}
