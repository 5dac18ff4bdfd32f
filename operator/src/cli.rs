//! Command-line flags of `snapshot-operator`, each with an environment
//! variable fallback (what the Helm chart sets).

use std::time::Duration;

use clap::Parser;

use crate::controller::DEFAULT_CONCURRENCY;
use crate::telemetry::LogFormat;
use crate::writer_client::default_writer_url_template;

/// The writer image used when a SnapshotTable names none.
pub const DEFAULT_WRITER_IMAGE: &str = concat!("snapshot-writer:", env!("CARGO_PKG_VERSION"));

/// Reconciles SnapshotTable resources into snapshot writers.
#[derive(Debug, Clone, Parser)]
#[command(name = "snapshot-operator", version, about)]
pub struct Args {
    /// Watch SnapshotTables in this namespace only (default: all namespaces).
    #[arg(long, env = "SNAPSHOT_OPERATOR_NAMESPACE")]
    pub namespace: Option<String>,

    /// Writer image for SnapshotTables that set no `spec.writer.image`.
    #[arg(long, env = "SNAPSHOT_OPERATOR_WRITER_IMAGE", default_value = DEFAULT_WRITER_IMAGE)]
    pub writer_image: String,

    /// Address of a SnapshotTable's writer API; `{name}` and `{namespace}`
    /// are replaced. Override to run writers outside the cluster (tests).
    #[arg(long, env = "SNAPSHOT_OPERATOR_WRITER_URL_TEMPLATE", default_value_t = default_writer_url_template())]
    pub writer_url_template: String,

    /// Port of `/metrics`, `/livez` and `/readyz`.
    #[arg(long, env = "SNAPSHOT_OPERATOR_HTTP_PORT", default_value_t = 8080)]
    pub http_port: u16,

    /// Seconds between status refreshes from each writer.
    #[arg(long, env = "SNAPSHOT_OPERATOR_REQUEUE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub requeue_seconds: u64,

    /// Most SnapshotTables reconciled at once (each sends a few API requests
    /// and asks its writer for status).
    #[arg(long, env = "SNAPSHOT_OPERATOR_CONCURRENCY", default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// Elect a leader through a Lease, for running more than one replica.
    #[arg(
        long,
        env = "SNAPSHOT_OPERATOR_LEADER_ELECTION",
        default_value_t = false
    )]
    pub leader_election: bool,

    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "SNAPSHOT_OPERATOR_LEASE_NAME",
        default_value = "snapshot-operator"
    )]
    pub lease_name: String,

    /// Namespace of the Lease (default: the pod's namespace from `POD_NAMESPACE`).
    #[arg(long, env = "SNAPSHOT_OPERATOR_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// This replica's identity in the Lease and in Events (default: `POD_NAME`, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Log line format.
    #[arg(long, env = "SNAPSHOT_OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
}

impl Args {
    /// The status refresh interval.
    pub fn requeue_interval(&self) -> Duration {
        Duration::from_secs(self.requeue_seconds)
    }

    /// This replica's identity.
    pub fn identity(&self) -> String {
        self.identity
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "snapshot-operator".into())
    }

    /// Namespace of the Lease.
    pub fn lease_namespace(&self) -> String {
        self.lease_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_have_working_defaults_and_overrides() {
        let args = Args::try_parse_from(["snapshot-operator"]).unwrap();
        assert_eq!(args.namespace, None);
        assert_eq!(args.writer_url_template, default_writer_url_template());
        assert!(!args.leader_election);
        assert_eq!(args.requeue_interval(), Duration::from_secs(30));
        let args = Args::try_parse_from([
            "snapshot-operator",
            "--namespace=data",
            "--writer-url-template=http://127.0.0.1:9000",
            "--leader-election",
            "--requeue-seconds=2",
            "--log-format=text",
        ])
        .unwrap();
        assert_eq!(args.namespace.as_deref(), Some("data"));
        assert_eq!(args.writer_url_template, "http://127.0.0.1:9000");
        assert!(args.leader_election);
        assert_eq!(args.log_format, LogFormat::Text);
        assert!(Args::try_parse_from(["snapshot-operator", "--requeue-seconds=0"]).is_err());
    }
}
