//! Documents as clients see them, and the validated listing query.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::formats::Format;
use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentStatus {
    Pending,
    Processing,
    Completed,
    Failed,
}

impl DocumentStatus {
    pub const ALL: [Self; 4] = [
        Self::Pending,
        Self::Processing,
        Self::Completed,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: Uuid,
    pub filename: String,
    pub format: Format,
    pub file_size: i64,
    pub status: DocumentStatus,
    pub is_active: bool,
    pub retry_count: i32,
    pub fail_reason: Option<String>,
    pub fail_message: Option<String>,
    pub chunk_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    CreatedAt,
    Filename,
    FileSize,
}

/// A listing as asked (`GET /api/documents`, `ragbase eval`), before validation.
#[derive(Debug, Default)]
pub struct RawDocumentQuery {
    pub status: Option<String>,
    pub is_active: Option<String>,
    pub search: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
    /// The original service's `MANUAL` (uploaded) or `DRIVE` (synced from Google Drive).
    pub source_type: Option<String>,
    /// The original service's `STANDALONE` or `LINKED` (to a synced folder).
    pub connection_state: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DocumentQuery {
    pub status: Option<DocumentStatus>,
    pub is_active: Option<bool>,
    /// Case-insensitive substring of the filename.
    pub filename_contains: Option<String>,
    pub sort_by: SortField,
    pub descending: bool,
    pub limit: u32,
    pub offset: u32,
    /// Asked for what no document here can be: a synced one (`sourceType=DRIVE`,
    /// `connectionState=LINKED`; every document here is uploaded), or a name with a control
    /// character (no stored name has one).
    pub none_match: bool,
}

impl DocumentQuery {
    pub const DEFAULT_LIMIT: u32 = 20;
    pub const MAX_LIMIT: u32 = 100;
    pub const MAX_SEARCH_CHARS: usize = 100;

    pub fn parse(raw: RawDocumentQuery) -> Result<Self, Error> {
        let bad =
            |field: &str, expected: &str| Error::Validation(format!("{field} must be {expected}"));
        let status = raw
            .status
            .map(|s| {
                DocumentStatus::parse(&s)
                    .ok_or_else(|| bad("status", "PENDING, PROCESSING, COMPLETED or FAILED"))
            })
            .transpose()?;
        let is_active = raw
            .is_active
            .map(|s| {
                s.parse::<bool>()
                    .map_err(|_| bad("isActive", "true or false"))
            })
            .transpose()?;
        let sort_by = match raw.sort_by.as_deref() {
            None | Some("createdAt") => SortField::CreatedAt,
            Some("filename") => SortField::Filename,
            Some("fileSize") => SortField::FileSize,
            Some(_) => return Err(bad("sortBy", "createdAt, filename or fileSize")),
        };
        let descending = match raw.sort_order.as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(_) => return Err(bad("sortOrder", "asc or desc")),
        };
        let limit = Self::parse_limit(raw.limit.as_deref())?;
        let offset = match raw.offset {
            None => 0,
            Some(s) => s
                .parse()
                .map_err(|_| bad("offset", "a non-negative integer"))?,
        };
        let filename_contains = Self::parse_search(raw.search)?;
        let synced = |value: Option<String>, field: &str, uploaded: &str, synced: &str| match value
            .as_deref()
        {
            None => Ok(false),
            Some(v) if v == uploaded => Ok(false),
            Some(v) if v == synced => Ok(true),
            Some(_) => Err(bad(field, &format!("{uploaded} or {synced}"))),
        };
        let none_match = synced(raw.source_type, "sourceType", "MANUAL", "DRIVE")?
            | synced(
                raw.connection_state,
                "connectionState",
                "STANDALONE",
                "LINKED",
            )?
            | filename_contains
                .as_ref()
                .is_some_and(|s| s.chars().any(char::is_control));
        // Such a name is never sent on to a store (PostgreSQL refuses NUL in text).
        let filename_contains = filename_contains.filter(|_| !none_match);
        Ok(Self {
            status,
            is_active,
            filename_contains,
            sort_by,
            descending,
            limit,
            offset,
            none_match,
        })
    }
}

impl DocumentQuery {
    /// A page size: 1 to 100, 20 when not given.
    pub fn parse_limit(raw: Option<&str>) -> Result<u32, Error> {
        let Some(raw) = raw else {
            return Ok(Self::DEFAULT_LIMIT);
        };
        raw.parse()
            .ok()
            .filter(|n| (1..=Self::MAX_LIMIT).contains(n))
            .ok_or_else(|| Error::Validation("limit must be an integer from 1 to 100".into()))
    }

    /// A text to look for: at most 100 characters, trimmed; none when blank.
    pub fn parse_search(raw: Option<String>) -> Result<Option<String>, Error> {
        if raw
            .as_ref()
            .is_some_and(|s| s.chars().count() > Self::MAX_SEARCH_CHARS)
        {
            return Err(Error::Validation(
                "search must be at most 100 characters".into(),
            ));
        }
        Ok(raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
    }
}

/// Number of documents in each status, over the whole collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusCounts {
    /// Of every status.
    pub active: i64,
    pub pending: i64,
    pub processing: i64,
    pub completed: i64,
    pub failed: i64,
}

impl StatusCounts {
    pub fn add(&mut self, status: DocumentStatus, n: i64) {
        let slot = match status {
            DocumentStatus::Pending => &mut self.pending,
            DocumentStatus::Processing => &mut self.processing,
            DocumentStatus::Completed => &mut self.completed,
            DocumentStatus::Failed => &mut self.failed,
        };
        *slot += n;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DocumentPage {
    pub documents: Vec<Document>,
    /// Documents matching the filters, ignoring limit and offset.
    pub total: i64,
    pub counts: StatusCounts,
}

/// An accepted upload, before it is stored.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub id: Uuid,
    pub filename: String,
    pub format: Format,
    pub content_hash: [u8; 32],
    pub bytes: Vec<u8>,
}

/// Where a chunk came from: what a citation names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChunkMetadata {
    pub page: Option<i32>,
    pub heading: Option<String>,
    pub breadcrumbs: Vec<String>,
    pub char_start: i32,
    pub char_end: i32,
    pub chunk_index: i32,
    pub token_count: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredChunk {
    pub id: Uuid,
    pub index: i32,
    pub content: String,
    pub metadata: ChunkMetadata,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DocumentContent {
    pub document: Document,
    pub processed_content: String,
    pub chunks: Vec<StoredChunk>,
}

/// The most documents one bulk request may name.
pub const MAX_BULK_IDS: usize = 100;

/// A bulk request's documents: 1 to 100 UUIDs, each taken once, in the order given.
pub fn parse_bulk_ids(raw: &[String]) -> Result<Vec<Uuid>, Error> {
    if raw.is_empty() {
        return Err(Error::Validation(
            "documentIds: at least one document id is required".into(),
        ));
    }
    if raw.len() > MAX_BULK_IDS {
        return Err(Error::Validation(format!(
            "documentIds: at most {MAX_BULK_IDS} documents per request"
        )));
    }
    let mut ids = Vec::with_capacity(raw.len());
    for text in raw {
        let id = Uuid::parse_str(text).map_err(|_| {
            let shown: String = text.chars().take(64).collect();
            Error::Validation(format!("documentIds: {shown:?} is not a document id"))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Document ids are UUIDs; anything else is a client error, not a miss.
pub fn parse_document_id(raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| Error::InvalidId(raw.chars().take(64).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawDocumentQuery {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        RawDocumentQuery {
            status: get("status"),
            is_active: get("isActive"),
            search: get("search"),
            sort_by: get("sortBy"),
            sort_order: get("sortOrder"),
            limit: get("limit"),
            offset: get("offset"),
            source_type: get("sourceType"),
            connection_state: get("connectionState"),
        }
    }

    #[test]
    fn defaults_list_newest_first_twenty_at_a_time() {
        let q = DocumentQuery::parse(raw(&[])).unwrap();
        assert_eq!(
            (q.sort_by, q.descending, q.limit, q.offset),
            (SortField::CreatedAt, true, 20, 0)
        );
        assert_eq!(
            (q.status, q.is_active, q.filename_contains, q.none_match),
            (None, None, None, false)
        );
    }

    #[test]
    fn synced_documents_and_names_with_control_characters_match_none() {
        let parse = |pairs: &[(&str, &str)]| DocumentQuery::parse(raw(pairs)).unwrap().none_match;
        assert!(!parse(&[
            ("sourceType", "MANUAL"),
            ("connectionState", "STANDALONE")
        ]));
        assert!(parse(&[("sourceType", "DRIVE")]));
        assert!(parse(&[("connectionState", "LINKED")]));
        assert!(parse(&[("search", "a\0b")]));
        let nul = DocumentQuery::parse(raw(&[("search", "a\0b")])).unwrap();
        assert_eq!(nul.filename_contains, None);
    }

    #[test]
    fn filters_and_sorting_are_parsed() {
        let q = DocumentQuery::parse(raw(&[
            ("status", "COMPLETED"),
            ("isActive", "false"),
            ("search", " report "),
            ("sortBy", "fileSize"),
            ("sortOrder", "asc"),
            ("limit", "100"),
            ("offset", "40"),
        ]))
        .unwrap();
        assert_eq!(q.status, Some(DocumentStatus::Completed));
        assert_eq!(q.is_active, Some(false));
        assert_eq!(q.filename_contains.as_deref(), Some("report"));
        assert_eq!(
            (q.sort_by, q.descending, q.limit, q.offset),
            (SortField::FileSize, false, 100, 40)
        );
    }

    #[test]
    fn out_of_range_values_are_validation_errors_naming_the_field() {
        let long = "x".repeat(101);
        for (field, value) in [
            ("limit", "0"),
            ("limit", "101"),
            ("offset", "-1"),
            ("status", "DONE"),
            ("isActive", "yes"),
            ("sortBy", "size"),
            ("sortOrder", "up"),
            ("status", "completed"),
            ("sortOrder", "ASC"),
            ("sourceType", "FTP"),
            ("connectionState", "linked"),
            ("search", long.as_str()),
        ] {
            match DocumentQuery::parse(raw(&[(field, value)])) {
                Err(Error::Validation(m)) => assert!(m.starts_with(field), "{m}"),
                other => panic!("{field}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn bulk_ids_are_one_to_a_hundred_uuids_each_once() {
        let id = |n: u128| Uuid::from_u128(n).to_string();
        assert_eq!(
            parse_bulk_ids(&[id(2), id(1), id(2)]).unwrap(),
            [Uuid::from_u128(2), Uuid::from_u128(1)]
        );
        let too_many: Vec<String> = (0..101).map(id).collect();
        for bad in [vec![], too_many, vec!["not-a-uuid".into()]] {
            assert!(matches!(parse_bulk_ids(&bad), Err(Error::Validation(_))));
        }
    }

    #[test]
    fn document_ids_must_be_uuids() {
        assert!(parse_document_id("0b6b3c4e-52b8-4a3e-9f0e-8d3c2b1a0f9e").is_ok());
        assert!(matches!(parse_document_id("42"), Err(Error::InvalidId(_))));
    }
}
