//! The HTTP API of a running writer: readiness, status, forced snapshots,
//! metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use snapshot_contract::snapshot::{SnapshotAnswer, SnapshotOutcome};
use snapshot_writer::metrics::DESIGNED_METRICS;
use snapshot_writer::status::{ErrorScope, TableState};

use crate::harness::{
    Source, WriterProcess, closed_port, has_manifest, one_table_config, table_name,
    verified_archive, workspace,
};
use crate::support::assert_same_table;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_200_only_once_the_first_snapshot_is_durable() {
    let (_dir, archive) = workspace();
    let mut source = Source::start(2000).await;
    source.stop().await;
    let writer = WriterProcess::start(
        archive.parent().unwrap(),
        &one_table_config(source.addr, &archive, "diff: {interval: 1s}"),
    )
    .await;

    // The source is down: alive, not ready, and /status says why.
    let down = writer
        .wait_for(
            &table_name(),
            Duration::from_secs(20),
            "the source error",
            |t| {
                t.last_error
                    .as_ref()
                    .is_some_and(|e| e.scope == ErrorScope::Source)
            },
        )
        .await;
    assert!(!down.ready);
    assert_eq!(writer.get("/health/live").await.0, 200);
    let (code, body) = writer.get("/health/ready").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains(&table_name()), "{body}");
    assert!(!has_manifest(&archive));

    source.restart().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while writer.get("/health/ready").await.0 != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready:\n{}",
            writer.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Ready means the base snapshot is already durable and complete.
    let (manifest, table) = verified_archive(&archive).await;
    assert!(manifest.last_snapshot().is_some());
    assert_same_table(&table, &source.rows(), "the first snapshot");
    let status = writer.table(&table_name()).await;
    assert!(status.ready);
    assert_eq!(status.last_snapshot.unwrap().records, 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_moves_as_changes_flow_and_a_forced_snapshot_starts_a_new_epoch() {
    let (_dir, archive) = workspace();
    let source = Source::start(1000).await;
    let writer = WriterProcess::start(
        archive.parent().unwrap(),
        &one_table_config(source.addr, &archive, "diff: {interval: 300ms}"),
    )
    .await;
    let name = table_name();
    let first = writer
        .wait_for(&name, Duration::from_secs(30), "ready", |t| t.ready)
        .await;
    assert_eq!(first.state, TableState::Live);
    assert_eq!(first.epoch, 1);
    assert_eq!(first.last_snapshot.as_ref().unwrap().records, 1000);
    let _changes = source.sim.spawn_generator(200.0);

    let later = writer
        .wait_for(
            &name,
            Duration::from_secs(30),
            "two diffs after the snapshot",
            |t| t.diffs_since_snapshot >= 2,
        )
        .await;
    assert_ne!(later.head_position, first.head_position);
    assert!(later.source.connected);
    assert!(later.source.sequence > first.source.sequence);
    assert!(later.churn_records > 0);
    assert!(later.row_count > 900);
    let diff = later.last_diff.as_ref().unwrap();
    assert!(diff.records > 0 && diff.bytes > 0);
    assert_eq!(diff.position, later.head_position);
    let manifest = later.manifest.as_ref().unwrap();
    assert_eq!(manifest.head_position, later.head_position);
    assert!(manifest.artifacts >= 3);
    assert!(manifest.uri.ends_with("manifest.json"), "{}", manifest.uri);
    assert_eq!(
        later.last_commit_at.as_deref(),
        Some(manifest.updated_at.as_str()),
        "the head is as fresh as the last manifest commit"
    );

    let (code, body) = writer.post(&format!("/snapshot?table={name}")).await;
    assert_eq!(code, 200, "{body}");
    // The answer is the snapshot it made, the one /status then reports.
    let mut answer: SnapshotAnswer = serde_json::from_str(&body).unwrap();
    let made = match answer.remove(&name) {
        Some(SnapshotOutcome::Committed(made)) => made,
        other => panic!("{name}: {other:?} in {body}"),
    };
    let rebased = writer.table(&name).await;
    assert_eq!(rebased.epoch, later.epoch + 1);
    assert_eq!(made.epoch, rebased.epoch);
    assert_eq!(rebased.last_snapshot.as_ref(), Some(&made));

    let (code, _) = writer.post("/snapshot").await;
    assert_eq!(code, 200);
    assert_eq!(writer.table(&name).await.epoch, later.epoch + 2);

    let (code, body) = writer.post("/snapshot?table=public.nope").await;
    assert_eq!(code, 404);
    assert!(
        body.contains("public.nope") && body.contains(&name),
        "{body}"
    );
    assert_eq!(writer.get("/snapshot").await.0, 405);
    let (manifest, _) = verified_archive(&archive).await;
    let epochs: BTreeSet<u64> = manifest.artifacts.iter().map(|a| a.epoch).collect();
    assert_eq!(epochs, BTreeSet::from([1, 2, 3]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_carry_every_listed_metric() {
    let (_dir, archive) = workspace();
    let source = Source::start(500).await;
    let _changes = source.sim.spawn_generator(100.0);
    let dead_queue = closed_port();
    let extra = format!(
        r#"diff: {{interval: 300ms}}
events:
  - {{type: sqs, queue_url: "http://{dead_queue}/000000000000/q", endpoint: "http://{dead_queue}"}}"#
    );
    let writer = WriterProcess::start(
        archive.parent().unwrap(),
        &one_table_config(source.addr, &archive, &extra),
    )
    .await;
    let name = table_name();
    writer
        .wait_for(&name, Duration::from_secs(30), "two diffs", |t| {
            t.diffs_since_snapshot >= 2
        })
        .await;
    assert_eq!(writer.post("/snapshot").await.0, 200);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let samples = loop {
        let (code, body) = writer.get("/metrics").await;
        assert_eq!(code, 200);
        let samples = parse_prometheus_text(&body);
        let failed_events = value(&samples, "snapshotter_event_errors_total", &name);
        if failed_events > 0.0 || tokio::time::Instant::now() > deadline {
            break samples;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let names: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    for metric in DESIGNED_METRICS {
        assert!(
            samples
                .iter()
                .any(|s| s.name == metric && s.labels.get("table") == Some(&name)),
            "{metric}{{table=\"{name}\"}} missing; have {names:?}"
        );
    }
    assert!(names.contains("process_resident_memory_bytes"), "{names:?}");
    assert_eq!(value(&samples, "snapshotter_epoch", &name), 2.0);
    assert!(value(&samples, "snapshotter_event_errors_total", &name) >= 1.0);
    assert_eq!(
        value(&samples, "snapshotter_destination_errors_total", &name),
        0.0
    );
    // Two diffs were committed before the forced snapshot.
    assert!(value(&samples, "snapshotter_diff_bytes", &name) > 0.0);
    assert!(value(&samples, "snapshotter_snapshot_age_seconds", &name) < 60.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last_commit = value(&samples, "snapshotter_last_commit_timestamp_seconds", &name);
    assert!(
        (now - last_commit).abs() < 60.0,
        "last commit at {last_commit}, now {now}"
    );
    let written = |kind: &str| {
        samples
            .iter()
            .find(|s| {
                s.name == "snapshotter_artifacts_written_total"
                    && s.labels.get("kind").map(String::as_str) == Some(kind)
            })
            .map(|s| s.value)
    };
    assert_eq!(written("snapshot"), Some(2.0));
    assert!(written("diff").unwrap() >= 2.0);
}

/// One sample of the Prometheus text exposition format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition format strictly enough to catch a malformed
/// line: `# HELP`/`# TYPE` comments, then `name{label="value",…} number`.
fn parse_prometheus_text(body: &str) -> Vec<Sample> {
    let mut typed = BTreeSet::new();
    let mut samples = Vec::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.split(' ');
            let (kind, name) = (words.next().unwrap(), words.next().unwrap());
            assert!(kind == "HELP" || kind == "TYPE", "bad comment: {line}");
            if kind == "TYPE" {
                let metric_type = words.next().unwrap();
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&metric_type),
                    "bad type: {line}"
                );
                typed.insert(name.to_owned());
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("bad labels: {line}"));
                let labels = inner
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair
                            .split_once("=\"")
                            .unwrap_or_else(|| panic!("bad label: {line}"));
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample before its # TYPE: {line}");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// The value of `name` for `table` (summed over other labels).
fn value(samples: &[Sample], name: &str, table: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && s.labels.get("table").map(String::as_str) == Some(table))
        .map(|s| s.value)
        .sum()
}
