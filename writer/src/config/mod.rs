//! The writer's YAML configuration: one table inline at the root, or a
//! `tables:` list, plus `credentials`, `http` and `shutdown` at the root.
//!
//! Parsing is strict: unknown keys, bad durations or sizes, missing required
//! fields and dangling references are errors that name the path and the value
//! (`tables[1].snapshot.max_interval: invalid duration "10 minutes"`). The
//! reference of every key is in the README ("Configuration"); `writer/examples/`
//! holds a documented example of every feature.

mod load;
mod tls;
mod units;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use load::prescan::{MAX_CONFIG_BYTES, MAX_NESTING};
pub use load::validate::MIN_DIFF_INTERVAL;
pub use load::{ConfigError, load_file, parse_str};
pub use tls::SourceTlsConfig;
pub use units::{ByteSize, GoDuration};

/// Default HTTP port of the writer's API.
pub const DEFAULT_HTTP_PORT: u16 = 8080;

/// The whole writer configuration after parsing and validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterConfig {
    /// The HTTP API listener.
    #[serde(default)]
    pub http: HttpConfig,
    /// Named AWS credential profiles, referenced by destinations and event sinks.
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialProfile>,
    /// Shutdown behaviour on SIGTERM/SIGINT.
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    /// The tables this process writes; at least one.
    pub tables: Vec<TableConfig>,
}

/// `http:` — where the API listens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// TCP port (default 8080).
    #[serde(default = "default_http_port")]
    pub port: u16,
    /// Address to bind (default `0.0.0.0`); an IP address, not a host name.
    #[serde(default = "default_bind", deserialize_with = "units::deserialize_ip")]
    pub bind: IpAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            port: DEFAULT_HTTP_PORT,
            bind: default_bind(),
        }
    }
}

fn default_http_port() -> u16 {
    DEFAULT_HTTP_PORT
}

fn default_bind() -> IpAddr {
    IpAddr::from([0, 0, 0, 0])
}

/// `shutdown:` — how long SIGTERM may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// Time allowed to flush the final diff and commit the manifest on every
    /// destination before the process exits anyway (default `25s`, inside
    /// Kubernetes' default 30 s termination grace period).
    #[serde(default = "default_grace_period")]
    pub grace_period: GoDuration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            grace_period: default_grace_period(),
        }
    }
}

fn default_grace_period() -> GoDuration {
    GoDuration(std::time::Duration::from_secs(25))
}

/// A named AWS credential profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialProfile {
    /// The SDK default chain: environment, web identity (IRSA), container and
    /// instance roles.
    Ambient {
        /// Region for clients using this profile, unless the component sets one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
    },
    /// STS AssumeRole on top of the ambient identity, cached and refreshed
    /// before expiry.
    AssumeRole {
        /// The role to assume.
        role_arn: String,
        /// External id required by the role's trust policy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
        /// Session name (default `snapshot-writer`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_name: Option<String>,
        /// Region of the STS endpoint and of clients using this profile.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
    },
}

/// One table: where it comes from, how often it is written and where to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// The fan-out subscription.
    pub source: SourceConfig,
    /// Prefix of every key this table writes, relative to each destination
    /// (default `<table>/`, as laredo-snapshotter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// Columns whose values identify a row (default `[id]`).
    #[serde(default = "default_key_fields")]
    pub key_fields: Vec<String>,
    /// Diff cadence.
    #[serde(default)]
    pub diff: DiffConfig,
    /// Re-base thresholds; an omitted key disables its trigger.
    #[serde(default)]
    pub snapshot: SnapshotPolicyConfig,
    /// How many epochs the manifest keeps.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Where artifacts go; an artifact is durable once on every one.
    pub destinations: Vec<DestinationConfig>,
    /// Artifact formats per kind.
    #[serde(default)]
    pub formats: FormatsConfig,
    /// Advisory notifications after each manifest commit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventSinkConfig>,
}

impl TableConfig {
    /// `schema.table`, the name used in `/status`, metrics and the manifest.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.source.schema, self.source.table)
    }

    /// The key prefix in effect: the configured one, or `<table>/`.
    pub fn effective_key_prefix(&self) -> String {
        self.key_prefix
            .clone()
            .unwrap_or_else(|| format!("{}/", self.source.table))
    }
}

fn default_key_fields() -> Vec<String> {
    vec!["id".to_owned()]
}

/// `source:` — the laredo fan-out subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `host:port`, `http://host:port` or `https://host:port` of the
    /// laredo-server replication listener (stock port 4002).
    pub server: String,
    /// Certificate checks for an `https://` server.
    #[serde(default, skip_serializing_if = "SourceTlsConfig::is_default")]
    pub tls: SourceTlsConfig,
    /// Wire protocol (default `connect`, what the Go client speaks).
    #[serde(default)]
    pub protocol: SourceProtocol,
    /// Schema of the table.
    pub schema: String,
    /// Name of the table.
    pub table: String,
    /// Client id sent to the server (default `snapshot-writer-<schema>.<table>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Row filters, AND-combined, evaluated by the server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FilterConfig>,
    /// A stream silent for longer than this is treated as dead (default `30s`;
    /// the server sends a heartbeat every 5 s).
    #[serde(default = "default_heartbeat_timeout")]
    pub heartbeat_timeout: GoDuration,
    /// Time allowed to connect and receive the handshake (default `10s`).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: GoDuration,
    /// Largest accepted message (default `16MiB`).
    #[serde(default = "default_max_message_size")]
    pub max_message_size: ByteSize,
    /// Reconnect backoff.
    #[serde(default)]
    pub reconnect: ReconnectConfig,
}

fn default_heartbeat_timeout() -> GoDuration {
    GoDuration(std::time::Duration::from_secs(30))
}

fn default_connect_timeout() -> GoDuration {
    GoDuration(std::time::Duration::from_secs(10))
}

fn default_max_message_size() -> ByteSize {
    ByteSize(16 << 20)
}

/// How the writer talks to the fan-out server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceProtocol {
    /// Connect streaming over HTTP/1.1 (or HTTP/2), as the Go client; works
    /// against a stock plaintext laredo-server.
    #[default]
    Connect,
    /// gRPC-Web over HTTP/1.1; also works against a stock laredo-server.
    GrpcWeb,
    /// Native gRPC over HTTP/2 (cleartext prior knowledge); needs a server
    /// that offers HTTP/2.
    Grpc,
}

/// One server-side row filter; exactly one of `equals`, `prefix`, `in`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Column the predicate applies to.
    pub field: String,
    /// The column equals this value (numbers compare numerically).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    /// The string column starts with this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The column equals one of these values.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<serde_json::Value>>,
}

/// `source.reconnect:` — capped exponential backoff, reset after a healthy stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectConfig {
    /// First delay (default `1s`).
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: GoDuration,
    /// Largest delay (default `30s`).
    #[serde(default = "default_max_backoff")]
    pub max_backoff: GoDuration,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self {
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

fn default_initial_backoff() -> GoDuration {
    GoDuration(std::time::Duration::from_secs(1))
}

fn default_max_backoff() -> GoDuration {
    GoDuration(std::time::Duration::from_secs(30))
}

/// `diff:` — how often buffered changes are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffConfig {
    /// Flush interval (default `30s`).
    #[serde(default = "default_diff_interval")]
    pub interval: GoDuration,
}

impl Default for DiffConfig {
    fn default() -> Self {
        Self {
            interval: default_diff_interval(),
        }
    }
}

fn default_diff_interval() -> GoDuration {
    GoDuration(std::time::Duration::from_secs(30))
}

/// `snapshot:` — re-base thresholds. Any one that fires writes a new base
/// snapshot in a new epoch, unless `min_interval` has not passed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotPolicyConfig {
    /// Never re-base more often than this (forced snapshots excepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<GoDuration>,
    /// Re-base at least this often, even on a quiet table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_interval: Option<GoDuration>,
    /// Re-base when a diff reaches this size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_diff_bytes: Option<ByteSize>,
    /// Re-base when a diff reaches this fraction of the last snapshot's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_diff_fraction: Option<f64>,
    /// Re-base after this many changes since the last snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_churn_records: Option<u64>,
    /// Re-base after changes reach this fraction of the row count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_churn_fraction: Option<f64>,
}

/// `retention:` — manifest pruning; objects no manifest references are deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Keep the newest N epochs; omitted or 0 keeps every epoch (laredo's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_epochs: Option<u32>,
}

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
        #[serde(default)]
        prefix: String,
        /// Region (default: the profile's, then the SDK chain's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// Endpoint URL of an S3-compatible store.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// Path-style addressing (`endpoint/bucket/key`), needed by most
        /// S3-compatible stores.
        #[serde(default)]
        path_style: bool,
        /// Credential profile name (default: the SDK chain).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<String>,
    },
}

/// `formats:` — the artifact formats written for each kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatsConfig {
    /// Snapshot formats (default `[jsonl]`).
    #[serde(default = "default_formats")]
    pub snapshot: Vec<Format>,
    /// Diff formats (default `[jsonl]`).
    #[serde(default = "default_formats")]
    pub diff: Vec<Format>,
}

impl Default for FormatsConfig {
    fn default() -> Self {
        Self {
            snapshot: default_formats(),
            diff: default_formats(),
        }
    }
}

fn default_formats() -> Vec<Format> {
    vec![Format::Jsonl]
}

/// An artifact format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per line (`.jsonl`).
    Jsonl,
    /// Varint length-delimited protobuf records (`.pb`).
    Protobuf,
}

impl Format {
    /// The format id used in the manifest (`jsonl`, `protobuf`).
    pub fn id(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Protobuf => "protobuf",
        }
    }

    /// The file extension without the dot (`jsonl`, `pb`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Protobuf => "pb",
        }
    }

    /// The format with this manifest id.
    pub fn from_id(id: &str) -> Option<Self> {
        [Format::Jsonl, Format::Protobuf]
            .into_iter()
            .find(|f| f.id() == id)
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
        match self {
            EventSinkConfig::Sns { credentials, .. }
            | EventSinkConfig::Sqs { credentials, .. }
            | EventSinkConfig::Kinesis { credentials, .. } => credentials.as_deref(),
        }
    }
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
