//! The whole writer service against the fan-out simulator and moto: an S3
//! and a local destination hold the same archive, two writers on one prefix
//! fence one of them, an S3 outage in the middle of a churn run loses
//! nothing, and the `read` and `verify` subcommands read the S3 archive
//! with `--endpoint` and `--profile`.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use fanout_sim::{Generating, Sim, SimServer};
use snapshot_writer::archive::ArtifactKind;
use snapshot_writer::archive::position::compare;
use snapshot_writer::archive::retention::artifact_keys;
use snapshot_writer::dest::s3::{S3Destination, S3Options};
use snapshot_writer::dest::{Destination, LocalDestination};
use snapshot_writer::status::{ErrorScope, TableState};

use crate::support::eventually;
use crate::support::moto::Moto;
use crate::support::outage::Outage;
use crate::support::service::{
    KEY_PREFIX, Writer, assert_same_rows, config, s3_destination, sim, sim_rows, verified_head,
};

const LIMIT: Duration = Duration::from_secs(30);

/// A reader's view of `bucket`/`prefix` on moto, behind the writer's back.
async fn s3_reader(moto: &Moto, bucket: &str, prefix: &str) -> Arc<dyn Destination> {
    Arc::new(
        S3Destination::connect_with(
            &moto.location(bucket, prefix),
            &moto.resolver(),
            S3Options::default(),
        )
        .await
        .unwrap(),
    )
}

/// Every object key under the table's prefix, sorted.
async fn keys(dest: &dyn Destination) -> Vec<String> {
    let mut keys = dest.list(KEY_PREFIX).await.unwrap();
    keys.sort();
    keys
}

/// Starts writer `writer-a` on `destinations` reading `server`, with `sim`
/// making `rate` changes a second, and waits until its base is durable and
/// a diff followed it.
async fn churning_writer(
    moto: &Moto,
    sim: &Sim,
    server: &SimServer,
    destinations: &str,
    rate: f64,
) -> (Writer, Generating) {
    let writer = Writer::start(&config(server.local_addr(), destinations), moto, "writer-a");
    let changes = sim.spawn_generator(rate);
    writer
        .wait_for(LIMIT, "ready with a diff", |s| {
            s.ready && s.diffs_since_snapshot >= 1
        })
        .await;
    (writer, changes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_and_a_local_destination_hold_the_same_manifest_and_identical_artifacts() {
    let moto = Moto::start().await;
    moto.create_bucket("archive").await;
    let (sim, server) = sim(500).await;
    let dir = tempfile::tempdir().unwrap();
    let destinations = format!(
        "[{}, {{type: local, path: {:?}}}]",
        s3_destination(&moto.endpoint(), "archive", "tables/"),
        dir.path()
    );
    let (writer, changes) = churning_writer(&moto, &sim, &server, &destinations, 200.0).await;
    writer
        .wait_for(LIMIT, "two diffs", |s| s.diffs_since_snapshot >= 2)
        .await;
    let rebase = writer.handle().force_snapshot(LIMIT).await.unwrap();
    writer
        .wait_for(LIMIT, "a diff on the new base", |s| {
            s.epoch == rebase.epoch && s.diffs_since_snapshot >= 1
        })
        .await;
    drop(changes);
    let last = writer.drain_and_stop(&sim).await;

    let s3 = s3_reader(&moto, "archive", "tables/").await;
    let local: Arc<dyn Destination> = Arc::new(LocalDestination::new(dir.path()));
    let manifest_key = format!("{KEY_PREFIX}manifest.json");
    let manifest_bytes = s3.get(&manifest_key).await.unwrap().unwrap().body;
    assert_eq!(
        manifest_bytes,
        local.get(&manifest_key).await.unwrap().unwrap().body,
        "the manifest differs between the destinations"
    );
    let on_s3 = keys(s3.as_ref()).await;
    assert_eq!(on_s3, keys(local.as_ref()).await, "the object keys differ");
    for key in &on_s3 {
        let a = s3.get(key).await.unwrap().unwrap().body;
        let b = local.get(key).await.unwrap().unwrap().body;
        assert!(
            a == b,
            "{key}: {} bytes on S3, {} locally, not identical",
            a.len(),
            b.len()
        );
    }

    let (manifest, rows) = verified_head(Arc::clone(&s3)).await;
    let (local_manifest, local_rows) = verified_head(local).await;
    assert_eq!(manifest, local_manifest);
    assert_eq!(manifest.writer.as_deref(), Some("writer-a"));
    let epochs: Vec<u64> = manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Snapshot)
        .map(|a| a.epoch)
        .collect();
    assert_eq!(
        epochs.len(),
        2,
        "the initial base and the forced one: {epochs:?}"
    );
    assert!(
        manifest
            .artifacts
            .iter()
            .filter(|a| a.kind == ArtifactKind::Diff)
            .count()
            >= 3
    );
    for artifact in &manifest.artifacts {
        for (_, key) in artifact_keys(KEY_PREFIX, artifact) {
            assert!(on_s3.contains(&key), "{key} is referenced but not stored");
        }
    }
    assert_eq!(manifest.head_position, last.source.position);
    let source = sim_rows(&sim);
    assert_same_rows(&rows, &source);
    assert_same_rows(&local_rows, &source);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_writers_on_one_prefix_one_keeps_committing_and_the_other_is_fenced() {
    let moto = Moto::start().await;
    moto.create_bucket("shared").await;
    let (sim, server) = sim(300).await;
    let destinations = format!("[{}]", s3_destination(&moto.endpoint(), "shared", ""));
    let config = config(server.local_addr(), &destinations);
    let changes = sim.spawn_generator(100.0);
    let first = Writer::start(&config, &moto, "writer-1");
    first.wait_for(LIMIT, "ready", |s| s.ready).await;
    let second = Writer::start(&config, &moto, "writer-2");

    eventually(LIMIT, "one writer fenced", || {
        let fenced = [&first, &second]
            .iter()
            .any(|w| w.status().state == TableState::Fenced);
        async move { fenced }
    })
    .await;
    let (winner, mut loser) = if first.status().state == TableState::Fenced {
        (second, first)
    } else {
        (first, second)
    };
    let fenced = loser.status();
    assert!(!fenced.ready);
    assert_eq!(loser.fenced_metric(), 1);
    let error = fenced.last_error.expect("the fenced writer reports why");
    assert_eq!(error.scope, ErrorScope::Manifest);
    assert!(
        error.message.contains(&winner.identity),
        "the error names the other writer: {}",
        error.message
    );

    // The winner goes on committing; the fenced writer writes nothing more.
    let head = winner.status().head_position;
    winner
        .wait_for(LIMIT, "a commit after the other was fenced", |s| {
            s.state == TableState::Live && compare(&s.head_position, &head) == Ordering::Greater
        })
        .await;
    assert_eq!(winner.fenced_metric(), 0);
    assert_eq!(loser.status().state, TableState::Fenced);
    assert_eq!(loser.status().head_position, fenced.head_position);

    drop(changes);
    let winner_identity = winner.identity.clone();
    let last = winner.drain_and_stop(&sim).await;
    loser.stop().await;
    let (manifest, rows) = verified_head(s3_reader(&moto, "shared", "").await).await;
    assert_eq!(manifest.writer, Some(winner_identity));
    assert_eq!(manifest.head_position, last.source.position);
    assert_same_rows(&rows, &sim_rows(&sim));
    server.stop().await;
}

/// How long S3 is away in the outage test.
const OUTAGE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_outage_in_a_churn_run_buffers_changes_and_loses_none() {
    let moto = Moto::start().await;
    moto.create_bucket("archive").await;
    let mut outage = Outage::start(moto.port());
    let (sim, server) = sim(500).await;
    let destinations = format!("[{}]", s3_destination(&outage.endpoint(), "archive", ""));
    let (writer, changes) = churning_writer(&moto, &sim, &server, &destinations, 200.0).await;

    outage.down();
    let down_since = tokio::time::Instant::now();
    let failing = writer
        .wait_for(LIMIT, "a failed write reported", |s| {
            s.state == TableState::Degraded
                && s.last_error
                    .as_ref()
                    .is_some_and(|e| e.scope == ErrorScope::Destination)
        })
        .await;
    tokio::time::sleep_until(down_since + OUTAGE).await;
    let down = writer.status();
    assert_eq!(down.state, TableState::Degraded);
    assert_eq!(
        down.head_position, failing.head_position,
        "nothing committed while S3 is away"
    );
    assert!(
        down.buffer_depth > failing.buffer_depth + 1000,
        "the buffer grows while S3 is away: {} then {}",
        failing.buffer_depth,
        down.buffer_depth
    );
    let gauge = writer
        .metrics
        .table(crate::support::service::TABLE)
        .buffer_depth
        .get();
    assert!(
        gauge >= i64::try_from(failing.buffer_depth).unwrap() + 1000,
        "buffer_depth gauge {gauge}"
    );

    outage.up();
    writer
        .wait_for(LIMIT, "caught up after S3 came back", |s| {
            s.state == TableState::Live
                && s.last_error.is_none()
                && compare(&s.head_position, &down.head_position) == Ordering::Greater
                && s.buffer_depth < down.buffer_depth
        })
        .await;
    drop(changes);
    let last = writer.drain_and_stop(&sim).await;
    let (manifest, rows) = verified_head(s3_reader(&moto, "archive", "").await).await;
    assert_eq!(manifest.head_position, last.source.position);
    assert_same_rows(&rows, &sim_rows(&sim));
    server.stop().await;
}

/// Runs the `snapshot-writer` binary with `args` and only `env` set (no
/// ambient AWS identity or region); returns (success, stdout, stderr).
async fn snapshot_writer(
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_snapshot-writer"))
            .args(&args)
            .env_clear()
            .envs(env)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_verify_take_an_s3_archive_with_an_endpoint_and_a_profile() {
    let moto = Moto::start().await;
    moto.create_bucket("cli").await;
    let (sim, server) = sim(300).await;
    let destinations = format!("[{}]", s3_destination(&moto.endpoint(), "cli", "archive/"));
    let (writer, changes) = churning_writer(&moto, &sim, &server, &destinations, 100.0).await;
    drop(changes);
    writer.drain_and_stop(&sim).await;
    server.stop().await;

    // The reader's identity and region exist only in a named profile.
    let home = tempfile::tempdir().unwrap();
    let config_file = home.path().join("config");
    std::fs::write(
        &config_file,
        "[default]\n\n[profile archive-reader]\nregion = us-east-1\naws_access_key_id = AKIDREADER\naws_secret_access_key = secret\n",
    )
    .unwrap();
    let env = vec![
        ("HOME", home.path().display().to_string()),
        ("AWS_CONFIG_FILE", config_file.display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("none").display().to_string(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ];
    let args = |command: &str, extra: &[&str]| {
        let mut args = vec![
            command.to_owned(),
            "s3://cli/archive/items".to_owned(),
            "--endpoint".to_owned(),
            moto.endpoint(),
            "--path-style".to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };

    let (ok, _, stderr) = snapshot_writer(
        args("verify", &["--profile", "archive-reader"]),
        env.clone(),
    )
    .await;
    assert!(ok, "verify failed: {stderr}");
    assert!(
        stderr.contains("OK: "),
        "verify reports the archive valid: {stderr}"
    );

    let (ok, stdout, stderr) =
        snapshot_writer(args("read", &["--profile", "archive-reader"]), env.clone()).await;
    assert!(ok, "read failed: {stderr}");
    let mut read_ids: Vec<i64> = stdout
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            row["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("no integer id in {line}"))
        })
        .collect();
    read_ids.sort_unstable();
    let mut source_ids: Vec<i64> = sim_rows(&sim)
        .values()
        .map(|row| match row.fields["id"].kind {
            Some(prost_types::value::Kind::NumberValue(id)) => id as i64,
            ref other => panic!("id {other:?}"),
        })
        .collect();
    source_ids.sort_unstable();
    assert_eq!(
        read_ids, source_ids,
        "read prints every row of the source once"
    );

    // Without the profile there is no region, and with a region but no
    // profile no credentials: the profile is what made the reads work.
    let (ok, _, stderr) = snapshot_writer(args("verify", &[]), env.clone()).await;
    assert!(
        !ok && stderr.contains("no AWS region: pass --region"),
        "{stderr}"
    );
    let (ok, _, stderr) =
        snapshot_writer(args("verify", &["--region", "us-east-1"]), env.clone()).await;
    assert!(!ok && stderr.contains("no credentials"), "{stderr}");
    let unknown = ["--region", "us-east-1", "--profile", "no-such-profile"];
    let (ok, _, stderr) = snapshot_writer(args("verify", &unknown), env).await;
    assert!(
        !ok && stderr.contains("profile `no-such-profile` was not defined"),
        "{stderr}"
    );
}
