//! `source:` — the laredo fan-out subscription of one table.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SourceTlsConfig, default_value, is_default};
use crate::units::{ByteSize, GoDuration};

/// `source:` — the laredo fan-out subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `host:port`, `http://host:port` or `https://host:port` of the
    /// laredo-server replication listener (stock port 4002); see
    /// [`super::server_origin`].
    pub server: String,
    /// Certificate checks for an `https://` server.
    #[serde(default, skip_serializing_if = "SourceTlsConfig::is_default")]
    pub tls: SourceTlsConfig,
    /// Wire protocol (default `connect`, what the Go client speaks).
    #[serde(default, skip_serializing_if = "is_default")]
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
    #[serde(
        default = "default_heartbeat_timeout",
        skip_serializing_if = "is_default_heartbeat_timeout"
    )]
    pub heartbeat_timeout: GoDuration,
    /// Time allowed to connect and receive the handshake (default `10s`).
    #[serde(
        default = "default_connect_timeout",
        skip_serializing_if = "is_default_connect_timeout"
    )]
    pub connect_timeout: GoDuration,
    /// Largest accepted message (default `16MiB`).
    #[serde(
        default = "default_max_message_size",
        skip_serializing_if = "is_default_max_message_size"
    )]
    pub max_message_size: ByteSize,
    /// Reconnect backoff.
    #[serde(default, skip_serializing_if = "is_default")]
    pub reconnect: ReconnectConfig,
}

impl SourceConfig {
    /// A subscription to `schema.table` on `server` with every other key at
    /// its default.
    pub fn new(server: &str, schema: &str, table: &str) -> Self {
        Self {
            server: server.to_owned(),
            tls: SourceTlsConfig::default(),
            protocol: SourceProtocol::default(),
            schema: schema.to_owned(),
            table: table.to_owned(),
            client_id: None,
            filters: Vec::new(),
            heartbeat_timeout: default_heartbeat_timeout(),
            connect_timeout: default_connect_timeout(),
            max_message_size: default_max_message_size(),
            reconnect: ReconnectConfig::default(),
        }
    }
}

default_value!(default_heartbeat_timeout, is_default_heartbeat_timeout: GoDuration = GoDuration(Duration::from_secs(30)));
default_value!(default_connect_timeout, is_default_connect_timeout: GoDuration = GoDuration(Duration::from_secs(10)));
default_value!(default_max_message_size, is_default_max_message_size: ByteSize = ByteSize(16 << 20));

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
    #[serde(
        default = "default_initial_backoff",
        skip_serializing_if = "is_default_initial_backoff"
    )]
    pub initial_backoff: GoDuration,
    /// Largest delay (default `30s`).
    #[serde(
        default = "default_max_backoff",
        skip_serializing_if = "is_default_max_backoff"
    )]
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

default_value!(default_initial_backoff, is_default_initial_backoff: GoDuration = GoDuration(Duration::from_secs(1)));
default_value!(default_max_backoff, is_default_max_backoff: GoDuration = GoDuration(Duration::from_secs(30)));
