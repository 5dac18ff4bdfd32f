//! One sink each for SNS (Publish), SQS (SendMessage) and Kinesis
//! (PutRecord). A sink makes one attempt per call: the SDK's own retries are
//! off because the [`EventPublisher`](super::EventPublisher) retries with its
//! own backoff and counts every failed attempt.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_types::Blob;
use sha2::{Digest, Sha256};

use super::Event;
use crate::aws::{AwsError, CredentialResolver, check_endpoint};
use crate::config::EventSinkConfig;

/// Time to connect to a sink.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for one publish attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// A failed publish attempt.
#[derive(Debug, thiserror::Error)]
#[error("publishing to {sink}")]
pub struct SinkError {
    /// The sink's label.
    pub sink: String,
    /// What went wrong: the SDK's error, with the service's error code.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Somewhere events go.
#[async_trait]
pub trait EventSink: Send + Sync + std::fmt::Debug {
    /// `sns:<topic>`, `sqs:<queue>`, `kinesis:<stream>`: the `sink` label of
    /// the event metrics and logs.
    fn label(&self) -> &str;

    /// Publishes `payload` (the JSON of `event`) once.
    async fn send(&self, event: &Event, payload: &str) -> Result<(), SinkError>;
}

/// Builds the sink `config` describes, with credentials from `resolver`.
pub async fn connect_sink(
    config: &EventSinkConfig,
    resolver: &CredentialResolver,
) -> Result<Arc<dyn EventSink>, AwsError> {
    let (label, region, endpoint) = match config {
        EventSinkConfig::Sns {
            topic_arn,
            region,
            endpoint,
            ..
        } => (
            format!("sns:{}", last_segment(topic_arn, ':')),
            region,
            endpoint,
        ),
        EventSinkConfig::Sqs {
            queue_url,
            region,
            endpoint,
            ..
        } => (
            format!("sqs:{}", last_segment(queue_url, '/')),
            region,
            endpoint,
        ),
        EventSinkConfig::Kinesis {
            stream,
            region,
            endpoint,
            ..
        } => (
            format!("kinesis:{}", last_segment(stream, '/')),
            region,
            endpoint,
        ),
    };
    if let Some(endpoint) = endpoint {
        check_endpoint(&label, endpoint)?;
    }
    let sdk = resolver
        .sdk_config(&label, config.credentials(), region.as_deref())
        .await?;
    let sdk = one_attempt(&sdk, endpoint.as_deref());
    Ok(match config {
        EventSinkConfig::Sns { topic_arn, .. } => Arc::new(SnsSink {
            client: aws_sdk_sns::Client::new(&sdk),
            fifo: topic_arn.ends_with(".fifo"),
            topic_arn: topic_arn.clone(),
            label,
        }),
        EventSinkConfig::Sqs {
            queue_url,
            message_group_id,
            ..
        } => Arc::new(SqsSink {
            client: aws_sdk_sqs::Client::new(&sdk),
            fifo: queue_url.trim_end_matches('/').ends_with(".fifo"),
            queue_url: queue_url.clone(),
            message_group_id: message_group_id.clone(),
            label,
        }),
        EventSinkConfig::Kinesis { stream, .. } => Arc::new(KinesisSink {
            client: aws_sdk_kinesis::Client::new(&sdk),
            stream: stream.clone(),
            label,
        }),
    })
}

/// `sdk` with the SDK's retries off, bounded attempts and `endpoint`.
fn one_attempt(sdk: &SdkConfig, endpoint: Option<&str>) -> SdkConfig {
    let mut builder = sdk
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

fn last_segment(s: &str, separator: char) -> &str {
    s.trim_end_matches(separator)
        .rsplit(separator)
        .next()
        .unwrap_or(s)
}

/// The FIFO deduplication id of an event: `table/id` when it fits the
/// services' rules (at most 128 characters, ASCII letters, digits and
/// punctuation), else its SHA-256 in hex.
fn deduplication_id(event: &Event) -> String {
    let id = format!("{}/{}", event.table, event.id);
    if id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) {
        id
    } else {
        hex::encode(Sha256::digest(id.as_bytes()))
    }
}

fn sink_error<E>(label: &str, err: E) -> SinkError
where
    E: std::error::Error + Send + Sync + 'static,
{
    SinkError {
        sink: label.to_owned(),
        source: Box::new(err),
    }
}

/// An SNS topic; FIFO topics (`.fifo`) get the table as message group and
/// the event's deduplication id.
#[derive(Debug)]
struct SnsSink {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    fifo: bool,
    label: String,
}

#[async_trait]
impl EventSink for SnsSink {
    fn label(&self) -> &str {
        &self.label
    }

    async fn send(&self, event: &Event, payload: &str) -> Result<(), SinkError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(payload);
        if self.fifo {
            request = request
                .message_group_id(&event.table)
                .message_deduplication_id(deduplication_id(event));
        }
        request
            .send()
            .await
            .map(drop)
            .map_err(|e| sink_error(&self.label, e))
    }
}

/// An SQS queue; FIFO queues (`.fifo`) get a message group (configured, else
/// the table) and the event's deduplication id.
#[derive(Debug)]
struct SqsSink {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    message_group_id: Option<String>,
    fifo: bool,
    label: String,
}

#[async_trait]
impl EventSink for SqsSink {
    fn label(&self) -> &str {
        &self.label
    }

    async fn send(&self, event: &Event, payload: &str) -> Result<(), SinkError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(payload);
        if self.fifo {
            request = request
                .message_group_id(self.message_group_id.as_deref().unwrap_or(&event.table))
                .message_deduplication_id(deduplication_id(event));
        }
        request
            .send()
            .await
            .map(drop)
            .map_err(|e| sink_error(&self.label, e))
    }
}

/// A Kinesis data stream (name or ARN), partitioned by table so one table's
/// events stay in order.
#[derive(Debug)]
struct KinesisSink {
    client: aws_sdk_kinesis::Client,
    stream: String,
    label: String,
}

#[async_trait]
impl EventSink for KinesisSink {
    fn label(&self) -> &str {
        &self.label
    }

    async fn send(&self, event: &Event, payload: &str) -> Result<(), SinkError> {
        let request = self
            .client
            .put_record()
            .data(Blob::new(payload.as_bytes()))
            .partition_key(&event.table);
        let request = if self.stream.starts_with("arn:") {
            request.stream_arn(&self.stream)
        } else {
            request.stream_name(&self.stream)
        };
        request
            .send()
            .await
            .map(drop)
            .map_err(|e| sink_error(&self.label, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_topic_queue_and_stream() {
        assert_eq!(
            last_segment("arn:aws:sns:us-east-1:123:events.fifo", ':'),
            "events.fifo"
        );
        assert_eq!(
            last_segment("https://sqs.us-east-1.amazonaws.com/123/q/", '/'),
            "q"
        );
        assert_eq!(
            last_segment("arn:aws:kinesis:us-east-1:123:stream/s", '/'),
            "s"
        );
        assert_eq!(last_segment("s", '/'), "s");
    }

    #[test]
    fn deduplication_ids_fit_the_fifo_rules() {
        let mut event: Event = serde_json::from_value(serde_json::json!({
            "table": "public.users", "kind": "diff", "epoch": 1, "from_position": "0/1",
            "to_position": "0/2", "head_position": "0/2", "manifest_uri": "file:///m",
            "formats": {}, "created_at": "2026-01-01T00:00:00Z", "id": "users/epoch=1/diff-0_1-0_2",
        }))
        .unwrap();
        assert_eq!(
            deduplication_id(&event),
            "public.users/users/epoch=1/diff-0_1-0_2"
        );
        event.id = "x".repeat(200);
        let long = deduplication_id(&event);
        assert_eq!(long.len(), 64);
        event.id = "with space".into();
        assert_eq!(deduplication_id(&event).len(), 64);
    }
}
