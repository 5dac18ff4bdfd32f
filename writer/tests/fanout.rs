//! The fan-out client against the fan-out simulator over loopback, on every
//! transport: after each scenario the client's table equals the server's.

#![allow(clippy::unwrap_used)]

#[path = "fanout/harness.rs"]
mod harness;

use std::time::Duration;

use fanout_sim::{Fault, PositionMode, RequestFault, SimConfig, SnapshotFault};
use harness::{BASELINE_ROWS, Follower, all, converges_with, eventually, sim, source_config};
use snapshot_writer::config::{FilterConfig, SourceProtocol};
use snapshot_writer::source::ConnectionState;

/// Journal entries the server wrote after its baseline.
fn live_entries(sim: &fanout_sim::Sim) -> u64 {
    (sim.sequence() - BASELINE_ROWS as i64) as u64
}

async fn snapshot_then_live(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig::default()).await;
    let follower = Follower::start(&source_config(server.local_addr(), protocol));
    converges_with(&follower, &sim, all).await;
    assert_eq!(
        follower.seen().replaced,
        1,
        "the initial snapshot is announced"
    );
    assert!(follower.replica.lock().unwrap().is_synced());
    sim.generate(500);
    converges_with(&follower, &sim, all).await;
    let generator = sim.spawn_generator(2000.0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(generator);
    converges_with(&follower, &sim, all).await;
    assert_eq!(
        follower.stats().entries_applied,
        live_entries(&sim),
        "each entry applied once"
    );
    assert_eq!(follower.state().connection, ConnectionState::Streaming);
    assert_eq!(follower.cursor().sequence, sim.sequence());
}

async fn server_killed_mid_stream_resumes(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig::default()).await;
    let addr = server.local_addr();
    let follower = Follower::start(&source_config(addr, protocol));
    converges_with(&follower, &sim, all).await;
    sim.generate(300);
    converges_with(&follower, &sim, all).await;
    server.stop().await;
    sim.generate(300);
    eventually("the client to notice", || {
        follower.state().connection != ConnectionState::Streaming
    })
    .await;
    let server = sim.serve(addr).await.unwrap();
    converges_with(&follower, &sim, all).await;
    assert_eq!(
        follower.stats().replacements,
        1,
        "resumed by delta, not a new snapshot"
    );
    assert_eq!(
        follower.stats().entries_applied,
        live_entries(&sim),
        "nothing lost or replayed"
    );
    assert!(follower.state().reconnects >= 1);
    server.stop().await;
}

async fn server_killed_mid_snapshot_resumes(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig::default()).await;
    let addr = server.local_addr();
    // The initial snapshot dies half-way: nothing is applied.
    sim.arm_snapshot_fault(SnapshotFault::StallAfterRows(BASELINE_ROWS / 2));
    let follower = Follower::start(&source_config(addr, protocol));
    sim.wait_stalled().await;
    server.stop().await;
    eventually("the client to notice", || {
        follower.stats().snapshots_abandoned == 1
    })
    .await;
    assert!(follower.rows().is_empty());
    assert!(!follower.replica.lock().unwrap().is_synced());
    let server = sim.serve(addr).await.unwrap();
    converges_with(&follower, &sim, all).await;

    // A mid-life snapshot (the journal no longer covers the client) dies
    // half-way: the previous state and cursor stay.
    sim.generate(100);
    converges_with(&follower, &sim, all).await;
    let cursor = follower.cursor();
    sim.prune_journal(0);
    sim.arm_snapshot_fault(SnapshotFault::StallAfterRows(BASELINE_ROWS / 2));
    sim.drop_streams();
    sim.wait_stalled().await;
    server.stop().await;
    eventually("the client to notice", || {
        follower.stats().snapshots_abandoned == 2
    })
    .await;
    converges_with(&follower, &sim, all).await;
    assert_eq!(follower.cursor(), cursor);
    sim.generate(50);
    let server = sim.serve(addr).await.unwrap();
    converges_with(&follower, &sim, all).await;
    assert_eq!(follower.stats().replacements, 2);
    assert_eq!(
        follower.seen().replaced,
        2,
        "the consumer is told of the replacement"
    );
    server.stop().await;
}

async fn go_away_hands_off_exactly_once(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig::default()).await;
    let follower = Follower::start(&source_config(server.local_addr(), protocol));
    converges_with(&follower, &sim, all).await;
    let generator = sim.spawn_generator(3000.0);
    tokio::time::sleep(Duration::from_millis(150)).await;
    sim.go_away("draining", Some(Duration::from_secs(5)));
    eventually("the handoff", || {
        follower.state().reconnects == 1 && sim.open_streams() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    drop(generator);
    converges_with(&follower, &sim, all).await;
    assert_eq!(
        follower.stats().entries_applied,
        live_entries(&sim),
        "no change applied twice or lost"
    );
    assert_eq!(follower.seen().changes, live_entries(&sim));
    assert_eq!(follower.stats().replacements, 1, "no new snapshot");
    assert_eq!(
        follower.state().last_error,
        None,
        "a handoff is not an error"
    );
}

async fn clean_end_of_stream_reconnects(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig::default()).await;
    let follower = Follower::start(&source_config(server.local_addr(), protocol));
    converges_with(&follower, &sim, all).await;
    sim.end_streams();
    eventually("a reconnect", || follower.state().reconnects == 1).await;
    sim.generate(200);
    converges_with(&follower, &sim, all).await;
    assert_eq!(
        follower.state().last_error,
        None,
        "a clean end is not an error"
    );
    assert_eq!(follower.stats().entries_applied, live_entries(&sim));
}

async fn heartbeat_stall_reconnects(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig::default()).await;
    let follower = Follower::start(&source_config(server.local_addr(), protocol));
    converges_with(&follower, &sim, all).await;
    sim.stall_streams();
    sim.wait_stalled().await;
    sim.generate(200);
    eventually("a reconnect", || follower.state().reconnects >= 1).await;
    converges_with(&follower, &sim, all).await;
    let error = follower.state().last_error.unwrap().message;
    assert!(
        error.contains("silent") && error.contains("heartbeat_timeout"),
        "{error}"
    );
    assert_eq!(follower.stats().entries_applied, live_entries(&sim));
}

/// Positions that never advance must not be resumed from: laredo-server
/// would skip everything after the newest entry with that position.
async fn stuck_positions(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig {
        positions: PositionMode::Stuck,
        ..SimConfig::default()
    })
    .await;
    let follower = Follower::start(&source_config(server.local_addr(), protocol));
    converges_with(&follower, &sim, all).await;
    sim.generate(200);
    converges_with(&follower, &sim, all).await;
    assert!(!follower.cursor().position.is_empty());
    sim.drop_streams();
    sim.generate(200);
    eventually("a reconnect", || follower.state().reconnects >= 1).await;
    converges_with(&follower, &sim, all).await;
    assert_eq!(follower.stats().entries_applied, live_entries(&sim));
    assert_eq!(follower.stats().replacements, 1);
}

/// A PostgreSQL-backed server: empty live positions, values as text.
async fn postgres_like_server(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig::default().postgres_like()).await;
    let follower = Follower::start(&source_config(server.local_addr(), protocol));
    converges_with(&follower, &sim, all).await;
    sim.generate(300);
    converges_with(&follower, &sim, all).await;
    assert_eq!(follower.cursor().position, "");
    sim.drop_streams();
    sim.generate(300);
    converges_with(&follower, &sim, all).await;
    // A fresh snapshot now carries text rows too; they normalize the same.
    sim.prune_journal(0);
    sim.drop_streams();
    eventually("a re-snapshot", || follower.stats().replacements == 2).await;
    converges_with(&follower, &sim, all).await;
}

async fn filters(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig::default()).await;
    let mut config = source_config(server.local_addr(), protocol);
    config.filters = vec![FilterConfig {
        field: "region".into(),
        equals: None,
        prefix: None,
        one_of: Some(vec!["eu-west".into(), "ap-south".into()]),
    }];
    let in_filter = |row: &prost_types::Struct| {
        matches!(&row.fields["region"].kind,
            Some(prost_types::value::Kind::StringValue(r)) if r == "eu-west" || r == "ap-south")
    };
    let follower = Follower::start(&config);
    converges_with(&follower, &sim, in_filter).await;
    let rows = follower.rows().len();
    assert!(
        rows > BASELINE_ROWS / 3 && rows < BASELINE_ROWS * 2 / 3,
        "{rows} rows pass"
    );
    sim.generate(400);
    converges_with(&follower, &sim, in_filter).await;
    sim.drop_streams();
    sim.generate(400);
    converges_with(&follower, &sim, in_filter).await;
}

async fn resnapshot_mid_stream(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig::default()).await;
    let follower = Follower::start(&source_config(server.local_addr(), protocol));
    converges_with(&follower, &sim, all).await;
    sim.generate(100);
    sim.resnapshot();
    eventually("the replacement", || follower.seen().replaced == 2).await;
    sim.generate(100);
    converges_with(&follower, &sim, all).await;
    assert_eq!(follower.state().reconnects, 0);
}

/// Something wrong the server does.
#[derive(Debug, Clone, Copy)]
enum Wrong {
    Stream(Fault),
    Request(RequestFault),
}

/// Each fault: a clear error, a reconnect, and the table still converges.
async fn faults_give_clear_errors_and_reconnect(protocol: SourceProtocol) {
    let (sim, server) = sim(SimConfig::default()).await;
    let follower = Follower::start(&source_config(server.local_addr(), protocol));
    converges_with(&follower, &sim, all).await;
    let cases = [
        (Wrong::Stream(Fault::Garbage), "unknown frame flags 0x3c"),
        (
            Wrong::Stream(Fault::MalformedMessage),
            "failed to decode Protobuf message",
        ),
        (
            Wrong::Stream(Fault::UnknownVariant),
            "no known message variant",
        ),
        (
            Wrong::Stream(Fault::ActionNotText),
            "journal_entry action is not UTF-8",
        ),
        (
            Wrong::Stream(Fault::Oversized(u32::MAX)),
            "frame of 4294967295 bytes exceeds max_message_size",
        ),
        (
            Wrong::Stream(Fault::TruncatedFrame),
            "stream ended inside a frame",
        ),
        (
            Wrong::Stream(Fault::BadEndStream),
            "malformed end-of-stream message",
        ),
        (
            Wrong::Request(RequestFault::Html),
            "not a laredo replication endpoint",
        ),
        (Wrong::Request(RequestFault::Status(503)), "HTTP 503"),
    ];
    for (wrong, expected) in cases {
        let reconnects = follower.state().reconnects;
        match wrong {
            Wrong::Stream(fault) => sim.inject(fault),
            // The open stream is cut first; the clear error comes with the
            // reconnect after it.
            Wrong::Request(fault) => {
                sim.arm_request_fault(fault);
                sim.drop_streams();
            }
        }
        let name = format!("{wrong:?}");
        let clear = |error: &str| error.contains(expected);
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let error = follower
                    .state()
                    .last_error
                    .map(|e| e.message)
                    .unwrap_or_default();
                if clear(&error) && follower.state().reconnects > reconnects {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        let error = follower
            .state()
            .last_error
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(waited.is_ok(), "{name}: no clear error, last was {error:?}");
        eprintln!("{protocol:?} {name}: {error}");
        sim.generate(50);
        converges_with(&follower, &sim, all).await;
    }
    // A malformed row inside a valid frame is skipped and reported, no reconnect.
    let reconnects = follower.state().reconnects;
    sim.inject(Fault::MalformedRow);
    eventually("the rejection", || follower.seen().rejected == 1).await;
    sim.generate(50);
    converges_with(&follower, &sim, all).await;
    assert_eq!(follower.state().reconnects, reconnects);
}

/// The simulator restarted under another seed at the same address, with a
/// shorter history than the one the client followed: the client must notice
/// and resync from a full snapshot instead of merging the other history.
async fn another_source_behind_the_address(positions: PositionMode) {
    let (sim, server) = sim(SimConfig {
        positions,
        ..SimConfig::default()
    })
    .await;
    let addr = server.local_addr();
    let follower = Follower::start(&source_config(addr, SourceProtocol::Connect));
    converges_with(&follower, &sim, all).await;
    sim.generate(1500);
    converges_with(&follower, &sim, all).await;
    server.stop().await;
    eventually("the client to notice", || {
        follower.state().connection != ConnectionState::Streaming
    })
    .await;

    let other = fanout_sim::Sim::new(SimConfig {
        rows: BASELINE_ROWS,
        seed: 2,
        heartbeat_interval: Duration::from_millis(100),
        positions,
        ..SimConfig::default()
    });
    let server = other.serve(addr).await.unwrap();
    eventually("the client to reconnect", || {
        follower.state().connection == ConnectionState::Streaming
    })
    .await;
    // New changes on the other source, at positions before the applied ones.
    other.generate(100);
    converges_with(&follower, &other, all).await;
    assert_eq!(
        follower.stats().replacements,
        2,
        "resynced from a full snapshot of the other source"
    );
    other.generate(100);
    converges_with(&follower, &other, all).await;
    server.stop().await;
}

/// Positions that advance: the other source's entries go back past the
/// applied position.
#[tokio::test]
async fn another_source_with_positions_going_back_is_resynced() {
    another_source_behind_the_address(PositionMode::Advancing).await;
}

/// No live positions (a PostgreSQL-backed server): the resume is by
/// sequence, and the other source resumes after a sequence it never reached.
#[tokio::test]
async fn another_source_resuming_past_its_own_head_is_resynced() {
    another_source_behind_the_address(PositionMode::Empty).await;
}

macro_rules! on_every_transport {
    ($($scenario:ident),* $(,)?) => {
        mod connect {
            use super::*;
            $(#[tokio::test] async fn $scenario() { super::$scenario(SourceProtocol::Connect).await })*
        }
        mod grpc_web {
            use super::*;
            $(#[tokio::test] async fn $scenario() { super::$scenario(SourceProtocol::GrpcWeb).await })*
        }
        mod grpc {
            use super::*;
            $(#[tokio::test] async fn $scenario() { super::$scenario(SourceProtocol::Grpc).await })*
        }
    };
}

on_every_transport!(
    snapshot_then_live,
    server_killed_mid_stream_resumes,
    server_killed_mid_snapshot_resumes,
    go_away_hands_off_exactly_once,
    clean_end_of_stream_reconnects,
    heartbeat_stall_reconnects,
    stuck_positions,
    postgres_like_server,
    filters,
    resnapshot_mid_stream,
    faults_give_clear_errors_and_reconnect,
);
