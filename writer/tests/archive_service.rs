//! The writer service's archive as the fan-out simulator feeds it over a real
//! socket: the columns the source's handshake announces reach `manifest.json`
//! and stay there through re-bases, and a schema change the source announces
//! replaces them; `/status` reports the size of the format the re-base
//! policy measures.

#![allow(clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use fanout_sim::rows;
use snapshot_writer::archive::Manifest;
use support::service::{
    Writer, announce_tier_column, config, config_with_formats, local_destination, recorded, sim,
    stored_manifest,
};

/// How long any one step may take.
const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_columns_reach_the_manifest_through_rebases_and_schema_changes() {
    let (sim, server) = sim(300).await;
    let archive = tempfile::tempdir().unwrap();
    let config = config(server.local_addr(), &local_destination(archive.path()));
    let writer = Writer::start_local(&config, "columns-test");

    writer.wait_for(LIMIT, "ready", |s| s.ready).await;
    let manifest = stored_manifest(archive.path());
    assert_eq!(manifest.columns, recorded(&rows::columns()));
    let id = &manifest.columns[0];
    assert!((id.primary_key, id.nullable) == (true, false), "{id:?}");

    // A re-base the source forces (a fresh snapshot mid-stream, no new
    // handshake): the new epoch's manifest still records the columns.
    let epoch = manifest.epoch;
    sim.resnapshot();
    writer
        .wait_for(LIMIT, "the re-base", |s| s.epoch == epoch + 1 && s.ready)
        .await;
    assert_eq!(
        stored_manifest(archive.path()).columns,
        recorded(&rows::columns())
    );

    // A schema change: the server announces one more column, the client
    // reconnects and sees it in its handshake; the next diff records it.
    let changed = announce_tier_column(&sim, archive.path(), LIMIT).await;
    let manifest = stored_manifest(archive.path());
    assert_eq!(manifest.epoch, epoch + 1, "recorded by a diff, no re-base");

    // And a forced re-base keeps the new schema.
    let forced = writer.handle().force_snapshot(LIMIT).await.unwrap();
    assert_eq!(forced.epoch, epoch + 2);
    assert_eq!(stored_manifest(archive.path()).columns, recorded(&changed));

    writer.drain_and_stop(&sim).await;
    assert_eq!(stored_manifest(archive.path()).columns, recorded(&changed));
    server.stop().await;
}

/// The size of artifact `id`'s object in `format`, as the manifest records it.
fn object_size(manifest: &Manifest, id: &str, format: &str) -> u64 {
    let artifact = manifest
        .artifacts
        .iter()
        .find(|a| a.id.as_deref() == Some(id));
    artifact.unwrap().formats[format].size_bytes
}

/// With protobuf configured first (alphabetically after jsonl), `/status`
/// and a forced snapshot's answer report the protobuf object's size, the
/// one the re-base policy measures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_the_size_of_the_configured_first_format() {
    let (sim, server) = sim(300).await;
    let archive = tempfile::tempdir().unwrap();
    let config = config_with_formats(
        server.local_addr(),
        &local_destination(archive.path()),
        "{snapshot: [protobuf, jsonl], diff: [protobuf, jsonl]}",
    );
    let writer = Writer::start_local(&config, "formats-test");
    writer.wait_for(LIMIT, "ready", |s| s.ready).await;
    sim.generate(50);
    let status = writer
        .wait_for(LIMIT, "a diff", |s| s.last_diff.is_some())
        .await;
    let manifest = stored_manifest(archive.path());
    let snapshot = status.last_snapshot.unwrap();
    assert_eq!(
        snapshot.bytes,
        object_size(&manifest, &snapshot.id, "protobuf")
    );
    assert_ne!(
        snapshot.bytes,
        object_size(&manifest, &snapshot.id, "jsonl"),
        "the formats' sizes differ, so the test tells them apart"
    );
    let diff = status.last_diff.unwrap();
    assert_eq!(diff.bytes, object_size(&manifest, &diff.id, "protobuf"));

    let forced = writer.handle().force_snapshot(LIMIT).await.unwrap();
    let manifest = stored_manifest(archive.path());
    assert_eq!(forced.bytes, object_size(&manifest, &forced.id, "protobuf"));
    let status = writer
        .wait_for(LIMIT, "the forced snapshot in /status", |s| {
            s.last_snapshot.as_ref().is_some_and(|a| a.id == forced.id)
        })
        .await;
    assert_eq!(status.last_snapshot.unwrap().bytes, forced.bytes);

    writer.drain_and_stop(&sim).await;
    server.stop().await;
}
