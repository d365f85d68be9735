//! The ports: what the domain and routes need from the outside world.
//! Adapters in `crate::adapters` implement them.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    Error,
    domain::{
        analytics::{
            ChunkPage, ChunkQuery, ExploredChunk, MetricTotals, MetricsPage, MetricsQuery,
            Overview, QualitySummary, Trend,
        },
        chunking::Chunk,
        documents::{Document, DocumentContent, DocumentPage, DocumentQuery, NewDocument},
        events::DocumentEvent,
        failure::Failure,
        formats::Format,
        processing::{Attempt, Pickup, ProcessingMetrics, Reconciled},
        profiles::{NewProfile, Profile, ProfileSettings},
        query::{Keywords, SearchFilter},
        ranking::ChunkHit,
    },
};

/// What the document routes need: listing, reading, uploading, deleting, retrying and
/// (de)activating documents.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    async fn list_documents(&self, query: &DocumentQuery) -> Result<DocumentPage, Error>;
    async fn document(&self, id: Uuid) -> Result<Option<Document>, Error>;
    /// Stores a new PENDING document with its bytes; `Error::Duplicate` when its content is known.
    async fn create_document(&self, new: NewDocument) -> Result<Document, Error>;
    /// Deletes a document with its bytes and chunks; `Error::Conflict` while an attempt with a
    /// live lease processes it.
    async fn delete_document(&self, id: Uuid) -> Result<(), Error>;
    /// FAILED (or PROCESSING past its lease: its worker died) → PENDING, with its attempts
    /// counted afresh; `Error::InvalidStatus` otherwise.
    async fn retry_document(&self, id: Uuid) -> Result<Document, Error>;
    async fn set_availability(&self, id: Uuid, active: bool) -> Result<Document, Error>;
    /// The processed Markdown and chunks; `Error::NotReady` until COMPLETED.
    async fn document_content(&self, id: Uuid) -> Result<DocumentContent, Error>;
}

/// What the worker and the reconciler need: a job's uploaded bytes, and its document's way
/// through PROCESSING. Every write after the pickup is fenced by the attempt's token.
#[async_trait]
pub trait ProcessingStore: Send + Sync {
    /// The uploaded bytes.
    async fn document_file(&self, id: Uuid) -> Result<Option<Vec<u8>>, Error>;
    /// The settings of the profile the document was uploaded with (the defaults for documents
    /// uploaded before profiles existed).
    async fn processing_settings(&self, id: Uuid) -> Result<ProfileSettings, Error>;
    /// Starts an attempt, leased until `lease_until`, on a PENDING document or on a PROCESSING
    /// one whose lease ran out (its worker died).
    async fn begin_processing(&self, id: Uuid, lease_until: DateTime<Utc>)
    -> Result<Pickup, Error>;
    /// Extends the attempt's lease; `false` once it has been fenced off.
    async fn renew_processing(
        &self,
        attempt: &Attempt,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, Error>;
    /// Replaces the document's chunks and processing figures and marks it COMPLETED, in one
    /// transaction; `false` when the document was deleted or the attempt fenced off meanwhile.
    async fn finish_processing(
        &self,
        attempt: &Attempt,
        markdown: &str,
        chunks: &[(Chunk, Vec<f32>)],
        metrics: &ProcessingMetrics,
    ) -> Result<bool, Error>;
    /// Records a failed attempt: FAILED when `last`, otherwise PENDING for the next attempt;
    /// `false` when the attempt was fenced off.
    async fn fail_processing(
        &self,
        attempt: &Attempt,
        failure: &Failure,
        last: bool,
    ) -> Result<bool, Error>;
    /// The reconciler's pass: documents PROCESSING past their lease, and PENDING ones untouched
    /// since `pending_before` (their job may be lost), become PENDING again to be queued, unless
    /// they had `max_attempts` already: those are FAILED as crashed.
    async fn reconcile(
        &self,
        pending_before: DateTime<Utc>,
        max_attempts: u32,
    ) -> Result<Reconciled, Error>;
}

/// What search needs: the chunks of COMPLETED, active documents.
#[async_trait]
pub trait ChunkSearch: Send + Sync {
    /// The chunks nearest to `vector`, most similar first.
    async fn nearest_chunks(
        &self,
        vector: &[f32],
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<ChunkHit>, Error>;
    /// The ids of the chunks matching `keywords`, best text rank first. It needs no query
    /// vector, so a hybrid search ranks keywords while the question is embedded.
    async fn keyword_ranking(
        &self,
        keywords: &Keywords,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<Uuid>, Error>;
    /// The searchable chunks among `ids`, in their order, each with its similarity to `vector`
    /// (a chunk deleted or disabled since it was ranked is left out).
    async fn chunks_by_id(&self, ids: &[Uuid], vector: &[f32]) -> Result<Vec<ChunkHit>, Error>;
}

/// What the events route needs: the documents' changes, numbered in the order they were made,
/// whichever process made them.
#[async_trait]
pub trait DocumentEvents: Send + Sync {
    /// The newest change's number (0 before the first): where a new listener starts.
    async fn latest_event(&self) -> Result<i64, Error>;
    /// Up to `limit` changes numbered above `after`, oldest first.
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<DocumentEvent>, Error>;
}

/// What the chunk explorer needs: every stored chunk, with its quality, by filters.
#[async_trait]
pub trait ChunkCatalog: Send + Sync {
    async fn list_chunks(&self, query: &ChunkQuery) -> Result<ChunkPage, Error>;
    async fn chunk(&self, id: Uuid) -> Result<Option<ExploredChunk>, Error>;
}

/// What the analytics routes need: the figures of the documents processed since a time.
#[async_trait]
pub trait ProcessingAnalytics: Send + Sync {
    /// Documents uploaded since `since` by status and format, and the figures of those
    /// processed since then.
    async fn overview(&self, since: DateTime<Utc>) -> Result<Overview, Error>;
    /// The figures of documents (of `format`) processed since `since`.
    async fn metric_totals(
        &self,
        since: DateTime<Utc>,
        format: Option<Format>,
    ) -> Result<MetricTotals, Error>;
    /// The same, by hour or by day, oldest first.
    async fn trends(
        &self,
        since: DateTime<Utc>,
        format: Option<Format>,
        hourly: bool,
    ) -> Result<Vec<Trend>, Error>;
    /// The chunks of the documents processed since `since`.
    async fn quality(&self, since: DateTime<Utc>) -> Result<QualitySummary, Error>;
    async fn processed_documents(&self, query: &MetricsQuery) -> Result<MetricsPage, Error>;
}

/// What the profile routes need: the processing profiles, each with its number of documents.
/// The rules on which may change how live in `app::profiles`.
#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// Default first, then active, then newest; archived ones only when asked.
    async fn list_profiles(&self, include_archived: bool) -> Result<Vec<Profile>, Error>;
    async fn profile(&self, id: Uuid) -> Result<Option<Profile>, Error>;
    async fn active_profile(&self) -> Result<Option<Profile>, Error>;
    /// `Error::Conflict` when the name is taken.
    async fn create_profile(&self, new: &NewProfile) -> Result<Profile, Error>;
    /// Makes it the one active profile; `false` when it is gone or archived meanwhile.
    async fn activate_profile(&self, id: Uuid) -> Result<bool, Error>;
    /// `false` when it is gone, or is the default or active (which are never archived).
    async fn set_archived(&self, id: Uuid, archived: bool) -> Result<bool, Error>;
    /// The documents uploaded with it, and their chunks.
    async fn profile_documents(&self, id: Uuid) -> Result<(Vec<Uuid>, i64), Error>;
    /// Deletes it if it is still archived and holds no documents; `false` otherwise.
    async fn delete_profile(&self, id: Uuid) -> Result<bool, Error>;
}

/// What the HTTP routes need of a backend: its documents, their chunks, their changes, the
/// figures of their processing and the profiles they are processed with.
pub trait ApiStore:
    DocumentStore + ChunkSearch + DocumentEvents + ChunkCatalog + ProcessingAnalytics + ProfileStore
{
}

impl<
    T: DocumentStore
        + ChunkSearch
        + DocumentEvents
        + ChunkCatalog
        + ProcessingAnalytics
        + ProfileStore
        + ?Sized,
> ApiStore for T
{
}

/// A backend that plays every role: each caller holds it as the one role it needs.
pub trait Store: ApiStore + ProcessingStore {}

impl<T: ApiStore + ProcessingStore + ?Sized> Store for T {}

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

/// Turns text into unit-length vectors. CPU-bound and blocking: call it from a blocking thread.
pub trait Embedder: Send + Sync {
    /// Length of every vector.
    fn dimensions(&self) -> usize;
    /// The most tokens one input may have (special tokens included); longer inputs are truncated.
    fn max_tokens(&self) -> usize;
    /// Tokens the model sees for `text`, special tokens included.
    fn count_tokens(&self, text: &str) -> usize;
    /// One vector per text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error>;
}

/// One delivery of a processing job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub document_id: Uuid,
    /// The queue's delivery count, for the backoff; the document's own count of attempts
    /// (`Attempt::number`) is the one capped.
    pub attempt: u32,
    /// The queue's handle for acknowledging this delivery.
    pub receipt: String,
}

/// Jobs in each state, for `processing_queue_size{status}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSizes {
    pub waiting: u64,
    pub active: u64,
    pub delayed: u64,
    pub failed: u64,
}

/// At-least-once delivery of document ids to workers. A delivery that is neither completed,
/// retried nor dead-lettered within its lease (its worker died) is delivered again.
#[async_trait]
pub trait Queue: Send + Sync {
    async fn enqueue(&self, document_id: Uuid) -> Result<(), Error>;
    /// The next job, waiting up to `wait` for one.
    async fn next(&self, wait: Duration) -> Result<Option<Job>, Error>;
    /// Renews the lease of a job still being worked on.
    async fn keep_alive(&self, job: &Job) -> Result<(), Error>;
    async fn complete(&self, job: &Job) -> Result<(), Error>;
    /// Puts the job back as its next attempt after `delay`.
    async fn retry_later(&self, job: &Job, delay: Duration) -> Result<(), Error>;
    /// Gives up on the job, keeping it (and why) in the dead-letter list.
    async fn dead_letter(&self, job: &Job, reason: &str) -> Result<(), Error>;
    async fn sizes(&self) -> Result<QueueSizes, Error>;
}
