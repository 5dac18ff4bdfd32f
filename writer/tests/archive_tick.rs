//! The writer's timer tick: initial snapshot, diffs, `max_interval` on a quiet
//! table, and a restart that continues the chain instead of re-basing.
#![allow(clippy::unwrap_used)]

mod archive_support;

use std::time::Duration;

use archive_support::{local, open_writer, row};
use jiff::Timestamp;
use snapshot_writer::archive::{
    ArchiveSettings, ArtifactKind, ChangeBuffer, SourceMark, TickOutcome, Trigger,
};
use snapshot_writer::config::{GoDuration, SnapshotPolicyConfig};
use snapshot_writer::table::{KeySpec, Table};

fn settings() -> ArchiveSettings {
    ArchiveSettings {
        policy: SnapshotPolicyConfig {
            max_interval: Some(GoDuration(Duration::from_secs(600))),
            max_churn_records: Some(5),
            ..SnapshotPolicyConfig::default()
        },
        ..ArchiveSettings::new("public.items", "items/")
    }
}

fn snapshot_trigger(outcome: &TickOutcome) -> Option<Trigger> {
    match outcome {
        TickOutcome::Snapshot(c) => c.trigger,
        _ => None,
    }
}

#[tokio::test]
async fn ticks_write_what_the_policy_decides() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    let mut writer = open_writer(&dests, &settings(), "w").await;
    let (mut table, mut buffer) = (Table::new(KeySpec::default()), ChangeBuffer::new());
    let mark = SourceMark::default();
    let now = Timestamp::now();

    table
        .apply("INSERT", None, Some(&row(1, "a", 1.0)), &mut |c| {
            buffer.record(c)
        })
        .unwrap();
    let first = writer
        .tick_at(now, &table, &mut buffer, &mark)
        .await
        .unwrap();
    assert_eq!(snapshot_trigger(&first), Some(Trigger::Initial));
    assert_eq!(buffer.depth(), 0);

    // Nothing changed: nothing written.
    assert_eq!(
        writer
            .tick_at(now, &table, &mut buffer, &mark)
            .await
            .unwrap(),
        TickOutcome::Idle
    );

    table
        .apply("INSERT", None, Some(&row(2, "b", 1.0)), &mut |c| {
            buffer.record(c)
        })
        .unwrap();
    let diff = writer
        .tick_at(now, &table, &mut buffer, &mark)
        .await
        .unwrap();
    assert!(matches!(&diff, TickOutcome::Diff(c) if c.kind == ArtifactKind::Diff && c.epoch == 1));

    // A quiet table still re-bases once max_interval has passed.
    let later = now + jiff::SignedDuration::from_secs(601);
    let rebase = writer
        .tick_at(later, &table, &mut buffer, &mark)
        .await
        .unwrap();
    assert_eq!(snapshot_trigger(&rebase), Some(Trigger::MaxInterval));
    assert_eq!(writer.manifest().epoch, 2);

    // Churn since the snapshot reaches max_churn_records.
    for id in 10..15 {
        table
            .apply("INSERT", None, Some(&row(id, "c", 1.0)), &mut |c| {
                buffer.record(c)
            })
            .unwrap();
    }
    let churn = writer
        .tick_at(Timestamp::now(), &table, &mut buffer, &mark)
        .await
        .unwrap();
    assert_eq!(snapshot_trigger(&churn), Some(Trigger::MaxChurnRecords));
}

#[tokio::test]
async fn a_restart_continues_the_chain_without_a_new_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    let mut writer = open_writer(&dests, &settings(), "first").await;
    let (mut table, mut buffer) = (Table::new(KeySpec::default()), ChangeBuffer::new());
    let mut mark = SourceMark {
        position: "0/100".into(),
        sequence: 7,
        snapshot_id: "fanout-7".into(),
    };
    table
        .apply("INSERT", None, Some(&row(1, "a", 1.0)), &mut |c| {
            buffer.record(c)
        })
        .unwrap();
    writer.tick(&table, &mut buffer, &mark).await.unwrap();
    drop(writer);

    let mut writer = open_writer(&dests, &settings(), "second").await;
    let restored = writer.restore().await.unwrap().unwrap();
    assert_eq!(restored.mark, mark);
    assert_eq!((restored.epoch, restored.table.len()), (1, 1));
    let (mut table, mut buffer) = (restored.table, ChangeBuffer::new());
    table
        .apply("INSERT", None, Some(&row(2, "b", 1.0)), &mut |c| {
            buffer.record(c)
        })
        .unwrap();
    mark.sequence = 8;
    let outcome = writer.tick(&table, &mut buffer, &mark).await.unwrap();
    let TickOutcome::Diff(diff) = outcome else {
        panic!("expected a diff, got {outcome:?}")
    };
    assert_eq!(
        (diff.epoch, diff.from_position.as_deref()),
        (1, Some("0/100"))
    );
    assert_eq!(writer.manifest().artifacts.len(), 2);
    assert_eq!(writer.manifest().writer.as_deref(), Some("second"));
}
