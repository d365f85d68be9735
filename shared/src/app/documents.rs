//! Documents entering processing: a new upload (shared by the upload route and `ragbase eval`),
//! or a failed (or abandoned) one tried again; and the bulk changes, one document at a time.

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

/// What a bulk request did: how many documents it changed, and why it left each other one.
#[derive(Debug, Default, PartialEq)]
pub struct BulkOutcome {
    pub changed: usize,
    pub refused: Vec<(Uuid, String)>,
}

/// Applies `change` to each document in turn. A missing document or one in the wrong state is
/// refused with the reason; a failing backend stops the request.
async fn each<F: Future<Output = Result<(), Error>>>(
    ids: &[Uuid],
    change: impl Fn(Uuid) -> F,
) -> Result<BulkOutcome, Error> {
    let mut outcome = BulkOutcome::default();
    for &id in ids {
        match change(id).await {
            Ok(()) => outcome.changed += 1,
            Err(Error::NotFound(_)) => outcome.refused.push((id, "Document not found".into())),
            Err(Error::InvalidStatus(why) | Error::Conflict(why)) => {
                outcome.refused.push((id, why))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

pub async fn set_availability_of_each(
    documents: &dyn DocumentStore,
    ids: &[Uuid],
    active: bool,
) -> Result<BulkOutcome, Error> {
    each(ids, |id| async move {
        documents.set_availability(id, active).await.map(drop)
    })
    .await
}

pub async fn delete_each(
    documents: &dyn DocumentStore,
    ids: &[Uuid],
) -> Result<BulkOutcome, Error> {
    each(ids, |id| documents.delete_document(id)).await
}

pub async fn retry_each(
    documents: &dyn DocumentStore,
    queue: &dyn Queue,
    ids: &[Uuid],
) -> Result<BulkOutcome, Error> {
    each(ids, |id| async move {
        retry(documents, queue, id).await.map(drop)
    })
    .await
}
