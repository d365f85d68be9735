//! Accepting a document for processing: store it, then queue its job. Shared by the upload route
//! and `ragbase eval`.

use crate::{
    Error,
    domain::documents::{Document, NewDocument},
    ports::{Queue, Store},
};

/// Stores `new` as PENDING and queues it; `Error::Duplicate` when its content is already known.
pub async fn submit(
    store: &dyn Store,
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
