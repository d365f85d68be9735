//! A document's way through processing, as the worker and the reconciler see it: attempts,
//! their leases and fences, and what the reconciler found.

use uuid::Uuid;

use super::{documents::Document, formats::Format};

/// Tries per document, crashes included (each pickup counts); then it is FAILED.
pub const MAX_ATTEMPTS: u32 = 3;

/// One attempt at processing a document. Its writes carry `token`: once its lease ran out and
/// another attempt took over, or the document was deleted or retried, they change nothing.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub document: Document,
    /// 1 for the first pickup since the upload (or the last retry).
    pub number: u32,
    pub token: Uuid,
}

/// What an attempt to start processing found.
#[derive(Debug)]
pub enum Pickup {
    Started(Attempt),
    /// Another attempt holds a lease that has not run out: its own delivery settles the job.
    Held,
    /// Deleted, or finished by an earlier delivery: nothing to do.
    Settled,
}

/// One reconciler pass.
#[derive(Debug, Default, PartialEq)]
pub struct Reconciled {
    /// Stalled documents made PENDING again, to be queued.
    pub requeued: Vec<Uuid>,
    /// Documents whose every attempt stopped without a result, now FAILED (their formats).
    pub crashed: Vec<Format>,
}
