//! Property test: random inserts, updates, deletes, truncates and key changes
//! with random flushes, re-bases and writer restarts; the reader's table at
//! the head equals the writer's table, and `--at` every artifact boundary
//! equals the table at that point, in every format.
#![allow(clippy::unwrap_used)]

mod archive_support;

use std::collections::BTreeMap;

use archive_support::{local, open_writer, rebuilt_rows, row, table_rows};
use proptest::prelude::*;
use snapshot_writer::archive::verify::verify;
use snapshot_writer::archive::{ArchiveReader, ArchiveSettings, ChangeBuffer, SourceMark, Trigger};
use snapshot_writer::config::Format;
use snapshot_writer::table::{KeySpec, Table};

#[derive(Debug, Clone)]
enum Op {
    Insert(u32, u8),
    Update(u32, u8),
    ChangeKey(u32, u32),
    Delete(u32),
    Truncate,
    /// Advance the source position (or not: `""`, or the same again).
    Position(u8),
    Flush,
    Rebase,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..40u32, any::<u8>()).prop_map(|(id, v)| Op::Insert(id, v)),
        4 => (0..40u32, any::<u8>()).prop_map(|(id, v)| Op::Update(id, v)),
        1 => (0..40u32, 0..40u32).prop_map(|(a, b)| Op::ChangeKey(a, b)),
        3 => (0..40u32).prop_map(Op::Delete),
        1 => Just(Op::Truncate),
        2 => any::<u8>().prop_map(Op::Position),
        3 => Just(Op::Flush),
        1 => Just(Op::Rebase),
        1 => Just(Op::Restart),
    ]
}

fn formats() -> impl Strategy<Value = (Vec<Format>, Vec<Format>)> {
    let set = prop_oneof![
        Just(vec![Format::Jsonl]),
        Just(vec![Format::Protobuf]),
        Just(vec![Format::Protobuf, Format::Jsonl]),
    ];
    (set.clone(), set)
}

fn apply(table: &mut Table, buffer: &mut ChangeBuffer, op: &Op) {
    let current =
        |table: &Table, id: u32| table.get(&id.to_string()).map(|r| r.as_bytes().to_vec());
    let mut record = |c| buffer.record(c);
    match op {
        Op::Insert(id, v) => table
            .apply(
                "INSERT",
                None,
                Some(&row(*id, &format!("r{v}"), f64::from(*v) / 8.0)),
                &mut record,
            )
            .unwrap(),
        Op::Update(id, v) => {
            if let Some(old) = current(table, *id) {
                let new = row(*id, &format!("u{v}<&>"), f64::from(*v) * 1e6);
                table
                    .apply("UPDATE", Some(&old), Some(&new), &mut record)
                    .unwrap();
            }
        }
        Op::ChangeKey(from, to) => {
            if let Some(old) = current(table, *from) {
                table
                    .apply(
                        "UPDATE",
                        Some(&old),
                        Some(&row(*to, "moved", -0.5)),
                        &mut record,
                    )
                    .unwrap();
            }
        }
        Op::Delete(id) => table
            .apply("DELETE", Some(&row(*id, "", 0.0)), None, &mut record)
            .unwrap(),
        Op::Truncate => table.apply("TRUNCATE", None, None, &mut record).unwrap(),
        _ => {}
    }
}

fn run(ops: Vec<Op>, snapshot_formats: Vec<Format>, diff_formats: Vec<Format>, keep_epochs: u32) {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(&dir.path().join("a")), local(&dir.path().join("b"))];
    let settings = ArchiveSettings {
        snapshot_formats,
        diff_formats,
        keep_epochs,
        ..ArchiveSettings::new("public.items", "items/")
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut identity = 0;
        let mut writer = open_writer(&dests, &settings, "w0").await;
        let mut table = Table::new(KeySpec::default());
        let mut buffer = ChangeBuffer::new();
        let mut mark = SourceMark::default();
        let mut lsn = 0u64;
        // Ops applied since the last commit: what a resumed source replays.
        let mut since_commit: Vec<Op> = Vec::new();
        // Table contents at every committed artifact, by archive position.
        let mut boundaries: Vec<(String, u64, BTreeMap<String, String>)> = Vec::new();
        let commit = |committed: &snapshot_writer::archive::Committed,
                      table: &Table,
                      boundaries: &mut Vec<_>| {
            boundaries.push((
                committed.position.clone(),
                committed.epoch,
                table_rows(table),
            ));
        };
        let first = writer
            .write_snapshot(&table, &mut buffer, &mark, Trigger::Initial)
            .await
            .unwrap();
        commit(&first, &table, &mut boundaries);
        for op in ops {
            match &op {
                Op::Position(p) => {
                    mark.sequence += 1;
                    mark.position = match p % 4 {
                        0 => String::new(),
                        1 => mark.position.clone(),
                        _ => {
                            lsn += u64::from(*p);
                            format!("0/{lsn:X}")
                        }
                    };
                }
                Op::Flush => {
                    if let Some(committed) = writer.write_diff(&mut buffer, &mark).await.unwrap() {
                        commit(&committed, &table, &mut boundaries);
                    }
                    since_commit.clear();
                }
                Op::Rebase => {
                    let committed = writer
                        .write_snapshot(&table, &mut buffer, &mark, Trigger::Forced)
                        .await
                        .unwrap();
                    commit(&committed, &table, &mut boundaries);
                    since_commit.clear();
                }
                Op::Restart => {
                    drop(writer);
                    identity += 1;
                    writer = open_writer(&dests, &settings, &format!("w{identity}")).await;
                    let restored = writer.restore().await.unwrap().unwrap();
                    assert_eq!(
                        table_rows(&restored.table),
                        boundaries.last().unwrap().2,
                        "restored table"
                    );
                    assert_eq!(
                        restored.mark.sequence,
                        writer.manifest().source.as_ref().unwrap().sequence
                    );
                    table = restored.table;
                    buffer = ChangeBuffer::new();
                    for replay in &since_commit {
                        apply(&mut table, &mut buffer, replay);
                    }
                }
                _ => {
                    apply(&mut table, &mut buffer, &op);
                    since_commit.push(op.clone());
                }
            }
        }
        if let Some(committed) = writer.write_diff(&mut buffer, &mark).await.unwrap() {
            commit(&committed, &table, &mut boundaries);
        }

        for dest in &dests {
            let reader = ArchiveReader::open(dest.clone(), "items/").await.unwrap();
            let report = verify(&reader).await.unwrap();
            assert!(report.ok(), "{report}");
            let oldest_epoch = reader.manifest().artifacts.first().unwrap().epoch;
            for preference in [
                [Format::Jsonl, Format::Protobuf],
                [Format::Protobuf, Format::Jsonl],
            ] {
                let head = reader
                    .rebuild(None, &KeySpec::default(), &preference)
                    .await
                    .unwrap();
                assert_eq!(
                    rebuilt_rows(&head),
                    table_rows(&table),
                    "head via {preference:?}"
                );
                for (position, epoch, expected) in &boundaries {
                    if *epoch < oldest_epoch {
                        continue;
                    }
                    let at = reader
                        .rebuild(Some(position), &KeySpec::default(), &preference)
                        .await
                        .unwrap();
                    assert_eq!(&at.position, position);
                    assert_eq!(
                        &rebuilt_rows(&at),
                        expected,
                        "at {position} via {preference:?}"
                    );
                }
            }
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_rebuilt_table_equals_the_writers_table(
        ops in proptest::collection::vec(op(), 1..80),
        (snapshot_formats, diff_formats) in formats(),
        keep_epochs in prop_oneof![Just(0u32), Just(2u32)],
    ) {
        run(ops, snapshot_formats, diff_formats, keep_epochs);
    }
}
