//! The API server's version, asked once at start: what the operator can
//! rely on depends on it, and a user reading the log or the metrics should
//! see what the server will and will not enforce.

use kube::Client;
use tracing::{info, warn};

use crate::crd::CEL_MIN_VERSION;
use crate::metrics::Metrics;

/// The oldest Kubernetes version the operator is tested on.
pub const MIN_SUPPORTED: (u32, u32) = (1, 20);

/// A server's `major.minor`, as `/version` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl ServerVersion {
    /// Parses `/version`'s fields; providers append to the minor version
    /// (`"27+"` on EKS), which is ignored.
    pub fn parse(major: &str, minor: &str) -> Option<Self> {
        let digits = |s: &str| -> Option<u32> {
            let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            s[..end].parse().ok()
        };
        Some(Self {
            major: digits(major)?,
            minor: digits(minor)?,
        })
    }

    /// Whether the server keeps and enforces CRD validation rules (CEL).
    pub fn enforces_cel_rules(self) -> bool {
        (self.major, self.minor) >= CEL_MIN_VERSION
    }
}

/// Asks the server its version once, logs what follows from it and
/// exports it as `snapshot_operator_kubernetes_info`.
pub async fn discover(client: &Client, metrics: &Metrics) -> Option<ServerVersion> {
    let info = match client.apiserver_version().await {
        Ok(info) => info,
        Err(error) => {
            warn!(%error, "cannot read the API server's version; assuming it is supported");
            return None;
        }
    };
    let version = ServerVersion::parse(&info.major, &info.minor);
    let cel = version.is_some_and(ServerVersion::enforces_cel_rules);
    metrics.server(&info.git_version, cel);
    match version {
        Some(v) if (v.major, v.minor) < MIN_SUPPORTED => warn!(
            version = %info.git_version,
            "this Kubernetes is older than {}.{}, the oldest the operator is tested on",
            MIN_SUPPORTED.0,
            MIN_SUPPORTED.1
        ),
        _ if !cel => info!(
            version = %info.git_version,
            "this server drops the CRD's validation rules (they need {}.{}); the operator's own validation reports the same mistakes in the Degraded condition",
            CEL_MIN_VERSION.0,
            CEL_MIN_VERSION.1
        ),
        _ => info!(version = %info.git_version, "Kubernetes API server"),
    }
    version
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_with_provider_suffixes_and_gate_cel_at_1_25() {
        let eks = ServerVersion::parse("1", "27+").unwrap();
        assert_eq!(
            eks,
            ServerVersion {
                major: 1,
                minor: 27
            }
        );
        assert!(eks.enforces_cel_rules());
        assert!(
            !ServerVersion::parse("1", "20")
                .unwrap()
                .enforces_cel_rules()
        );
        assert!(
            ServerVersion::parse("1", "25")
                .unwrap()
                .enforces_cel_rules()
        );
        assert!(ServerVersion::parse("", "20").is_none());
    }
}
