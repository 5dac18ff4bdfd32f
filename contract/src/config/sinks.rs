//! Where a table's artifacts go (`destinations`) and who is told
//! (`events`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::is_default;

/// A destination; the manifest commit on every destination is the commit point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DestinationConfig {
    /// A local directory (artifacts fsynced and renamed into place; the
    /// manifest swapped under a lock file).
    Local {
        /// Root directory; keys are joined onto it.
        path: PathBuf,
    },
    /// An S3 bucket or an S3-compatible store.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Prefix prepended to every key (e.g. `archive/`).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        prefix: String,
        /// Region (default: the profile's, then the SDK chain's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// Endpoint URL of an S3-compatible store.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// Path-style addressing (`endpoint/bucket/key`), needed by most
        /// S3-compatible stores.
        #[serde(default, skip_serializing_if = "is_default")]
        path_style: bool,
        /// Credential profile name (default: the SDK chain).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
}

impl DestinationConfig {
    /// The credential profile this destination names, if any.
    pub fn credentials(&self) -> Option<&str> {
        match self {
            DestinationConfig::Local { .. } => None,
            DestinationConfig::S3 { credentials, .. } => credentials.as_deref(),
        }
    }
}

/// An advisory event sink, published to after the manifest head advances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventSinkConfig {
    /// An SNS topic.
    Sns {
        /// Topic ARN.
        topic_arn: String,
        /// Region (default: the profile's, then the SDK chain's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// Endpoint URL override (tests, VPC endpoints).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// Credential profile name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
    /// An SQS queue; FIFO queues (`.fifo`) get a message group and a
    /// deduplication id.
    Sqs {
        /// Queue URL.
        queue_url: String,
        /// FIFO message group id (default: the table name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_group_id: Option<String>,
        /// Region (default: the profile's, then the SDK chain's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// Endpoint URL override (tests, VPC endpoints).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// Credential profile name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
    /// A Kinesis data stream.
    Kinesis {
        /// Stream name.
        stream: String,
        /// Region (default: the profile's, then the SDK chain's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// Endpoint URL override (tests, VPC endpoints).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// Credential profile name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
}

impl EventSinkConfig {
    /// The credential profile this sink names, if any.
    pub fn credentials(&self) -> Option<&str> {
        self.target().credentials
    }

    /// What the sink publishes to, and through which endpoint and profile.
    pub fn target(&self) -> SinkTarget<'_> {
        let (key, value, endpoint, credentials) = match self {
            EventSinkConfig::Sns {
                topic_arn,
                endpoint,
                credentials,
                ..
            } => ("topic_arn", topic_arn, endpoint, credentials),
            EventSinkConfig::Sqs {
                queue_url,
                endpoint,
                credentials,
                ..
            } => ("queue_url", queue_url, endpoint, credentials),
            EventSinkConfig::Kinesis {
                stream,
                endpoint,
                credentials,
                ..
            } => ("stream", stream, endpoint, credentials),
        };
        SinkTarget {
            key,
            value,
            endpoint: endpoint.as_deref(),
            credentials: credentials.as_deref(),
        }
    }
}

/// The parts of an [`EventSinkConfig`] every kind has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkTarget<'a> {
    /// The key naming the target: `topic_arn`, `queue_url` or `stream`.
    pub key: &'static str,
    /// Its value.
    pub value: &'a str,
    /// The endpoint override, if any.
    pub endpoint: Option<&'a str>,
    /// The credential profile, if any.
    pub credentials: Option<&'a str>,
}
