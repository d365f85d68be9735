//! Changes to documents as listeners see them (`GET /api/events`), and the cursor that reads
//! them in order without missing one whose transaction committed late.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::documents::DocumentStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Created,
    /// The status changed: picked up, finished, failed, or queued again.
    Status,
    Availability,
    Deleted,
}

impl EventKind {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "created" => Self::Created,
            "status" => Self::Status,
            "availability" => Self::Availability,
            "deleted" => Self::Deleted,
            _ => return None,
        })
    }
}

/// One change, numbered in the order the store recorded it, with the document as it became.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentEvent {
    pub seq: i64,
    pub kind: EventKind,
    pub document_id: Uuid,
    pub filename: String,
    pub status: DocumentStatus,
    pub is_active: bool,
    pub chunk_count: i32,
    pub fail_reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// How long a missing number may hold the cursor back: a transaction that took it may still
/// commit (numbers are taken in order, committed in any order), or it rolled back and the
/// number never appears.
pub const GAP_WAIT: Duration = Duration::from_secs(5);

/// Where a listener is: every event up to `floor` was delivered, and those in `ahead` too.
#[derive(Debug)]
pub struct EventCursor {
    floor: i64,
    ahead: BTreeSet<i64>,
    gap_since: Option<Instant>,
}

impl EventCursor {
    /// A listener that has seen everything up to `seq`.
    pub fn after(seq: i64) -> Self {
        Self {
            floor: seq,
            ahead: BTreeSet::new(),
            gap_since: None,
        }
    }

    /// Where the next read starts: events numbered above this.
    pub fn floor(&self) -> i64 {
        self.floor
    }

    /// The events of a read (above `floor()`) not delivered before, in order; at `now`, a gap
    /// older than `GAP_WAIT` is given up on.
    pub fn take(&mut self, read: Vec<DocumentEvent>, now: Instant) -> Vec<DocumentEvent> {
        let fresh: Vec<DocumentEvent> = read
            .into_iter()
            .filter(|e| e.seq > self.floor && self.ahead.insert(e.seq))
            .collect();
        self.advance();
        if self.ahead.is_empty() {
            self.gap_since = None;
        } else if now.duration_since(*self.gap_since.get_or_insert(now)) >= GAP_WAIT {
            self.floor = self.ahead.first().copied().unwrap_or(self.floor) - 1;
            self.advance();
            self.gap_since = (!self.ahead.is_empty()).then_some(now);
        }
        fresh
    }

    fn advance(&mut self) {
        while self.ahead.first() == Some(&(self.floor + 1)) {
            self.floor += 1;
            self.ahead.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> DocumentEvent {
        DocumentEvent {
            seq,
            kind: EventKind::Status,
            document_id: Uuid::nil(),
            filename: "a.txt".into(),
            status: DocumentStatus::Completed,
            is_active: true,
            chunk_count: 1,
            fail_reason: None,
            at: Utc::now(),
        }
    }

    fn seqs(events: &[DocumentEvent]) -> Vec<i64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn contiguous_events_move_the_floor() {
        let mut cursor = EventCursor::after(10);
        let now = Instant::now();
        assert_eq!(
            seqs(&cursor.take(vec![event(11), event(12)], now)),
            [11, 12]
        );
        assert_eq!(cursor.floor(), 12);
    }

    #[test]
    fn a_late_commit_is_delivered_once_and_nothing_twice() {
        let mut cursor = EventCursor::after(10);
        let now = Instant::now();
        // 11's transaction has not committed yet: 12 is delivered, the floor waits at 10.
        assert_eq!(seqs(&cursor.take(vec![event(12)], now)), [12]);
        assert_eq!(cursor.floor(), 10);
        // The next read sees 12 again and 11 at last.
        let late = cursor.take(vec![event(11), event(12), event(13)], now);
        assert_eq!(seqs(&late), [11, 13]);
        assert_eq!(cursor.floor(), 13);
    }

    #[test]
    fn a_number_that_never_commits_is_given_up_after_the_wait() {
        let mut cursor = EventCursor::after(10);
        let start = Instant::now();
        cursor.take(vec![event(12)], start);
        cursor.take(vec![event(12)], start + GAP_WAIT / 2);
        assert_eq!(cursor.floor(), 10);
        cursor.take(vec![event(12)], start + GAP_WAIT);
        assert_eq!(cursor.floor(), 12);
        assert_eq!(seqs(&cursor.take(vec![event(13)], start + GAP_WAIT)), [13]);
    }
}
