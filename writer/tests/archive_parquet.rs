//! The `parquet` format end to end: a Parquet-only archive rebuilds to the
//! table a JSONL archive of the same stream rebuilds to (property test over
//! random tables, a random subset of columns of every mapped type, at
//! the head and as of every position, across restarts); DuckDB reads every
//! object with the documented types, and the README's head-of-table query
//! over snapshot + diffs equals `snapshot-writer read`.
#![allow(clippy::unwrap_used)]

mod archive_support;
#[path = "support/duckdb.rs"]
mod duckdb;

use std::collections::BTreeMap;

use archive_support::parquet::{COLUMNS, columns, row, settings, write_scenario};
use archive_support::{local, open_writer, rebuilt_rows, table_rows};
use laredo_wire::{RawStructEntries, encode_scalar, write_struct_entry};
use proptest::prelude::*;
use snapshot_writer::archive::verify::verify;
use snapshot_writer::archive::{
    ArchiveReader, ArchiveSettings, ChangeBuffer, READ_PREFERENCE, SourceMark, Trigger,
};
use snapshot_writer::config::Format;
use snapshot_writer::table::{KeySpec, Table, ValueRef};

/// The DuckDB type of each column (the README's table).
const DUCKDB_TYPES: [(&str, &str); 18] = [
    ("id", "BIGINT"),
    ("name", "VARCHAR"),
    ("n", "INTEGER"),
    ("small", "SMALLINT"),
    ("score", "FLOAT"),
    ("ratio", "DOUBLE"),
    ("balance", "DECIMAL(12,2)"),
    ("amount", "VARCHAR"),
    ("active", "BOOLEAN"),
    ("at", "TIMESTAMP WITH TIME ZONE"),
    ("local", "TIMESTAMP"),
    ("day", "DATE"),
    ("uid", "UUID"),
    ("blob", "BLOB"),
    ("doc", "VARCHAR"),
    ("tags", "VARCHAR[]"),
    ("counts", "INTEGER[]"),
    ("span", "VARCHAR"),
];

fn read_binary(archive: &std::path::Path) -> (String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_snapshot-writer"))
        .arg("read")
        .arg(archive)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    assert!(output.status.success(), "{}", text(output.stderr.clone()));
    (text(output.stdout), text(output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_reads_every_object_and_the_readme_query_is_the_table_read_prints() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    let table = write_scenario(&dests, &settings(&[Format::Parquet])).await;
    let archive = dir.path().join("items");

    // A Parquet-only archive verifies and reads back as the writer's table.
    let reader = ArchiveReader::open(dests[0].clone(), "items/")
        .await
        .unwrap();
    let report = verify(&reader).await.unwrap();
    assert!(report.ok(), "{report}");
    let (printed, summary) = read_binary(&archive);
    let expected: String = table_rows(&table).into_values().collect();
    assert_eq!(printed, expected);
    assert!(
        summary.contains(&format!("{} rows", table.len())),
        "{summary}"
    );

    // DuckDB decodes every object, with the documented types.
    let types = duckdb::file_types(&archive);
    assert_eq!(
        types.len(),
        6,
        "2 snapshots and 4 diffs: {:?}",
        types.keys()
    );
    let table_types: BTreeMap<String, String> = DUCKDB_TYPES
        .iter()
        .map(|(c, t)| ((*c).to_owned(), (*t).to_owned()))
        .collect();
    for (file, columns) in &types {
        let mut expected = table_types.clone();
        if file.contains("/diff-") {
            for (column, kind) in [
                ("_op", "VARCHAR"),
                ("_position", "VARCHAR"),
                ("_lsn", "BIGINT"),
            ] {
                expected.insert(column.to_owned(), kind.to_owned());
            }
        }
        assert_eq!(columns, &expected, "{file}");
    }

    // The README's query over the head epoch's snapshot and diffs.
    let output = dir.path().join("read.jsonl");
    std::fs::write(&output, &printed).unwrap();
    let head = duckdb::check_head_query(&format!("{}/", archive.display()), &output, &[]);
    assert_eq!(head.rows, table.len());
    assert_eq!((head.missing, head.extra), (0, 0), "{head:?}");
    assert_eq!(head.types, table_types);
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u32, u32),
    Update(u32, u32),
    ChangeKey(u32, u32, u32),
    Delete(u32),
    Truncate,
    Flush,
    Rebase,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..30u32, 0..1000u32).prop_map(|(id, v)| Op::Insert(id, v)),
        4 => (0..30u32, 0..1000u32).prop_map(|(id, v)| Op::Update(id, v)),
        1 => (0..30u32, 0..30u32).prop_map(|(a, b)| Op::ChangeKey(a, b, 7)),
        3 => (0..30u32).prop_map(Op::Delete),
        1 => Just(Op::Truncate),
        3 => Just(Op::Flush),
        1 => Just(Op::Rebase),
        1 => Just(Op::Restart),
    ]
}

fn apply(table: &mut Table, buffer: &mut ChangeBuffer, kept: &[&str], op: &Op) {
    let row = |id: u32, v: u32| row_of(kept, id, v);
    let current =
        |table: &Table, id: u32| table.get(&id.to_string()).map(|r| r.as_bytes().to_vec());
    let mut record = |change| buffer.record(change);
    let (action, old, new) = match op {
        Op::Insert(id, v) => ("INSERT", None, Some(row(*id, *v))),
        Op::Update(id, v) => match current(table, *id) {
            Some(old) => ("UPDATE", Some(old), Some(row(*id, *v))),
            None => return,
        },
        Op::ChangeKey(from, to, v) => match current(table, *from) {
            Some(old) => ("UPDATE", Some(old), Some(row(*to, *v))),
            None => return,
        },
        Op::Delete(id) => ("DELETE", Some(row(*id, 0)), None),
        Op::Truncate => ("TRUNCATE", None, None),
        _ => return,
    };
    table
        .apply(action, old.as_deref(), new.as_deref(), &mut record)
        .unwrap();
}

/// [`row`] with only the columns in `kept`: a random table's row. Its
/// `name` is never null, so rows of two versions always differ: a change
/// that rewrites a row with the same bytes is dropped as no change, and
/// whether the bytes are the same depends on the format the row was
/// restored from (JSONL reads members back in Go's sorted order), which
/// would make the two archives commit differently for no difference in
/// the table.
fn row_of(kept: &[&str], id: u32, version: u32) -> Vec<u8> {
    let full = row(id, version);
    let mut out = Vec::new();
    for entry in RawStructEntries::new(&full) {
        let (name, value) = entry.unwrap();
        let name = std::str::from_utf8(name).unwrap();
        if name == "name" {
            let text = format!("row {id} v{version}");
            write_struct_entry(&mut out, name, &encode_scalar(&ValueRef::String(&text)));
        } else if kept.contains(&name) {
            write_struct_entry(&mut out, name, value);
        }
    }
    out
}

/// One archive of the stream: its writer and its copy of the table.
struct Side {
    dests: Vec<std::sync::Arc<dyn snapshot_writer::dest::Destination>>,
    settings: snapshot_writer::archive::ArchiveSettings,
    writer: snapshot_writer::archive::ArchiveWriter,
    table: Table,
    buffer: ChangeBuffer,
}

fn run(kept: Vec<&str>, ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut sides = Vec::new();
        for format in [Format::Jsonl, Format::Parquet] {
            let dests = vec![local(&dir.path().join(format.id()))];
            let settings = ArchiveSettings {
                columns: columns()
                    .into_iter()
                    .filter(|c| kept.contains(&c.name.as_str()))
                    .collect(),
                ..settings(&[format])
            };
            let writer = open_writer(&dests, &settings, "w0").await;
            sides.push(Side {
                dests,
                settings,
                writer,
                table: Table::new(KeySpec::default()),
                buffer: ChangeBuffer::new(),
            });
        }
        let mut mark = SourceMark::default();
        let mut positions = Vec::new();
        for side in &mut sides {
            side.writer
                .write_snapshot(&side.table, &mut side.buffer, &mark, Trigger::Initial)
                .await
                .unwrap();
        }
        // Ops since the last commit: what a resumed source replays.
        let mut since_commit: Vec<Op> = Vec::new();
        for (index, op) in ops.iter().enumerate() {
            mark.sequence += 1;
            mark.position = format!("0/{:X}", 0x100 * (index + 1));
            let mut committed = Vec::new();
            for side in &mut sides {
                match op {
                    Op::Flush => {
                        let done = side
                            .writer
                            .write_diff(&mut side.buffer, &mark)
                            .await
                            .unwrap();
                        committed.push(done.map(|c| c.position));
                    }
                    Op::Rebase => {
                        let done = side
                            .writer
                            .write_snapshot(&side.table, &mut side.buffer, &mark, Trigger::Forced)
                            .await
                            .unwrap();
                        committed.push(Some(done.position));
                    }
                    Op::Restart => {
                        side.writer =
                            open_writer(&side.dests, &side.settings, &format!("w{index}")).await;
                        let restored = side.writer.restore().await.unwrap().unwrap();
                        side.table = restored.table;
                        side.buffer = ChangeBuffer::new();
                        for replay in &since_commit {
                            apply(&mut side.table, &mut side.buffer, &kept, replay);
                        }
                    }
                    _ => apply(&mut side.table, &mut side.buffer, &kept, op),
                }
            }
            match op {
                Op::Flush | Op::Rebase => {
                    assert_eq!(committed[0], committed[1], "both archives commit alike");
                    positions.extend(committed[0].clone());
                    since_commit.clear();
                }
                Op::Restart => {
                    assert_eq!(
                        table_rows(&sides[0].table),
                        table_rows(&sides[1].table),
                        "the table restored from Parquet alone is the one restored from JSONL"
                    );
                }
                _ => since_commit.push(op.clone()),
            }
        }

        let mut readers = Vec::new();
        for side in &sides {
            let reader = ArchiveReader::open(side.dests[0].clone(), "items/")
                .await
                .unwrap();
            let report = verify(&reader).await.unwrap();
            assert!(report.ok(), "{report}");
            readers.push(reader);
        }
        let key = KeySpec::default();
        for at in std::iter::once(None).chain(positions.iter().map(|p| Some(p.as_str()))) {
            let mut tables = Vec::new();
            for reader in &readers {
                let table = reader.rebuild(at, &key, &READ_PREFERENCE).await.unwrap();
                tables.push((rebuilt_rows(&table), table.position));
            }
            assert_eq!(tables[0], tables[1], "as of {at:?}");
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_parquet_archive_rebuilds_to_the_table_a_jsonl_archive_rebuilds_to(
        kept in proptest::sample::subsequence(COLUMNS[1..].to_vec(), 0..COLUMNS.len()),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let kept = ["id", "name"]
            .into_iter()
            .chain(kept.iter().map(|(name, _)| *name).filter(|name| *name != "name"))
            .collect();
        // Every write a version of its own (see `row_of`).
        let ops = ops
            .into_iter()
            .enumerate()
            .map(|(index, op)| match op {
                Op::Insert(id, v) => Op::Insert(id, index as u32 * 1000 + v),
                Op::Update(id, v) => Op::Update(id, index as u32 * 1000 + v),
                Op::ChangeKey(from, to, _) => Op::ChangeKey(from, to, index as u32 * 1000 + 999),
                other => other,
            })
            .collect();
        run(kept, ops);
    }
}
