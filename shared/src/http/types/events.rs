//! `GET /api/events`: each change as the original service's clients read it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::domain::{
    documents::DocumentStatus,
    events::{DocumentEvent, EventKind},
};

/// One server-sent event of `GET /api/events`: what changed, about which document, and when.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"type": "document:status", "payload": {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "status": "COMPLETED", "chunksCount": 12}, "timestamp": "2026-12-01T17:21:19.456Z"}))]
pub struct EventBody {
    /// `document:created`, `document:status`, `document:availability` or `document:deleted`.
    #[serde(rename = "type")]
    kind: &'static str,
    payload: serde_json::Value,
    timestamp: DateTime<Utc>,
}

impl EventBody {
    /// The event's number (its `id:` line) and body, in the original service's event names.
    pub fn numbered(e: DocumentEvent) -> (i64, Self) {
        let (id, status) = (e.document_id, e.status.as_str());
        let (kind, payload) = match e.kind {
            EventKind::Created => (
                "document:created",
                json!({"id": id, "filename": e.filename, "status": status}),
            ),
            EventKind::Status => {
                let mut payload = json!({"id": id, "status": status});
                match e.status {
                    DocumentStatus::Completed => payload["chunksCount"] = json!(e.chunk_count),
                    DocumentStatus::Failed => payload["error"] = json!(e.fail_reason),
                    _ => {}
                }
                ("document:status", payload)
            }
            EventKind::Availability => (
                "document:availability",
                json!({"id": id, "isActive": e.is_active}),
            ),
            EventKind::Deleted => ("document:deleted", json!({"id": id})),
        };
        let timestamp = e.at;
        (
            e.seq,
            Self {
                kind,
                payload,
                timestamp,
            },
        )
    }
}
