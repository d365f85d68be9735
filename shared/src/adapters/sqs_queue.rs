//! The job queue on Amazon SQS, for the serverless runtime (and any worker that polls SQS). A
//! message carries a document id. Its visibility timeout is the lease. SQS's receive count is the
//! attempt number. A job given up on is sent to the dead-letter queue with its reason, and the
//! queue's redrive policy (maxReceiveCount 3) catches messages whose worker keeps dying.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::{
    Client,
    error::DisplayErrorContext,
    types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName},
};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    Error,
    ports::{Job, Queue, QueueSizes, ReadinessCheck},
};

/// SQS holds a message out of sight for at most 12 hours.
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);
/// A receive waits for a message for at most 20 s.
const MAX_WAIT: Duration = Duration::from_secs(20);

/// The message body: JSON, so that it can grow.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobMessage {
    pub document_id: Uuid,
}

impl JobMessage {
    fn body(document_id: Uuid) -> String {
        serde_json::json!({ "documentId": document_id }).to_string()
    }

    /// A job from a delivered message. `None` for a body that is not ours (poisoned).
    pub fn job(body: &str, receive_count: Option<&str>, receipt: String) -> Option<Job> {
        let message: Self = serde_json::from_str(body).ok()?;
        Some(Job {
            document_id: message.document_id,
            attempt: receive_count.and_then(|n| n.parse().ok()).unwrap_or(1),
            receipt,
        })
    }
}

fn sqs_error<E: std::error::Error>(e: E) -> Error {
    Error::backend("queue", DisplayErrorContext(e))
}

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    dead_letter_url: String,
    lease: Duration,
}

impl SqsQueue {
    /// Credentials and region come from the environment, as in Lambda. `endpoint` points the
    /// client at an SQS-compatible server (tests). Nothing is sent until the first call, so a
    /// cold start pays no round trip.
    pub async fn new(
        url: &str,
        dead_letter_url: &str,
        endpoint: Option<&str>,
        lease: Duration,
    ) -> Self {
        let mut loader = aws_config::from_env();
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Self {
            client: Client::new(&loader.load().await),
            url: url.to_owned(),
            dead_letter_url: dead_letter_url.to_owned(),
            lease: lease.min(MAX_VISIBILITY),
        }
    }

    async fn hide_for(&self, job: &Job, time: Duration) -> Result<(), Error> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&job.receipt)
            .visibility_timeout(seconds(time.min(MAX_VISIBILITY)))
            .send()
            .await
            .map(drop)
            .map_err(sqs_error)
    }

    async fn approximate_counts(
        &self,
        url: &str,
        names: &[QueueAttributeName],
    ) -> Result<Vec<u64>, Error> {
        let answer = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(sqs_error)?;
        let attributes = answer.attributes();
        Ok(names
            .iter()
            .map(|name| {
                attributes
                    .and_then(|a| a.get(name))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            })
            .collect())
    }
}

fn seconds(time: Duration) -> i32 {
    i32::try_from(time.as_secs()).unwrap_or(i32::MAX)
}

#[async_trait]
impl Queue for SqsQueue {
    async fn enqueue(&self, document_id: Uuid) -> Result<(), Error> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(JobMessage::body(document_id))
            .send()
            .await
            .map(drop)
            .map_err(sqs_error)
    }

    async fn next(&self, wait: Duration) -> Result<Option<Job>, Error> {
        let answer = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(1)
            .wait_time_seconds(seconds(wait.min(MAX_WAIT)))
            .visibility_timeout(seconds(self.lease))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(sqs_error)?;
        let Some(message) = answer.messages().first() else {
            return Ok(None);
        };
        let receive_count = message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount));
        let job = JobMessage::job(
            message.body().unwrap_or_default(),
            receive_count.map(String::as_str),
            message.receipt_handle().unwrap_or_default().to_owned(),
        );
        if job.is_none() {
            // Left alone, it comes back until the redrive policy moves it to the dead-letter queue.
            tracing::warn!(
                message = message.message_id(),
                "a message that is not a job"
            );
        }
        Ok(job)
    }

    async fn keep_alive(&self, job: &Job) -> Result<(), Error> {
        self.hide_for(job, self.lease).await
    }

    async fn complete(&self, job: &Job) -> Result<(), Error> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&job.receipt)
            .send()
            .await
            .map(drop)
            .map_err(sqs_error)
    }

    /// The message reappears after `delay`, and its receive count makes it the next attempt.
    async fn retry_later(&self, job: &Job, delay: Duration) -> Result<(), Error> {
        self.hide_for(job, delay).await
    }

    async fn dead_letter(&self, job: &Job, reason: &str) -> Result<(), Error> {
        let attribute = |value: String| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(sqs_error)
        };
        self.client
            .send_message()
            .queue_url(&self.dead_letter_url)
            .message_body(JobMessage::body(job.document_id))
            .message_attributes("reason", attribute(reason.chars().take(1000).collect())?)
            .message_attributes("attempts", attribute(job.attempt.to_string())?)
            .send()
            .await
            .map_err(sqs_error)?;
        self.complete(job).await
    }

    async fn sizes(&self) -> Result<QueueSizes, Error> {
        let (main, dead) = tokio::try_join!(
            self.approximate_counts(
                &self.url,
                &[
                    QueueAttributeName::ApproximateNumberOfMessages,
                    QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                    QueueAttributeName::ApproximateNumberOfMessagesDelayed,
                ],
            ),
            self.approximate_counts(
                &self.dead_letter_url,
                &[QueueAttributeName::ApproximateNumberOfMessages]
            ),
        )?;
        Ok(QueueSizes {
            waiting: main[0],
            active: main[1],
            delayed: main[2],
            failed: dead[0],
        })
    }
}

#[async_trait]
impl ReadinessCheck for SqsQueue {
    fn name(&self) -> &'static str {
        "queue"
    }

    async fn check(&self) -> Result<(), Error> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map(drop)
            .map_err(sqs_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_comes_from_its_body_and_receive_count() {
        let id = Uuid::new_v4();
        let body = JobMessage::body(id);
        assert_eq!(body, format!(r#"{{"documentId":"{id}"}}"#));
        let job = JobMessage::job(&body, Some("3"), "receipt".into()).unwrap();
        assert_eq!((job.document_id, job.attempt), (id, 3));
        assert_eq!(
            JobMessage::job(&body, None, String::new()).unwrap().attempt,
            1
        );
    }

    #[test]
    fn a_body_that_is_not_a_job_is_none() {
        for poisoned in ["", "hello", "{}", r#"{"documentId":"not-a-uuid"}"#] {
            assert!(
                JobMessage::job(poisoned, Some("1"), String::new()).is_none(),
                "{poisoned}"
            );
        }
    }
}
