//! `spec.source`: the laredo fan-out subscription.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema;

/// The laredo fan-out subscription. `schema` and `table` are immutable: a
/// SnapshotTable archives one table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceSpec {
    /// `host:port` or `http://host:port` of the laredo-server replication
    /// listener (stock port 4002).
    #[schemars(length(min = 1, max = 2048))]
    pub server: String,

    /// Wire protocol: `connect` (default; Connect streaming, what laredo's Go
    /// client speaks), `grpc-web`, or `grpc` (native gRPC over HTTP/2, for
    /// servers that offer it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<SourceProtocol>,

    /// PostgreSQL schema of the table. Immutable.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new("self == oldSelf").message(super::rules::SCHEMA_IMMUTABLE))]
    pub schema: String,

    /// Name of the table. Immutable.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new("self == oldSelf").message(super::rules::TABLE_IMMUTABLE))]
    pub table: String,

    /// Client id sent to the server (default `snapshot-writer-<schema>.<table>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub client_id: Option<String>,

    /// Row filters evaluated by the server, AND-combined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub filters: Option<Vec<FilterSpec>>,

    /// A stream silent for longer than this is treated as dead (default `30s`;
    /// the server sends a heartbeat every 5 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN), length(max = 64))]
    pub heartbeat_timeout: Option<String>,

    /// Time allowed to connect and receive the handshake (default `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN), length(max = 64))]
    pub connect_timeout: Option<String>,

    /// Largest accepted message, e.g. `16MiB` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::SIZE_PATTERN), length(max = 64))]
    pub max_message_size: Option<String>,

    /// Reconnect backoff (capped exponential, reset after a healthy stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect: Option<ReconnectSpec>,
}

/// Wire protocol to the fan-out server: `connect` (default; Connect
/// streaming, what laredo's Go client speaks), `grpc-web`, or `grpc` (native
/// gRPC over HTTP/2, for servers that offer it).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SourceProtocol {
    /// Connect streaming over HTTP/1.1 or HTTP/2; works against a stock
    /// plaintext laredo-server.
    Connect,
    /// gRPC-Web over HTTP/1.1; also works against a stock laredo-server.
    GrpcWeb,
    /// Native gRPC over HTTP/2 (cleartext prior knowledge).
    Grpc,
}

impl From<SourceProtocol> for snapshot_contract::config::SourceProtocol {
    fn from(protocol: SourceProtocol) -> Self {
        match protocol {
            SourceProtocol::Connect => Self::Connect,
            SourceProtocol::GrpcWeb => Self::GrpcWeb,
            SourceProtocol::Grpc => Self::Grpc,
        }
    }
}

/// One server-side row filter: exactly one of `equals`, `prefix`, `in`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.equals), has(self.prefix), has(self.__in__)].exists_one(x, x)").message(super::rules::FILTER_ONE_KIND))]
pub struct FilterSpec {
    /// Column the predicate applies to.
    #[schemars(length(min = 1, max = 253))]
    pub field: String,

    /// The column equals this value (a string, number or boolean; numbers
    /// compare numerically).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::any_scalar")]
    pub equals: Option<serde_json::Value>,

    /// The string column starts with this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,

    /// The column equals one of these values (strings, numbers or booleans).
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::any_scalar_list")]
    pub one_of: Option<Vec<serde_json::Value>>,
}

/// Reconnect backoff of the source stream.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.initialBackoff) || !has(self.maxBackoff) || duration(self.initialBackoff) <= duration(self.maxBackoff)").message(super::rules::BACKOFF_ORDER))]
pub struct ReconnectSpec {
    /// First delay (default `1s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN), length(max = 64))]
    pub initial_backoff: Option<String>,
    /// Largest delay (default `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN), length(max = 64))]
    pub max_backoff: Option<String>,
}
