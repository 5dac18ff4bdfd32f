//! The writer's YAML configuration: one table inline at the root, or a
//! `tables:` list, plus `credentials`, `http` and `shutdown` at the root.
//!
//! Parsing is strict: unknown keys, bad durations or sizes, missing required
//! fields and dangling references are errors that name the path and the value
//! (`tables[1].snapshot.max_interval: invalid duration "10 minutes"`), and
//! one run reports every one of them ([`load`]). The reference of every key
//! is in the README ("Configuration"); `writer/examples/` holds a documented
//! example of every feature.
//!
//! A key at its default is not serialized: a config the operator renders
//! names only what its SnapshotTable sets, so it also loads in a writer
//! older than the operator, as long as the spec uses nothing that writer
//! lacks.

mod load;
mod server;
mod sinks;
mod source;
mod table;
mod tls;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::{self, GoDuration};

pub use load::location::{identity as location_identity, s3_identity};
pub use load::path::{ConfigPath, Segment};
pub use load::prescan::{MAX_CONFIG_BYTES, MAX_NESTING};
pub use load::validate::{MIN_DIFF_INTERVAL, MIN_MESSAGE_SIZE, validate};
pub use load::{ConfigError, TableCheck, load_file, load_file_with, parse_str, parse_str_with};
pub use server::{InvalidServer, server_origin};
pub use sinks::{DestinationConfig, EventSinkConfig, SinkTarget};
pub use source::{FilterConfig, ReconnectConfig, SourceConfig, SourceProtocol};
pub use table::{
    DiffConfig, Format, FormatsConfig, RetentionConfig, SnapshotPolicyConfig, TableConfig,
    default_key_prefix,
};
pub use tls::SourceTlsConfig;

/// Default HTTP port of the writer's API.
pub const DEFAULT_HTTP_PORT: u16 = crate::names::HTTP_PORT;

/// Defines a default (`$name`, for `#[serde(default = …)]`) and the test
/// whether a value is it (`$is`, for `skip_serializing_if`).
macro_rules! default_value {
    ($name:ident, $is:ident: $ty:ty = $value:expr) => {
        fn $name() -> $ty {
            $value
        }
        #[allow(
            clippy::trivially_copy_pass_by_ref,
            reason = "serde passes a reference"
        )]
        fn $is(value: &$ty) -> bool {
            *value == $name()
        }
    };
}
pub(crate) use default_value;

/// Whether `value` is its type's default (not serialized then).
pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The whole writer configuration after parsing and validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterConfig {
    /// The HTTP API listener.
    #[serde(default, skip_serializing_if = "is_default")]
    pub http: HttpConfig,
    /// Named AWS credential profiles, referenced by destinations and event sinks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, CredentialProfile>,
    /// Shutdown behaviour on SIGTERM/SIGINT.
    #[serde(default, skip_serializing_if = "is_default")]
    pub shutdown: ShutdownConfig,
    /// The tables this process writes; at least one.
    pub tables: Vec<TableConfig>,
}

/// `http:` — where the API listens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// TCP port (default 8080).
    #[serde(
        default = "default_http_port",
        skip_serializing_if = "is_default_http_port"
    )]
    pub port: u16,
    /// Address to bind (default `0.0.0.0`); an IP address, not a host name.
    #[serde(
        default = "default_bind",
        deserialize_with = "units::deserialize_ip",
        skip_serializing_if = "is_default_bind"
    )]
    pub bind: IpAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            port: default_http_port(),
            bind: default_bind(),
        }
    }
}

default_value!(default_http_port, is_default_http_port: u16 = DEFAULT_HTTP_PORT);
default_value!(default_bind, is_default_bind: IpAddr = IpAddr::from([0, 0, 0, 0]));

/// `shutdown:` — how long SIGTERM may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// Time allowed to flush the final diff and commit the manifest on every
    /// destination before the process exits anyway (default `25s`, inside
    /// Kubernetes' default 30 s termination grace period).
    #[serde(
        default = "default_grace_period",
        skip_serializing_if = "is_default_grace_period"
    )]
    pub grace_period: GoDuration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            grace_period: default_grace_period(),
        }
    }
}

default_value!(default_grace_period, is_default_grace_period: GoDuration = GoDuration(Duration::from_secs(25)));

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
