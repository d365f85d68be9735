//! The ports: what the domain and routes need from the outside world.
//! Adapters in `crate::adapters` implement them.

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    Error,
    domain::documents::{Document, DocumentPage, DocumentQuery},
};

/// Documents, their bytes and chunks.
#[async_trait]
pub trait Store: Send + Sync {
    async fn list_documents(&self, query: &DocumentQuery) -> Result<DocumentPage, Error>;
    async fn document(&self, id: Uuid) -> Result<Option<Document>, Error>;
}

/// One client's standing in its current rate-limit window, after counting a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// Requests counted in this window, including the current one.
    pub count: u64,
    pub reset_after: Duration,
}

/// Counts requests per client in fixed windows.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    async fn hit(&self, client: &str) -> Result<RateWindow, Error>;
}

/// A backend that `/ready` asks whether it can serve.
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// The key under `checks` in the `/ready` body.
    fn name(&self) -> &'static str;
    async fn check(&self) -> Result<(), Error>;
}
