//! The job queue on Redis Streams: a consumer group gives each job to one worker; a job whose
//! worker dies stays pending and is claimed again once its lease runs out (`XAUTOCLAIM`).
//! Delayed retries wait in a sorted set; jobs given up on go to a dead-letter stream.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redis::{AsyncCommands, Script, aio::ConnectionManager, streams::StreamReadReply};
use uuid::Uuid;

use super::redis::Redis;
use crate::{
    Error,
    ports::{Job, Queue, QueueSizes, ReadinessCheck},
};

const GROUP: &str = "workers";

/// Moves due delayed jobs (member `document:attempt`) onto the stream, atomically.
const PROMOTE: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  local sep = string.find(member, ':')
  redis.call('XADD', KEYS[2], '*', 'document', string.sub(member, 1, sep - 1), 'attempt', string.sub(member, sep + 1))
  redis.call('ZREM', KEYS[1], member)
end
return #due
";

fn redis_error(e: redis::RedisError) -> Error {
    Error::backend("queue", e)
}

pub struct RedisQueue {
    /// The job stream; `{stream}:delayed` and `{stream}:dead` beside it.
    stream: String,
    delayed: String,
    dead: String,
    /// Blocking reads hold a connection; they get their own so other commands are not stuck behind them.
    reader: ConnectionManager,
    commands: ConnectionManager,
    consumer: String,
    lease: Duration,
    promote: Script,
}

impl RedisQueue {
    pub async fn connect(url: &str, name: &str, lease: Duration) -> Result<Self, Error> {
        let reader = Redis::connect(url).await?.connection();
        let commands = Redis::connect(url).await?.connection();
        create_group(commands.clone(), name).await?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
        let consumer = format!("{host}-{}-{}", std::process::id(), Uuid::new_v4().simple());
        Ok(Self {
            stream: name.to_owned(),
            delayed: format!("{name}:delayed"),
            dead: format!("{name}:dead"),
            reader,
            commands,
            consumer,
            lease,
            promote: Script::new(PROMOTE),
        })
    }

    fn lease_ms(&self) -> u64 {
        self.lease.as_millis() as u64
    }

    /// Re-queues jobs whose worker vanished, as their next attempt.
    async fn reclaim_abandoned(&self) -> Result<(), redis::RedisError> {
        let mut conn = self.commands.clone();
        let reply: redis::streams::StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(self.lease_ms())
            .arg("0-0")
            .arg("COUNT")
            .arg(10)
            .query_async(&mut conn)
            .await?;
        for entry in reply.claimed {
            if let Some(job) = job_from(&entry.id, &entry.map) {
                tracing::warn!(document = %job.document_id, attempt = job.attempt, "job abandoned by its worker; queued again");
                self.requeue(&job, job.attempt + 1).await?;
            }
        }
        Ok(())
    }

    async fn requeue(&self, job: &Job, attempt: u32) -> Result<(), redis::RedisError> {
        let mut conn = self.commands.clone();
        redis::pipe()
            .atomic()
            .xadd(
                &self.stream,
                "*",
                &[
                    ("document", job.document_id.to_string()),
                    ("attempt", attempt.to_string()),
                ],
            )
            .xack(&self.stream, GROUP, &[&job.receipt])
            .xdel(&self.stream, &[&job.receipt])
            .query_async::<()>(&mut conn)
            .await
    }

    /// Promotes due retries, reclaims abandoned jobs, then waits up to `wait` for the next one.
    async fn take(&self, wait: Duration) -> Result<Option<Job>, redis::RedisError> {
        let mut conn = self.commands.clone();
        self.promote
            .key(&self.delayed)
            .key(&self.stream)
            .arg(now_ms())
            .invoke_async::<u64>(&mut conn)
            .await?;
        self.reclaim_abandoned().await?;
        let options = redis::streams::StreamReadOptions::default()
            .group(GROUP, &self.consumer)
            .count(1)
            .block(wait.as_millis() as usize);
        let mut reader = self.reader.clone();
        let reply: Option<StreamReadReply> = reader
            .xread_options(&[&self.stream], &[">"], &options)
            .await?;
        let entry = reply
            .and_then(|r| r.keys.into_iter().next())
            .and_then(|k| k.ids.into_iter().next());
        match entry {
            None => Ok(None),
            Some(entry) => match job_from(&entry.id, &entry.map) {
                Some(job) => Ok(Some(job)),
                None => {
                    // Not a job this code wrote: drop it rather than redeliver it forever, and
                    // delete it, or the queue's size would count it as waiting for good.
                    tracing::error!(entry = %entry.id, "malformed queue entry discarded");
                    redis::pipe()
                        .atomic()
                        .xack(&self.stream, GROUP, &[&entry.id])
                        .xdel(&self.stream, &[&entry.id])
                        .query_async::<()>(&mut conn)
                        .await?;
                    Ok(None)
                }
            },
        }
    }
}

/// Creates the consumer group (and the stream) unless it exists.
async fn create_group(mut conn: ConnectionManager, stream: &str) -> Result<(), Error> {
    let created: Result<(), _> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut conn)
        .await;
    match created {
        Err(e) if e.code() != Some("BUSYGROUP") => Err(redis_error(e)),
        _ => Ok(()),
    }
}

fn job_from(id: &str, fields: &std::collections::HashMap<String, redis::Value>) -> Option<Job> {
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
    };
    Some(Job {
        document_id: text("document")?.parse().ok()?,
        attempt: text("attempt").and_then(|a| a.parse().ok()).unwrap_or(1),
        receipt: id.to_owned(),
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[async_trait]
impl Queue for RedisQueue {
    async fn enqueue(&self, document_id: Uuid) -> Result<(), Error> {
        let mut conn = self.commands.clone();
        conn.xadd::<_, _, _, _, ()>(
            &self.stream,
            "*",
            &[
                ("document", document_id.to_string()),
                ("attempt", "1".into()),
            ],
        )
        .await
        .map_err(redis_error)
    }

    async fn next(&self, wait: Duration) -> Result<Option<Job>, Error> {
        match self.take(wait).await {
            // The stream or its group is gone (a flushed or restarted Redis, a deleted key):
            // make them again; the reconciler queues the lost jobs.
            Err(e) if e.code() == Some("NOGROUP") => {
                tracing::warn!(stream = %self.stream, "the job stream's group is gone; creating it again");
                create_group(self.commands.clone(), &self.stream).await?;
                Ok(None)
            }
            taken => taken.map_err(redis_error),
        }
    }

    async fn keep_alive(&self, job: &Job) -> Result<(), Error> {
        let mut conn = self.commands.clone();
        // Claiming our own entry again resets its idle time, which is what the lease measures.
        redis::cmd("XCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(0)
            .arg(&job.receipt)
            .arg("JUSTID")
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn complete(&self, job: &Job) -> Result<(), Error> {
        let mut conn = self.commands.clone();
        redis::pipe()
            .atomic()
            .xack(&self.stream, GROUP, &[&job.receipt])
            .xdel(&self.stream, &[&job.receipt])
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn retry_later(&self, job: &Job, delay: Duration) -> Result<(), Error> {
        let mut conn = self.commands.clone();
        let member = format!("{}:{}", job.document_id, job.attempt + 1);
        redis::pipe()
            .atomic()
            .zadd(&self.delayed, member, now_ms() + delay.as_millis() as u64)
            .xack(&self.stream, GROUP, &[&job.receipt])
            .xdel(&self.stream, &[&job.receipt])
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn dead_letter(&self, job: &Job, reason: &str) -> Result<(), Error> {
        let mut conn = self.commands.clone();
        let fields = [
            ("document", job.document_id.to_string()),
            ("attempt", job.attempt.to_string()),
            ("reason", reason.to_owned()),
        ];
        redis::pipe()
            .atomic()
            .xadd(&self.dead, "*", &fields)
            .xack(&self.stream, GROUP, &[&job.receipt])
            .xdel(&self.stream, &[&job.receipt])
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn sizes(&self) -> Result<QueueSizes, Error> {
        let mut conn = self.commands.clone();
        let (length, pending, delayed, failed): (
            u64,
            redis::streams::StreamPendingReply,
            u64,
            u64,
        ) = redis::pipe()
            .xlen(&self.stream)
            .xpending(&self.stream, GROUP)
            .zcard(&self.delayed)
            .xlen(&self.dead)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        let active = pending.count() as u64;
        Ok(QueueSizes {
            waiting: length.saturating_sub(active),
            active,
            delayed,
            failed,
        })
    }
}

#[async_trait]
impl ReadinessCheck for RedisQueue {
    fn name(&self) -> &'static str {
        "queue"
    }

    async fn check(&self) -> Result<(), Error> {
        let mut conn = self.commands.clone();
        conn.xlen::<_, u64>(&self.stream)
            .await
            .map(drop)
            .map_err(redis_error)
    }
}
