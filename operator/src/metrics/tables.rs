//! Per-SnapshotTable gauges, read from the controller's store at each
//! scrape, so a deleted resource's series go with it: whether each table is
//! ready, stale and suspended, and when its writer last committed. Labels:
//! `namespace`, `name` and `table` (`schema.table`, as on the writers'
//! metrics).

use std::sync::Mutex;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGaugeVec, Opts};

use crate::crd::{CONDITION_READY, CONDITION_STALE, SnapshotTable};

const LABELS: [&str; 3] = ["namespace", "name", "table"];

/// The gauges over a store of SnapshotTables.
pub struct TableGauges {
    store: Store<SnapshotTable>,
    ready: IntGaugeVec,
    stale: IntGaugeVec,
    suspended: IntGaugeVec,
    last_commit: IntGaugeVec,
    /// One scrape at a time: each refills the gauges from the store.
    scrape: Mutex<()>,
}

impl TableGauges {
    /// Gauges over `store`.
    pub fn new(store: Store<SnapshotTable>) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str| IntGaugeVec::new(Opts::new(name, help), &LABELS);
        Ok(Self {
            store,
            ready: gauge(
                "snapshot_operator_table_ready",
                "1 while the SnapshotTable's Ready condition is True.",
            )?,
            stale: gauge(
                "snapshot_operator_table_stale",
                "1 while the SnapshotTable's Stale condition is True: nothing committed for longer than spec.staleAfter while changes wait.",
            )?,
            suspended: gauge(
                "snapshot_operator_table_suspended",
                "1 while the SnapshotTable's spec.suspend is true.",
            )?,
            last_commit: gauge(
                "snapshot_operator_table_last_commit_timestamp_seconds",
                "Unix time of the writer's last manifest commit, as the SnapshotTable's status reports it.",
            )?,
            scrape: Mutex::new(()),
        })
    }

    fn gauges(&self) -> [&IntGaugeVec; 4] {
        [&self.ready, &self.stale, &self.suspended, &self.last_commit]
    }
}

impl Collector for TableGauges {
    fn desc(&self) -> Vec<&Desc> {
        self.gauges()
            .into_iter()
            .flat_map(Collector::desc)
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let _one = self
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for gauge in self.gauges() {
            gauge.reset();
        }
        for table in self.store.state() {
            let namespace = table.namespace().unwrap_or_default();
            let (name, qualified) = (table.name_any(), table.qualified_table());
            let labels = [namespace.as_str(), name.as_str(), qualified.as_str()];
            self.suspended
                .with_label_values(&labels)
                .set(i64::from(table.is_suspended()));
            let Some(status) = &table.status else {
                continue;
            };
            for (gauge, type_) in [
                (&self.ready, CONDITION_READY),
                (&self.stale, CONDITION_STALE),
            ] {
                if status.condition(type_).is_some() {
                    gauge
                        .with_label_values(&labels)
                        .set(i64::from(status.is_true(type_)));
                }
            }
            if let Some(at) = status
                .last_commit_at
                .as_deref()
                .and_then(|at| at.parse::<Timestamp>().ok())
            {
                self.last_commit
                    .with_label_values(&labels)
                    .set(at.as_second());
            }
        }
        self.gauges()
            .into_iter()
            .flat_map(Collector::collect)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;
    use crate::crd::SnapshotTableStatus;
    use crate::fixtures::local_table;
    use crate::metrics::Metrics;

    fn condition(
        type_: &str,
        status: &str,
    ) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        let at = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            Timestamp::from_second(1).unwrap(),
        );
        crate::reconcile::status::condition(
            None,
            type_,
            status == "True",
            "R",
            "m".into(),
            None,
            &at,
        )
    }

    #[test]
    fn every_table_in_the_store_has_its_series_until_it_is_deleted() {
        let mut stale = local_table("orders");
        stale.status = Some(SnapshotTableStatus {
            last_commit_at: Some("2026-01-02T03:04:05Z".into()),
            conditions: vec![
                condition(CONDITION_READY, "True"),
                condition(CONDITION_STALE, "True"),
            ],
            ..SnapshotTableStatus::default()
        });
        let mut paused = local_table("items");
        paused.spec.suspend = Some(true);
        let (store, mut writer) = reflector::store();
        writer.apply_watcher_event(&Event::Apply(stale.clone()));
        writer.apply_watcher_event(&Event::Apply(paused.clone()));
        let metrics = Metrics::new().unwrap();
        metrics.track_tables(store).unwrap();
        let text = metrics.render();
        let labels = r#"{name="orders",namespace="default",table="public.orders"}"#;
        for line in [
            format!("snapshot_operator_table_stale{labels} 1"),
            format!("snapshot_operator_table_ready{labels} 1"),
            format!("snapshot_operator_table_suspended{labels} 0"),
            format!("snapshot_operator_table_last_commit_timestamp_seconds{labels} 1767323045"),
            r#"snapshot_operator_table_suspended{name="items",namespace="default",table="public.orders"} 1"#.into(),
        ] {
            assert!(text.contains(&line), "no {line} in\n{text}");
        }
        assert!(
            !text.contains(r#"snapshot_operator_table_stale{name="items""#),
            "no condition, no series"
        );
        writer.apply_watcher_event(&Event::Delete(stale));
        assert!(!metrics.render().contains(r#"name="orders""#));
    }
}
