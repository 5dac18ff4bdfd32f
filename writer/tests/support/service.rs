//! The whole writer service — the `Service` the `snapshot-writer` binary runs —
//! fed by the fan-out simulator over a real socket, with its credentials
//! pointed at a moto server, plus the checks every service test ends with:
//! the archive verifies and rebuilds to the simulator's table.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fanout_sim::{Sim, SimConfig, SimServer, rows};
use laredo_proto::replication::v1::ColumnDefinition;
use snapshot_writer::archive::verify::verify;
use snapshot_writer::archive::{ArchiveReader, Manifest, ManifestColumn, READ_PREFERENCE};
use snapshot_writer::config::{self, WriterConfig};
use snapshot_writer::dest::Destination;
use snapshot_writer::metrics::Metrics;
use snapshot_writer::service::Service;
use snapshot_writer::service::handle::TableHandle;
use snapshot_writer::status::{TableState, TableStatus};
use snapshot_writer::table::{KeySpec, Row};

use super::moto::Moto;

/// The table the simulator serves, as the writer names it.
pub const TABLE: &str = "public.items";
/// Where the writer keeps the table's archive, relative to a destination.
pub const KEY_PREFIX: &str = "items/";

/// A simulator with `rows` baseline rows and short heartbeats on a free port.
pub async fn sim(rows: usize) -> (Sim, SimServer) {
    sim_with(SimConfig {
        rows,
        ..SimConfig::default()
    })
    .await
}

/// A simulator of `config` (with short heartbeats) on a free port.
pub async fn sim_with(config: SimConfig) -> (Sim, SimServer) {
    let sim = Sim::new(SimConfig {
        heartbeat_interval: Duration::from_millis(200),
        ..config
    });
    let server = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, server)
}

/// A one-table writer config reading `sim`, writing a diff every second to
/// `destinations` (a YAML flow sequence), snapshots in both formats.
pub fn config(sim: SocketAddr, destinations: &str) -> WriterConfig {
    config_with_formats(
        sim,
        destinations,
        "{snapshot: [jsonl, protobuf], diff: [jsonl]}",
    )
}

/// [`config`] with `formats` (a YAML flow mapping) instead.
pub fn config_with_formats(sim: SocketAddr, destinations: &str, formats: &str) -> WriterConfig {
    let yaml = format!(
        r#"
shutdown: {{grace_period: 20s}}
source:
  server: "http://{sim}"
  schema: public
  table: items
  heartbeat_timeout: 2s
  reconnect: {{initial_backoff: 50ms, max_backoff: 500ms}}
diff: {{interval: 1s}}
formats: {formats}
destinations: {destinations}
"#
    );
    config::parse_str(&yaml).unwrap_or_else(|e| panic!("test config: {e}\n{yaml}"))
}

/// The YAML of a local destination at `dir`, as a one-element flow sequence.
pub fn local_destination(dir: &std::path::Path) -> String {
    format!("[{{type: local, path: '{}'}}]", dir.display())
}

/// The YAML of an S3 destination on `bucket`/`prefix` at `endpoint`.
pub fn s3_destination(endpoint: &str, bucket: &str, prefix: &str) -> String {
    format!(
        "{{type: s3, bucket: {bucket}, prefix: {prefix:?}, endpoint: {endpoint:?}, path_style: true}}"
    )
}

/// A running writer service with one table.
pub struct Writer {
    service: Option<Service>,
    handle: TableHandle,
    /// Its metrics registry.
    pub metrics: Metrics,
    /// Its writer identity.
    pub identity: String,
}

impl Writer {
    /// Starts `config` as writer `identity`, its ambient AWS identity the
    /// moto test identity.
    pub fn start(config: &WriterConfig, moto: &Moto, identity: &str) -> Self {
        let metrics = Metrics::new();
        let resolver = Arc::new(moto.resolver_builder(config.credentials.clone()).build());
        let service = Service::start_with(config, &metrics, identity, resolver);
        Self::running(service, metrics, identity)
    }

    /// Starts `config` as writer `identity` with the default credential
    /// chain: for configs with local destinations only (no AWS service).
    pub fn start_local(config: &WriterConfig, identity: &str) -> Self {
        let metrics = Metrics::new();
        let service = Service::start(config, &metrics, identity);
        Self::running(service, metrics, identity)
    }

    fn running(service: Service, metrics: Metrics, identity: &str) -> Self {
        let handle = service.handles().remove(0);
        Self {
            service: Some(service),
            handle,
            metrics,
            identity: identity.to_owned(),
        }
    }

    /// The table's handle.
    pub fn handle(&self) -> &TableHandle {
        &self.handle
    }

    /// The table's current `/status` entry.
    pub fn status(&self) -> TableStatus {
        self.handle.status()
    }

    /// The `snapshotter_fenced` gauge of the table.
    pub fn fenced_metric(&self) -> i64 {
        self.metrics.table(TABLE).fenced.get()
    }

    /// Waits up to `limit` for the status to satisfy `check`, and returns it;
    /// on timeout, fails showing the last status.
    pub async fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        check: impl Fn(&TableStatus) -> bool,
    ) -> TableStatus {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let status = self.status();
            if check(&status) {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: timed out after {limit:?} waiting for {what}; status: {status:#?}",
                self.identity
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the writer has applied every change `sim` has made, then
    /// stops it (the final flush commits them); returns the status once
    /// everything was applied, whose `source.position` is the last one.
    pub async fn drain_and_stop(mut self, sim: &Sim) -> TableStatus {
        let head = sim.sequence();
        let drained = self
            .wait_for(Duration::from_secs(20), "every change applied", |s| {
                s.source.sequence == head
            })
            .await;
        let stopped = self.stop().await;
        assert_eq!(stopped.state, TableState::Stopped);
        drained
    }

    /// Stops the service (flushing what is buffered) and returns the final status.
    pub async fn stop(&mut self) -> TableStatus {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
        self.status()
    }
}

/// The simulator's rows, decoded, by key.
pub fn sim_rows(sim: &Sim) -> BTreeMap<String, prost_types::Struct> {
    let key = KeySpec::default();
    sim.rows()
        .iter()
        .map(|row| {
            (
                key.key_of(row.as_bytes()).unwrap().to_string(),
                row.to_struct().unwrap(),
            )
        })
        .collect()
}

/// Checks the table's archive on `dest` with `verify` and rebuilds its
/// head; returns the manifest and the rows, decoded, by key.
pub async fn verified_head(
    dest: Arc<dyn Destination>,
) -> (Manifest, BTreeMap<String, prost_types::Struct>) {
    let name = dest.name().to_owned();
    let reader = ArchiveReader::open(dest, KEY_PREFIX).await.unwrap();
    let report = verify(&reader).await.unwrap();
    assert!(report.ok(), "verify {name}: {report}");
    let table = reader
        .rebuild(None, &KeySpec::default(), &READ_PREFERENCE)
        .await
        .unwrap();
    assert_eq!(table.position, reader.manifest().head_position);
    let rows = table
        .rows
        .iter()
        .map(|(key, stored)| {
            let row = Row::from_encoded(stored.to_struct_bytes().unwrap());
            (key.to_string(), row.to_struct().unwrap())
        })
        .collect();
    (reader.manifest().clone(), rows)
}

/// Fails, naming a few differing keys, unless the rebuilt rows equal the
/// simulator's.
pub fn assert_same_rows(
    rebuilt: &BTreeMap<String, prost_types::Struct>,
    source: &BTreeMap<String, prost_types::Struct>,
) {
    super::assert_same_table(rebuilt, source, "the rebuilt table differs from the source");
}

/// The manifest stored under `dir`, a local destination's path.
pub fn stored_manifest(dir: &std::path::Path) -> Manifest {
    let bytes = std::fs::read(dir.join(KEY_PREFIX).join("manifest.json")).unwrap();
    Manifest::parse(&bytes).unwrap()
}

/// The manifest form of handshake columns.
pub fn recorded(columns: &[ColumnDefinition]) -> Vec<ManifestColumn> {
    columns
        .iter()
        .map(ManifestColumn::from_definition)
        .collect()
}

/// A schema change: `sim` announces its columns plus `tier` (text), and
/// the client reconnects and sees them in its handshake. Generates
/// changes until the manifest under `dir` records them (within `limit`);
/// returns the columns announced.
pub async fn announce_tier_column(
    sim: &Sim,
    dir: &std::path::Path,
    limit: Duration,
) -> Vec<ColumnDefinition> {
    let mut changed = rows::columns();
    changed.push(ColumnDefinition {
        ordinal_position: 9,
        column_name: "tier".into(),
        data_type: "text".into(),
        ..ColumnDefinition::default()
    });
    sim.announce_columns(changed.clone());
    sim.drop_streams();
    let deadline = tokio::time::Instant::now() + limit;
    while stored_manifest(dir).columns != recorded(&changed) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the changed schema never reached the manifest"
        );
        sim.generate(5);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    changed
}
