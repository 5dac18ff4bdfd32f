//! The writer service under the faults an adversarial run found: a failing
//! snapshot retried at its backoff (not once per source batch), spool
//! failures counted as destination errors, and a different source behind
//! the same address resynced into a new epoch.

#![allow(clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use fanout_sim::{Sim, SimConfig};
use snapshot_writer::config::WriterConfig;
use snapshot_writer::dest::{Destination, LocalDestination};
use snapshot_writer::metrics::Metrics;
use snapshot_writer::service::Service;
use snapshot_writer::status::{TableState, TableStatus};
use support::service::{TABLE, assert_same_rows, config, sim, sim_rows, verified_head};

/// A running service with one table, writing to a local directory.
struct Running {
    service: Option<Service>,
    metrics: Metrics,
    handle: snapshot_writer::service::handle::TableHandle,
}

impl Running {
    fn start(config: &WriterConfig) -> Self {
        let metrics = Metrics::new();
        let service = Service::start(config, &metrics, "faults-test");
        let handle = service.handles().remove(0);
        Self {
            service: Some(service),
            metrics,
            handle,
        }
    }

    fn status(&self) -> TableStatus {
        self.handle.status()
    }

    async fn wait_for(&self, what: &str, check: impl Fn(&TableStatus) -> bool) -> TableStatus {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            let status = self.status();
            if check(&status) {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; status: {status:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the writer has applied everything `sim` has made.
    async fn caught_up(&self, sim: &Sim) {
        let head = sim.sequence();
        self.wait_for("every change applied", |s| s.source.sequence == head)
            .await;
    }

    /// `snapshotter_destination_errors_total` for `dest`.
    fn destination_errors(&self, dest: &str) -> u64 {
        let prefix =
            format!("snapshotter_destination_errors_total{{dest=\"{dest}\",table=\"{TABLE}\"}} ");
        self.metrics
            .render()
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map_or(0, |value| value.trim().parse().unwrap())
    }

    async fn stop(&mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_snapshot_is_retried_at_its_backoff_not_per_source_batch() {
    let (sim, server) = sim(2000).await;
    let archive = tempfile::tempdir().unwrap();
    // The epoch directory cannot be created: every snapshot attempt fails.
    std::fs::create_dir_all(archive.path().join("items")).unwrap();
    let blocker = archive.path().join("items/epoch=1");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let config = config(
        server.local_addr(),
        &format!("[{{type: local, path: '{}'}}]", archive.path().display()),
    );
    let mut writer = Running::start(&config);
    let dest = format!("local:{}", archive.path().display());
    writer
        .wait_for("the first snapshot attempt to fail", |s| {
            s.state == TableState::Degraded && s.last_error.is_some()
        })
        .await;
    assert!(writer.destination_errors(&dest) >= 1);

    // Forty separate source batches while the snapshot is pending.
    let batches = 40;
    for _ in 0..batches {
        sim.generate(5);
        writer.caught_up(&sim).await;
    }
    let attempts = writer.destination_errors(&dest);
    assert!(
        attempts * 4 <= batches,
        "{attempts} snapshot attempts for {batches} source batches: retried per batch, not at the backoff"
    );

    std::fs::remove_file(&blocker).unwrap();
    let status = writer
        .wait_for("the snapshot after the backoff", |s| s.ready)
        .await;
    assert_eq!(status.state, TableState::Live);
    writer.stop().await;
    let dest: std::sync::Arc<dyn Destination> =
        std::sync::Arc::new(LocalDestination::new(archive.path()));
    let (_, rows) = verified_head(dest).await;
    assert_same_rows(&rows, &sim_rows(&sim));
    server.stop().await;
}

/// `dir` and every directory below it.
fn directories_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    let mut next = 0;
    while next < found.len() {
        for entry in std::fs::read_dir(&found[next]).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                found.push(entry.path());
            }
        }
        next += 1;
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_failures_count_as_destination_errors_and_recover() {
    let (sim, server) = sim(500).await;
    let archive = tempfile::tempdir().unwrap();
    let config = config(
        server.local_addr(),
        &format!("[{{type: local, path: '{}'}}]", archive.path().display()),
    );
    let mut writer = Running::start(&config);
    writer.wait_for("ready", |s| s.ready).await;
    let spool = archive.path().join(".tmp");
    let label = format!("spool:{}", spool.display());
    assert_eq!(
        writer.destination_errors(&label),
        0,
        "tracked from the start"
    );

    // The spool directory turns into a file: every encode fails, as on a
    // full disk, before any destination is reached.
    let tree = directories_under(&spool);
    std::fs::remove_dir_all(&spool).unwrap();
    std::fs::write(&spool, b"in the way").unwrap();
    sim.generate(50);
    writer.caught_up(&sim).await;
    let status = writer
        .wait_for("the spool failure", |s| s.state == TableState::Degraded)
        .await;
    let error = status.last_error.unwrap();
    assert!(error.message.contains(".tmp"), "{}", error.message);
    assert!(writer.destination_errors(&label) >= 1);

    // Space returns: the same directories as before.
    std::fs::remove_file(&spool).unwrap();
    for dir in &tree {
        std::fs::create_dir_all(dir).unwrap();
    }
    writer
        .wait_for("recovery", |s| {
            s.state == TableState::Live && s.buffer_depth == 0
        })
        .await;
    writer.stop().await;
    let dest: std::sync::Arc<dyn Destination> =
        std::sync::Arc::new(LocalDestination::new(archive.path()));
    let (_, rows) = verified_head(dest).await;
    assert_same_rows(&rows, &sim_rows(&sim));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_source_at_the_same_address_gets_a_new_epoch() {
    let (sim, server) = sim(1000).await;
    let addr = server.local_addr();
    let archive = tempfile::tempdir().unwrap();
    let config = config(
        addr,
        &format!("[{{type: local, path: '{}'}}]", archive.path().display()),
    );
    let mut writer = Running::start(&config);
    writer.wait_for("ready", |s| s.ready).await;
    sim.generate(1500);
    writer.caught_up(&sim).await;
    writer
        .wait_for("a diff committed", |s| s.buffer_depth == 0)
        .await;
    server.stop().await;

    // Another seed: other rows, and a shorter history at the same address.
    let other = Sim::new(SimConfig {
        rows: 1000,
        seed: 7,
        heartbeat_interval: Duration::from_millis(200),
        ..SimConfig::default()
    });
    let server = other.serve(addr).await.unwrap();
    // Until the writer is streaming from the new server, the other source's
    // changes are only a backlog it resumes past; keep making changes until
    // one reaches it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !(writer.status().epoch == 2 && writer.status().ready) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new epoch from the other source; status: {:#?}",
            writer.status()
        );
        other.generate(20);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    other.generate(100);
    writer.caught_up(&other).await;
    writer.stop().await;
    let dest: std::sync::Arc<dyn Destination> =
        std::sync::Arc::new(LocalDestination::new(archive.path()));
    let (manifest, rows) = verified_head(dest).await;
    assert_eq!(manifest.epoch, 2);
    assert_same_rows(&rows, &sim_rows(&other));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_snapshot_requests_make_one_epoch() {
    let (sim, server) = sim(1000).await;
    let archive = tempfile::tempdir().unwrap();
    let config = config(
        server.local_addr(),
        &format!("[{{type: local, path: '{}'}}]", archive.path().display()),
    );
    let mut writer = Running::start(&config);
    let before = writer.wait_for("ready", |s| s.ready).await.epoch;
    let requests = (0..50).map(|_| writer.handle.force_snapshot(Duration::from_secs(60)));
    let answers = futures::future::join_all(requests).await;
    let first = answers[0].clone().unwrap();
    for answer in &answers {
        assert_eq!(
            answer.as_ref().unwrap(),
            &first,
            "every request got the same snapshot"
        );
    }
    assert_eq!(first.epoch, before + 1);
    assert_eq!(
        writer.status().epoch,
        before + 1,
        "one new epoch for 50 requests"
    );
    writer.stop().await;
    server.stop().await;
    drop(sim);
}
