//! The operator's Prometheus metrics: reconciles, errors by reason,
//! reconcile durations, and per SnapshotTable ([`tables`]) readiness,
//! staleness, suspension and last commit.

mod tables;

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::Error;

/// The operator's metrics and the registry that exports them.
pub struct Metrics {
    registry: Registry,
    reconciles: IntCounter,
    errors: IntCounterVec,
    duration: Histogram,
    applies: IntCounter,
    server: IntGaugeVec,
}

impl Metrics {
    /// Registers the metrics (and the process collector on Linux) in a new
    /// registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let reconciles = IntCounter::with_opts(Opts::new(
            "snapshot_operator_reconciles_total",
            "Reconciles of SnapshotTables, successful or not.",
        ))?;
        let errors = IntCounterVec::new(
            Opts::new(
                "snapshot_operator_reconcile_errors_total",
                "Failed reconciles of SnapshotTables, by reason.",
            ),
            &["reason"],
        )?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "snapshot_operator_reconcile_duration_seconds",
                "Time one reconcile of a SnapshotTable takes, writer calls included.",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )?;
        let applies = IntCounter::with_opts(Opts::new(
            "snapshot_operator_child_applies_total",
            "Server-side applies of writer children sent; unchanged children are not sent again.",
        ))?;
        let server = IntGaugeVec::new(
            Opts::new(
                "snapshot_operator_kubernetes_info",
                "The API server's version, and whether it enforces the CRD's CEL rules (from 1.25; the operator's validation does either way).",
            ),
            &["version", "cel_rules"],
        )?;
        registry.register(Box::new(server.clone()))?;
        registry.register(Box::new(reconciles.clone()))?;
        registry.register(Box::new(applies.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            reconciles,
            errors,
            duration,
            applies,
            server,
        })
    }

    /// Exports the per-table gauges of every SnapshotTable in `store`, read
    /// at each scrape. Once per registry: a second call is refused.
    pub fn track_tables(
        &self,
        store: kube::runtime::reflector::Store<crate::crd::SnapshotTable>,
    ) -> Result<(), prometheus::Error> {
        self.registry
            .register(Box::new(tables::TableGauges::new(store)?))
    }

    /// Records the API server's version.
    pub fn server(&self, version: &str, cel_rules: bool) {
        self.server
            .with_label_values(&[version, if cel_rules { "true" } else { "false" }])
            .set(1);
    }

    /// Records `count` children applied.
    pub fn applied(&self, count: usize) {
        self.applies
            .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }

    /// Records one reconcile.
    pub fn observe(&self, elapsed: Duration, error: Option<&Error>) {
        self.reconciles.inc();
        self.duration.observe(elapsed.as_secs_f64());
        if let Some(error) = error {
            self.errors.with_label_values(&[error.metric_label()]).inc();
        }
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec fails only on a broken metric family, which the
        // registry rules out at registration.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_errors_and_durations_are_exported() {
        let metrics = Metrics::new().unwrap();
        metrics.observe(Duration::from_millis(30), None);
        let error = Error::Rebase {
            table: "t".into(),
            url: "u".into(),
            source: Box::new(crate::writer_client::WriterCallError::Rejected {
                url: "u".into(),
                table: "t".into(),
                message: "m".into(),
            }),
        };
        metrics.observe(Duration::from_millis(70), Some(&error));
        let text = metrics.render();
        assert!(
            text.contains("snapshot_operator_reconciles_total 2"),
            "{text}"
        );
        assert!(
            text.contains("snapshot_operator_reconcile_errors_total{reason=\"rebase\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("snapshot_operator_reconcile_duration_seconds_count 2"),
            "{text}"
        );
    }
}
