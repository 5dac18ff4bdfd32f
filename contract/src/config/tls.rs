//! `source.tls:` — how an `https://` source's certificate is checked.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// TLS settings of the source connection; used only for an `https://`
/// `source.server`. The server's certificate is always verified: against
/// the system's root certificates, plus those of `ca_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceTlsConfig {
    /// A PEM file of extra CA certificates to trust (a private CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl SourceTlsConfig {
    /// Whether nothing is set (not serialized then).
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }
}
