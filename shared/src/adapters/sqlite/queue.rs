//! The in-process job queue, durable in the embedded store: jobs are rows, so a restart resumes
//! them. The store's lock means this process is the only consumer; at start every job the last
//! process had in hand is waiting again, as its next attempt, and every PENDING or PROCESSING
//! document without a job (the process died between storing an upload and queueing it) gets one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx::{Sqlite, SqlitePool, sqlite::SqliteArguments};
use tokio::sync::Notify;
use uuid::Uuid;

use super::db_error;
use crate::{
    Error,
    ports::{Job, Queue, QueueSizes, ReadinessCheck},
};

/// How often an idle `next` looks for jobs that came due (delayed retries, lapsed leases).
const POLL: Duration = Duration::from_millis(250);

pub struct SqliteQueue {
    writer: SqlitePool,
    reader: SqlitePool,
    lease: Duration,
    /// Wakes a waiting `next` when a job is queued.
    queued: Notify,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

impl SqliteQueue {
    pub(super) async fn open(
        writer: SqlitePool,
        reader: SqlitePool,
        lease: Duration,
    ) -> Result<Self, Error> {
        let now = now_ms();
        let mut tx = writer.begin().await.map_err(db_error)?;
        let resumed = sqlx::query(
            "UPDATE jobs SET state = 'waiting', attempt = attempt + 1, due_at = ? WHERE state = 'active'",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let orphans = sqlx::query(
            "INSERT INTO jobs (document_id, attempt, state, due_at) \
             SELECT id, 1, 'waiting', ? FROM documents \
             WHERE status IN ('PENDING', 'PROCESSING') AND id NOT IN (SELECT document_id FROM jobs)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        tx.commit().await.map_err(db_error)?;
        if resumed + orphans > 0 {
            tracing::warn!(
                resumed,
                orphans,
                "jobs left by the previous process are queued again"
            );
        }
        Ok(Self {
            writer,
            reader,
            lease,
            queued: Notify::new(),
        })
    }

    /// Takes the job due first, if any: a waiting one, or an active one whose lease lapsed
    /// (its next attempt).
    async fn claim(&self) -> Result<Option<Job>, Error> {
        let now = now_ms();
        let claimed: Option<(Uuid, i64)> = sqlx::query_as(
            "UPDATE jobs SET state = 'active', due_at = ?1, \
               attempt = attempt + CASE WHEN state = 'active' THEN 1 ELSE 0 END \
             WHERE document_id = (SELECT document_id FROM jobs \
               WHERE state IN ('waiting', 'active') AND due_at <= ?2 ORDER BY due_at LIMIT 1) \
             RETURNING document_id, attempt",
        )
        .bind(now + ms(self.lease))
        .bind(now)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(claimed.map(|(document_id, attempt)| {
            let attempt = attempt as u32;
            Job {
                document_id,
                attempt,
                // Rows are settled by document and attempt; the receipt is for logs.
                receipt: format!("{document_id}:{attempt}"),
            }
        }))
    }

    /// Runs a statement made with `this_delivery!`: the job's document and attempt are bound last.
    async fn settle<'q>(
        &self,
        statement: sqlx::query::Query<'q, Sqlite, SqliteArguments>,
        job: &Job,
    ) -> Result<(), Error> {
        statement
            .bind(job.document_id)
            .bind(i64::from(job.attempt))
            .execute(&self.writer)
            .await
            .map(drop)
            .map_err(db_error)
    }
}

/// A statement on this delivery's row only: a stale delivery (its lease lapsed and the job moved
/// on) changes nothing.
macro_rules! this_delivery {
    ($head:literal) => {
        concat!(
            $head,
            " WHERE document_id = ? AND attempt = ? AND state = 'active'"
        )
    };
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn enqueue(&self, document_id: Uuid) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO jobs (document_id, attempt, state, due_at) VALUES (?, 1, 'waiting', ?) \
             ON CONFLICT (document_id) DO UPDATE SET attempt = 1, state = 'waiting', \
             due_at = excluded.due_at, reason = NULL",
        )
        .bind(document_id)
        .bind(now_ms())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        self.queued.notify_one();
        Ok(())
    }

    async fn next(&self, wait: Duration) -> Result<Option<Job>, Error> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(job) = self.claim().await? {
                return Ok(Some(job));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let _ = tokio::time::timeout(POLL.min(deadline - now), self.queued.notified()).await;
        }
    }

    async fn keep_alive(&self, job: &Job) -> Result<(), Error> {
        let renew = sqlx::query(this_delivery!("UPDATE jobs SET due_at = ?"))
            .bind(now_ms() + ms(self.lease));
        self.settle(renew, job).await
    }

    async fn complete(&self, job: &Job) -> Result<(), Error> {
        self.settle(sqlx::query(this_delivery!("DELETE FROM jobs")), job)
            .await
    }

    async fn retry_later(&self, job: &Job, delay: Duration) -> Result<(), Error> {
        let retry = sqlx::query(this_delivery!(
            "UPDATE jobs SET state = 'waiting', attempt = attempt + 1, due_at = ?"
        ))
        .bind(now_ms() + ms(delay));
        self.settle(retry, job).await
    }

    async fn dead_letter(&self, job: &Job, reason: &str) -> Result<(), Error> {
        let give_up = sqlx::query(this_delivery!(
            "UPDATE jobs SET state = 'failed', due_at = ?, reason = ?"
        ))
        .bind(now_ms())
        .bind(reason.to_owned());
        self.settle(give_up, job).await
    }

    async fn sizes(&self) -> Result<QueueSizes, Error> {
        let (waiting, delayed, active, failed): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT \
               coalesce(sum(state = 'waiting' AND due_at <= ?1), 0), \
               coalesce(sum(state = 'waiting' AND due_at > ?1), 0), \
               coalesce(sum(state = 'active'), 0), \
               coalesce(sum(state = 'failed'), 0) FROM jobs",
        )
        .bind(now_ms())
        .fetch_one(&self.reader)
        .await
        .map_err(db_error)?;
        Ok(QueueSizes {
            waiting: waiting as u64,
            active: active as u64,
            delayed: delayed as u64,
            failed: failed as u64,
        })
    }
}

#[async_trait]
impl ReadinessCheck for SqliteQueue {
    fn name(&self) -> &'static str {
        "queue"
    }

    async fn check(&self) -> Result<(), Error> {
        self.sizes().await.map(drop)
    }
}
