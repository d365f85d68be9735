//! What the two SQL stores (PostgreSQL and the embedded SQLite) share: the same tables and
//! columns, read into the same domain values, and the same answers when a row is missing or in
//! the wrong state. Only their SQL dialects and column types differ.
//!
//! The document and processing roles are written once, in `documents.rs` and `processing.rs`
//! beside this file; each store compiles them as its own modules, over its own driver.

use crate::{
    Error,
    domain::{
        documents::{Document, DocumentStatus, StatusCounts},
        formats::Format,
    },
};

/// The columns `document_from_row` reads, as a literal so queries stay static strings.
macro_rules! document_columns {
    () => {
        "id, filename, format, file_size, status, is_active, retry_count, fail_reason, fail_message, chunk_count, \
         created_at, updated_at"
    };
}

/// The columns `hit_from_row` reads, from `chunks c JOIN documents d`.
pub(super) const HIT_COLUMNS: &str = "c.id, c.document_id, d.filename, c.content, c.page, \
     c.heading, c.breadcrumbs, c.char_start, c.char_end, c.chunk_index, c.token_count";

/// Defines `document_from_row`, `metadata_from_row` and `hit_from_row` for one store's row type;
/// `$breadcrumbs` turns the row into the chunk's breadcrumbs (each store keeps the list its own way).
macro_rules! row_readers {
    ($row:ty, $breadcrumbs:expr) => {
        pub(super) fn document_from_row(
            row: &$row,
        ) -> Result<$crate::domain::documents::Document, sqlx::Error> {
            use sqlx::Row;
            let status: String = row.try_get("status")?;
            let format: String = row.try_get("format")?;
            Ok($crate::domain::documents::Document {
                id: row.try_get("id")?,
                filename: row.try_get("filename")?,
                format: $crate::adapters::sql::format(&format)?,
                file_size: row.try_get("file_size")?,
                status: $crate::adapters::sql::status(&status)?,
                is_active: row.try_get("is_active")?,
                retry_count: row.try_get("retry_count")?,
                fail_reason: row.try_get("fail_reason")?,
                fail_message: row.try_get("fail_message")?,
                chunk_count: row.try_get("chunk_count")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        /// A chunk's metadata from its own columns, for the content route and for search hits.
        pub(super) fn metadata_from_row(
            row: &$row,
        ) -> Result<$crate::domain::documents::ChunkMetadata, sqlx::Error> {
            use sqlx::Row;
            let breadcrumbs: fn(&$row) -> Result<Vec<String>, sqlx::Error> = $breadcrumbs;
            Ok($crate::domain::documents::ChunkMetadata {
                page: row.try_get("page")?,
                heading: row.try_get("heading")?,
                breadcrumbs: breadcrumbs(row)?,
                char_start: row.try_get("char_start")?,
                char_end: row.try_get("char_end")?,
                chunk_index: row.try_get("chunk_index")?,
                token_count: row.try_get("token_count")?,
            })
        }

        /// A stored chunk, for the content route.
        pub(super) fn chunk_from_row(
            row: &$row,
        ) -> Result<$crate::domain::documents::StoredChunk, sqlx::Error> {
            use sqlx::Row;
            let metadata = metadata_from_row(row)?;
            Ok($crate::domain::documents::StoredChunk {
                id: row.try_get("id")?,
                index: metadata.chunk_index,
                content: row.try_get("content")?,
                metadata,
            })
        }

        /// A search hit from the `HIT_COLUMNS`, with its similarity to the query.
        pub(super) fn hit_from_row(
            row: &$row,
            similarity: f32,
        ) -> Result<$crate::domain::ranking::ChunkHit, sqlx::Error> {
            use sqlx::Row;
            Ok($crate::domain::ranking::ChunkHit {
                chunk_id: row.try_get("id")?,
                document_id: row.try_get("document_id")?,
                filename: row.try_get("filename")?,
                content: row.try_get("content")?,
                similarity,
                metadata: metadata_from_row(row)?,
            })
        }
    };
}

pub(crate) fn status(name: &str) -> Result<DocumentStatus, sqlx::Error> {
    DocumentStatus::parse(name)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown document status {name}").into()))
}

pub(crate) fn format(name: &str) -> Result<Format, sqlx::Error> {
    Format::parse(name)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown document format {name}").into()))
}

/// The counts from `SELECT status, count(*), <active ones> … GROUP BY status`.
pub(super) fn status_counts(rows: Vec<(String, i64, i64)>) -> StatusCounts {
    let mut counts = StatusCounts::default();
    for (status, n, active) in rows {
        if let Some(status) = DocumentStatus::parse(&status) {
            counts.add(status, n);
            counts.active += active;
        }
    }
    counts
}

pub(super) fn not_found() -> Error {
    Error::NotFound("Document not found".into())
}

pub(super) fn still_processing() -> Error {
    Error::Conflict(
        "The document is processing; delete it when it is done (or once its worker stops \
         renewing its lease)"
            .into(),
    )
}

/// Why availability did not change: the document is gone, or not COMPLETED.
pub(super) fn not_toggled(document: Option<Document>) -> Error {
    match document {
        None => not_found(),
        Some(d) => Error::InvalidStatus(format!(
            "Only COMPLETED documents can be enabled or disabled; this one is {}",
            d.status.as_str()
        )),
    }
}

/// Why a retry did not happen: the document is gone, or not FAILED.
pub(super) fn not_retried(document: Option<Document>) -> Error {
    match document {
        None => not_found(),
        Some(d) => Error::InvalidStatus(format!(
            "Only FAILED documents, or PROCESSING ones whose worker stopped, can be retried; this one is {}",
            d.status.as_str()
        )),
    }
}

/// Content exists only for COMPLETED documents.
pub(super) fn ensure_completed(document: &Document) -> Result<(), Error> {
    if document.status == DocumentStatus::Completed {
        Ok(())
    } else {
        Err(Error::NotReady(format!(
            "The document is {}, not COMPLETED",
            document.status.as_str()
        )))
    }
}
