//! `spec.destinations` and `spec.events`: where artifacts go and who is told.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One destination: exactly one of `local`, `s3`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.local), has(self.s3)].exists_one(x, x)").message(super::rules::DESTINATION_ONE_KIND))]
pub struct DestinationSpec {
    /// A directory on the writer's volume (see `writer.storage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalDestination>,
    /// An S3 bucket or S3-compatible store, written with conditional writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Destination>,
}

/// A directory on the writer pod's data volume.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalDestination {
    /// Absolute directory inside the writer pod, under `writer.storage.mountPath`
    /// (default `/data`), e.g. `/data/archive`.
    #[schemars(regex(pattern = "^/"), length(min = 1, max = 4096))]
    pub path: String,
}

/// An S3 bucket and prefix.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Destination {
    /// Bucket name.
    #[schemars(length(min = 1, max = 63))]
    pub bucket: String,
    /// Prefix prepended to every key, e.g. `archive/` (default empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub prefix: Option<String>,
    /// Region (default: the credential profile's, then the SDK chain's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub region: Option<String>,
    /// Endpoint URL of an S3-compatible store, e.g. `http://minio.storage:9000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^https?://.+"), length(max = 2048))]
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), needed by most
    /// S3-compatible stores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    /// Name of a profile in `spec.credentials` (default: the SDK chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub credentials: Option<String>,
}

/// One event sink: exactly one of `sns`, `sqs`, `kinesis`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.sns), has(self.sqs), has(self.kinesis)].exists_one(x, x)").message(super::rules::SINK_ONE_KIND))]
pub struct EventSinkSpec {
    /// An SNS topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sns: Option<SnsSink>,
    /// An SQS queue; FIFO queues (`.fifo`) get a message group and a
    /// deduplication id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs: Option<SqsSink>,
    /// A Kinesis data stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis: Option<KinesisSink>,
}

impl EventSinkSpec {
    /// The one sink this entry names: its kind, its required key and that
    /// key's value, and the common fields; `None` unless exactly one is set.
    pub fn target(&self) -> Option<(&'static str, &'static str, &str, &SinkCommon)> {
        match (&self.sns, &self.sqs, &self.kinesis) {
            (Some(s), None, None) => Some(("sns", "topicArn", &s.topic_arn, &s.common)),
            (None, Some(s), None) => Some(("sqs", "queueUrl", &s.queue_url, &s.common)),
            (None, None, Some(s)) => Some(("kinesis", "stream", &s.stream, &s.common)),
            _ => None,
        }
    }
}

/// An SNS topic.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnsSink {
    /// Topic ARN.
    #[schemars(length(min = 1, max = 2048))]
    pub topic_arn: String,
    /// Region, endpoint and credentials.
    #[serde(flatten)]
    pub common: SinkCommon,
}

/// An SQS queue.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SqsSink {
    /// Queue URL.
    #[schemars(length(min = 1, max = 2048))]
    pub queue_url: String,
    /// FIFO message group id (default: the table name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub message_group_id: Option<String>,
    /// Region, endpoint and credentials.
    #[serde(flatten)]
    pub common: SinkCommon,
}

/// A Kinesis data stream.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KinesisSink {
    /// Stream name.
    #[schemars(length(min = 1, max = 128))]
    pub stream: String,
    /// Region, endpoint and credentials.
    #[serde(flatten)]
    pub common: SinkCommon,
}

/// The fields every event sink has.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct SinkCommon {
    /// Region (default: the profile's, then the SDK chain's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub region: Option<String>,
    /// Endpoint URL override (VPC endpoints, tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^https?://.+"), length(max = 2048))]
    pub endpoint: Option<String>,
    /// Name of a profile in `spec.credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub credentials: Option<String>,
}
