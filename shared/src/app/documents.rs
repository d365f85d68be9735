//! Documents entering processing: a new upload (shared by the upload route and `ragbase eval`),
//! or a failed (or abandoned) one tried again.

use uuid::Uuid;

use crate::{
    Error,
    domain::documents::{Document, NewDocument},
    ports::{DocumentStore, Queue},
};

/// Stores `new` as PENDING and queues it; `Error::Duplicate` when its content is already known.
pub async fn submit(
    store: &dyn DocumentStore,
    queue: &dyn Queue,
    new: NewDocument,
) -> Result<Document, Error> {
    let document = store.create_document(new).await?;
    if let Err(e) = queue.enqueue(document.id).await {
        // Without a job the document would wait forever: undo, and let the client try again.
        let _ = store.delete_document(document.id).await;
        return Err(e);
    }
    Ok(document)
}

/// FAILED (or PROCESSING by a worker that died) → PENDING, queued again; `Error::InvalidStatus`
/// for any other status. When the queue is away, the reconciler queues the document later.
pub async fn retry(
    documents: &dyn DocumentStore,
    queue: &dyn Queue,
    id: Uuid,
) -> Result<Document, Error> {
    let document = documents.retry_document(id).await?;
    if let Err(e) = queue.enqueue(id).await {
        tracing::warn!(document = %id, error = %e, "cannot queue the retry now; the reconciler will");
    }
    Ok(document)
}
