//! A consumer of the fan-out client driving a `Replica`, the way the
//! writer's per-table worker will, plus comparisons with the simulator.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fanout_sim::{Sim, SimConfig, SimServer};
use snapshot_writer::config::{
    ByteSize, FilterConfig, GoDuration, ReconnectConfig, SourceConfig, SourceProtocol,
};
use snapshot_writer::metrics::TableMetrics;
use snapshot_writer::source::{
    Cursor, Replica, ReplicaStats, Source, SourceState, StatusHandle, Update,
};
use snapshot_writer::table::{Change, KeySpec, Table};

pub const BASELINE_ROWS: usize = 2000;

/// A simulator with short heartbeats, listening on a free port.
pub async fn sim(config: SimConfig) -> (Sim, SimServer) {
    let sim = Sim::new(SimConfig {
        rows: BASELINE_ROWS,
        heartbeat_interval: Duration::from_millis(100),
        ..config
    });
    let server = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, server)
}

/// Client settings tuned for tests: short timeouts and backoff.
pub fn source_config(addr: SocketAddr, protocol: SourceProtocol) -> SourceConfig {
    SourceConfig {
        server: addr.to_string(),
        tls: Default::default(),
        protocol,
        schema: "public".into(),
        table: "items".into(),
        client_id: Some("test".into()),
        filters: Vec::<FilterConfig>::new(),
        heartbeat_timeout: GoDuration(Duration::from_millis(1000)),
        connect_timeout: GoDuration(Duration::from_secs(2)),
        max_message_size: ByteSize(1 << 20),
        reconnect: ReconnectConfig {
            initial_backoff: GoDuration(Duration::from_millis(20)),
            max_backoff: GoDuration(Duration::from_millis(200)),
        },
    }
}

/// What the consumer saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub changes: u64,
    pub truncates: u64,
    pub replaced: u64,
    pub synced: u64,
    pub rejected: u64,
}

/// A running source feeding a replica on its own task.
pub struct Follower {
    pub replica: Arc<Mutex<Replica>>,
    pub seen: Arc<Mutex<Seen>>,
    pub status: StatusHandle,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Follower {
    pub fn start(config: &SourceConfig) -> Self {
        let replica = Replica::new(Table::new(KeySpec::default()), Cursor::default());
        let mut source =
            Source::spawn(config, &replica, TableMetrics::detached("public.items")).unwrap();
        let status = source.status_handle();
        let replica = Arc::new(Mutex::new(replica));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let task = {
            let replica = replica.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                while let Some(batch) = source.recv().await {
                    let mut seen = seen.lock().unwrap();
                    replica
                        .lock()
                        .unwrap()
                        .apply(batch, &mut |update| match update {
                            Update::Change(Change::Truncate) => seen.truncates += 1,
                            Update::Change(_) => seen.changes += 1,
                            Update::Replaced(_) => seen.replaced += 1,
                            Update::Synced(_) => seen.synced += 1,
                            Update::Rejected(_) => seen.rejected += 1,
                            Update::Columns(_) => {}
                        });
                }
            })
        };
        Self {
            replica,
            seen,
            status,
            task,
        }
    }

    pub fn state(&self) -> SourceState {
        self.status.get()
    }

    pub fn stats(&self) -> ReplicaStats {
        self.replica.lock().unwrap().stats()
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    pub fn cursor(&self) -> Cursor {
        self.replica.lock().unwrap().cursor().clone()
    }

    /// The replica's rows, decoded, by key.
    pub fn rows(&self) -> BTreeMap<String, prost_types::Struct> {
        let replica = self.replica.lock().unwrap();
        replica
            .table()
            .iter()
            .map(|(key, row)| (key.to_string(), row.to_struct().unwrap()))
            .collect()
    }
}

/// The simulator's rows passing `keep`, decoded, by key.
pub fn server_rows(
    sim: &Sim,
    keep: impl Fn(&prost_types::Struct) -> bool,
) -> BTreeMap<String, prost_types::Struct> {
    let key = KeySpec::default();
    sim.rows()
        .iter()
        .map(|row: &fanout_sim::Row| {
            (
                key.key_of(row.as_bytes()).unwrap().to_string(),
                row.to_struct().unwrap(),
            )
        })
        .filter(|(_, row)| keep(row))
        .collect()
}

/// Polls `condition` every 20 ms for up to 10 s.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the follower's table equals the simulator's (rows passing
/// `keep`), and says how they differ if it never does.
pub async fn converges_with(
    follower: &Follower,
    sim: &Sim,
    keep: impl Fn(&prost_types::Struct) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let expected = server_rows(sim, &keep);
        let actual = follower.rows();
        if actual == expected {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            let missing = expected.keys().filter(|k| !actual.contains_key(*k)).count();
            let extra = actual.keys().filter(|k| !expected.contains_key(*k)).count();
            let differing = expected
                .iter()
                .filter(|(k, v)| actual.get(*k).is_some_and(|a| a != *v))
                .map(|(k, _)| k.clone())
                .take(3)
                .collect::<Vec<_>>();
            panic!(
                "client table never matched the server's: {} vs {} rows, {missing} missing, {extra} extra, differing e.g. {differing:?}; state {:?}, stats {:?}",
                actual.len(),
                expected.len(),
                follower.state(),
                follower.stats()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every row.
pub fn all(_: &prost_types::Struct) -> bool {
    true
}
