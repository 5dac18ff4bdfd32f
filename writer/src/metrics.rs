//! The writer's Prometheus metrics. Every metric carries a `table` label
//! (`schema.table`); [`TableMetrics`] binds it once so hot paths do not look
//! labels up. The process collector adds `process_*`.

use prometheus::{
    Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::telemetry::internal_events::InternalEvent;

/// The metric families every writer exports (all labelled by `table`; the
/// README's "HTTP API" lists them); dashboards and tests check against this list.
pub const DESIGNED_METRICS: [&str; 11] = [
    "snapshotter_epoch",
    "snapshotter_buffer_depth",
    "snapshotter_churn_records",
    "snapshotter_snapshot_age_seconds",
    "snapshotter_head_behind_seconds",
    "snapshotter_diffs_since_snapshot",
    "snapshotter_artifacts_written_total",
    "snapshotter_diff_bytes",
    "snapshotter_destination_errors_total",
    "snapshotter_event_errors_total",
    "snapshotter_manifest_cas_retries_total",
];

/// Every metric family the writer exports, registered in one registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    epoch: IntGaugeVec,
    buffer_depth: IntGaugeVec,
    churn_records: IntGaugeVec,
    snapshot_age_seconds: IntGaugeVec,
    last_commit_timestamp_seconds: IntGaugeVec,
    head_behind_seconds: IntGaugeVec,
    diffs_since_snapshot: IntGaugeVec,
    diff_bytes: IntGaugeVec,
    rows: IntGaugeVec,
    ready: IntGaugeVec,
    fenced: IntGaugeVec,
    source_connected: IntGaugeVec,
    artifacts_written: IntCounterVec,
    artifact_bytes: IntCounterVec,
    destination_errors: IntCounterVec,
    event_errors: IntCounterVec,
    events_published: IntCounterVec,
    events_dropped: IntCounterVec,
    manifest_cas_retries: IntCounterVec,
    source_reconnects: IntCounterVec,
    source_changes: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGaugeVec {
    let vec = IntGaugeVec::new(Opts::new(name, help), &["table"]).expect("valid metric");
    registry
        .register(Box::new(vec.clone()))
        .expect("metric registered once");
    vec
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(vec.clone()))
        .expect("metric registered once");
    vec
}

impl Metrics {
    /// A fresh registry with every writer metric and the process collector.
    pub fn new() -> Self {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        {
            // Registration fails only if registered twice; this is a fresh registry.
            let _ = registry.register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ));
        }
        let r = &registry;
        Self {
            epoch: gauge(
                r,
                "snapshotter_epoch",
                "Epoch of the newest committed snapshot.",
            ),
            buffer_depth: gauge(
                r,
                "snapshotter_buffer_depth",
                "Changes buffered since the last committed artifact.",
            ),
            churn_records: gauge(
                r,
                "snapshotter_churn_records",
                "Changes since the last snapshot.",
            ),
            snapshot_age_seconds: gauge(
                r,
                "snapshotter_snapshot_age_seconds",
                "Seconds since the last committed snapshot (0 before the first).",
            ),
            last_commit_timestamp_seconds: gauge(
                r,
                "snapshotter_last_commit_timestamp_seconds",
                "Unix time of the newest manifest commit (restored from the manifest at start; 0 before the first).",
            ),
            head_behind_seconds: gauge(
                r,
                "snapshotter_head_behind_seconds",
                "Seconds since the oldest change the committed head lacks was made at the source (0 when the head holds every change received).",
            ),
            diffs_since_snapshot: gauge(
                r,
                "snapshotter_diffs_since_snapshot",
                "Diffs committed since the last snapshot.",
            ),
            diff_bytes: gauge(
                r,
                "snapshotter_diff_bytes",
                "Size in bytes of the last committed diff (first format).",
            ),
            rows: gauge(r, "snapshotter_rows", "Rows in the in-memory table."),
            ready: gauge(
                r,
                "snapshotter_ready",
                "1 once the initial base snapshot is durable on every destination.",
            ),
            fenced: gauge(
                r,
                "snapshotter_fenced",
                "1 when another writer owns the prefix and this one stopped writing.",
            ),
            source_connected: gauge(
                r,
                "snapshotter_source_connected",
                "1 while a stream to the fan-out server is open.",
            ),
            artifacts_written: counter(
                r,
                "snapshotter_artifacts_written_total",
                "Artifacts committed, by kind (snapshot, diff).",
                &["table", "kind"],
            ),
            artifact_bytes: counter(
                r,
                "snapshotter_artifact_bytes_total",
                "Bytes of committed artifacts (all formats, one destination), by kind.",
                &["table", "kind"],
            ),
            destination_errors: counter(
                r,
                "snapshotter_destination_errors_total",
                "Failed destination operations, by destination.",
                &["table", "dest"],
            ),
            event_errors: counter(
                r,
                "snapshotter_event_errors_total",
                "Failed event publish attempts, by sink.",
                &["table", "sink"],
            ),
            events_published: counter(
                r,
                "snapshotter_events_published_total",
                "Events published, by sink.",
                &["table", "sink"],
            ),
            events_dropped: counter(
                r,
                "snapshotter_events_dropped_total",
                "Events dropped undelivered because a sink's queue was full, by sink.",
                &["table", "sink"],
            ),
            manifest_cas_retries: counter(
                r,
                "snapshotter_manifest_cas_retries_total",
                "Manifest compare-and-swap conflicts that were re-read and retried.",
                &["table"],
            ),
            source_reconnects: counter(
                r,
                "snapshotter_source_reconnects_total",
                "Reconnects to the fan-out server.",
                &["table"],
            ),
            source_changes: counter(
                r,
                "snapshotter_source_changes_total",
                "Journal entries applied.",
                &["table"],
            ),
            registry,
        }
    }

    /// Handles with the `table` label bound.
    pub fn table(&self, table: &str) -> TableMetrics {
        let t = [table];
        TableMetrics {
            table: table.to_owned(),
            epoch: self.epoch.with_label_values(&t),
            buffer_depth: self.buffer_depth.with_label_values(&t),
            churn_records: self.churn_records.with_label_values(&t),
            snapshot_age_seconds: self.snapshot_age_seconds.with_label_values(&t),
            last_commit_timestamp_seconds: self.last_commit_timestamp_seconds.with_label_values(&t),
            head_behind_seconds: self.head_behind_seconds.with_label_values(&t),
            diffs_since_snapshot: self.diffs_since_snapshot.with_label_values(&t),
            diff_bytes: self.diff_bytes.with_label_values(&t),
            rows: self.rows.with_label_values(&t),
            ready: self.ready.with_label_values(&t),
            fenced: self.fenced.with_label_values(&t),
            source_connected: self.source_connected.with_label_values(&t),
            snapshots_written: self
                .artifacts_written
                .with_label_values(&[table, "snapshot"]),
            diffs_written: self.artifacts_written.with_label_values(&[table, "diff"]),
            snapshot_bytes: self.artifact_bytes.with_label_values(&[table, "snapshot"]),
            diff_bytes_total: self.artifact_bytes.with_label_values(&[table, "diff"]),
            manifest_cas_retries: self.manifest_cas_retries.with_label_values(&t),
            source_reconnects: self.source_reconnects.with_label_values(&t),
            source_changes: self.source_changes.with_label_values(&t),
            destination_errors: self.destination_errors.clone(),
            event_errors: self.event_errors.clone(),
            events_published: self.events_published.clone(),
            events_dropped: self.events_dropped.clone(),
        }
    }

    /// The registry, e.g. to add collectors.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// One table's metric handles.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // each field is the metric of the same name in `Metrics::new`
pub struct TableMetrics {
    pub table: String,
    pub epoch: IntGauge,
    pub buffer_depth: IntGauge,
    pub churn_records: IntGauge,
    pub snapshot_age_seconds: IntGauge,
    pub last_commit_timestamp_seconds: IntGauge,
    pub head_behind_seconds: IntGauge,
    pub diffs_since_snapshot: IntGauge,
    pub diff_bytes: IntGauge,
    pub rows: IntGauge,
    pub ready: IntGauge,
    pub fenced: IntGauge,
    pub source_connected: IntGauge,
    pub snapshots_written: IntCounter,
    pub diffs_written: IntCounter,
    pub snapshot_bytes: IntCounter,
    pub diff_bytes_total: IntCounter,
    pub manifest_cas_retries: IntCounter,
    pub source_reconnects: IntCounter,
    pub source_changes: IntCounter,
    destination_errors: IntCounterVec,
    event_errors: IntCounterVec,
    events_published: IntCounterVec,
    events_dropped: IntCounterVec,
}

impl TableMetrics {
    /// Logs `event` and updates these metrics for it: the one way the
    /// archive, the event publisher and the table task report what happened
    /// ([`internal_events`](crate::telemetry::internal_events)).
    pub fn emit(&self, event: impl InternalEvent) {
        event.emit(self);
    }

    /// Metrics for tests and tools that have no registry to report to.
    pub fn detached(table: &str) -> Self {
        Metrics::new().table(table)
    }

    /// Starts destination `dest`'s error series at zero, so dashboards and
    /// `rate()` see it before the first error (Prometheus practice for
    /// label values known up front).
    pub fn track_destination(&self, dest: &str) {
        self.destination_errors
            .with_label_values(&[&self.table, dest]);
    }

    /// Starts event sink `sink`'s series at zero (see [`Self::track_destination`]).
    pub fn track_sink(&self, sink: &str) {
        for family in [
            &self.event_errors,
            &self.events_published,
            &self.events_dropped,
        ] {
            family.with_label_values(&[&self.table, sink]);
        }
    }

    /// Counts a failed operation on destination `dest` (its [`name`](crate::dest::Destination::name)).
    pub fn destination_error(&self, dest: &str) {
        self.destination_errors
            .with_label_values(&[&self.table, dest])
            .inc();
    }

    /// Counts a failed publish attempt on event sink `sink`.
    pub fn event_error(&self, sink: &str) {
        self.event_errors
            .with_label_values(&[&self.table, sink])
            .inc();
    }

    /// Counts a published event on sink `sink`.
    pub fn event_published(&self, sink: &str) {
        self.events_published
            .with_label_values(&[&self.table, sink])
            .inc();
    }

    /// Counts an event dropped undelivered from sink `sink`'s full queue.
    pub fn event_dropped(&self, sink: &str) {
        self.events_dropped
            .with_label_values(&[&self.table, sink])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_designed_metric_is_exported_with_the_table_label() {
        let metrics = Metrics::new();
        let table = metrics.table("public.users");
        table.epoch.set(3);
        table.snapshots_written.inc();
        table.diffs_written.inc();
        table.destination_error("local:/tmp");
        table.event_error("sqs:q");
        table.manifest_cas_retries.inc();
        let text = metrics.render();
        for name in DESIGNED_METRICS {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(name) && l.contains("table=\"public.users\"")),
                "missing {name} in\n{text}"
            );
        }
        for sample in [
            "snapshotter_epoch{table=\"public.users\"} 3",
            "snapshotter_artifacts_written_total{kind=\"snapshot\",table=\"public.users\"} 1",
            "snapshotter_destination_errors_total{dest=\"local:/tmp\",table=\"public.users\"} 1",
            "snapshotter_event_errors_total{sink=\"sqs:q\",table=\"public.users\"} 1",
            "snapshotter_manifest_cas_retries_total{table=\"public.users\"} 1",
        ] {
            assert!(text.contains(sample), "missing {sample} in\n{text}");
        }
    }
}
