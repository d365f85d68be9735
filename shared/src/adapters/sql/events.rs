//! The events route's role (`DocumentEvents`), written once for both SQL stores (compiled per
//! store, like `documents.rs`). The rows are written by the migrations' triggers on `documents`.

use async_trait::async_trait;
use sqlx::Row;

use super::{Db, Store, db_error};
use crate::adapters::sql::status;
use crate::{
    Error,
    domain::events::{DocumentEvent, EventKind},
    ports::DocumentEvents,
};

fn event_from_row(row: &<Db as sqlx::Database>::Row) -> Result<DocumentEvent, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("status")?;
    Ok(DocumentEvent {
        seq: row.try_get("seq")?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown event kind {kind}").into()))?,
        document_id: row.try_get("document_id")?,
        filename: row.try_get("filename")?,
        status: status(&state)?,
        is_active: row.try_get("is_active")?,
        chunk_count: row.try_get("chunk_count")?,
        fail_reason: row.try_get("fail_reason")?,
        at: row.try_get("at")?,
    })
}

#[async_trait]
impl DocumentEvents for Store {
    async fn latest_event(&self) -> Result<i64, Error> {
        sqlx::query_scalar::<_, Option<i64>>("SELECT max(seq) FROM document_events")
            .fetch_one(self.reader())
            .await
            .map(Option::unwrap_or_default)
            .map_err(db_error)
    }

    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<DocumentEvent>, Error> {
        sqlx::query(
            "SELECT seq, kind, document_id, filename, status, is_active, chunk_count, fail_reason, at \
             FROM document_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(db_error)?
        .iter()
        .map(event_from_row)
        .collect::<Result<_, _>>()
        .map_err(db_error)
    }
}
