//! Two tables configured onto one place: the table that commits second
//! finds a manifest naming the other and is fenced, instead of retrying the
//! compare-and-swap over it (one process runs both tables under one writer
//! identity, so the identity alone cannot tell them apart).
#![allow(clippy::unwrap_used)]

mod archive_support;

use std::sync::Arc;

use archive_support::{local, open_writer, rebuilt_rows, row, table_rows};
use snapshot_writer::archive::verify::verify;
use snapshot_writer::archive::{ArchiveReader, ArchiveSettings, ChangeBuffer, SourceMark, Trigger};
use snapshot_writer::config::Format;
use snapshot_writer::dest::Destination;
use snapshot_writer::table::{KeySpec, Table};

fn settings(table: &str) -> ArchiveSettings {
    ArchiveSettings {
        snapshot_formats: vec![Format::Jsonl, Format::Protobuf],
        diff_formats: vec![Format::Protobuf],
        ..ArchiveSettings::new(table, "items/")
    }
}

fn insert(table: &mut Table, buffer: &mut ChangeBuffer, id: u32, name: &str) {
    table
        .apply("INSERT", None, Some(&row(id, name, 1.0)), &mut |c| {
            buffer.record(c)
        })
        .unwrap();
}

async fn assert_valid(dest: &Arc<dyn Destination>) -> ArchiveReader {
    let reader = ArchiveReader::open(dest.clone(), "items/").await.unwrap();
    let report = verify(&reader).await.unwrap();
    assert!(report.ok(), "{report}");
    reader
}

/// Two tables on one place, in one process (the same writer identity): the
/// second table's commit finds a manifest naming the first and is fenced,
/// instead of retrying the compare-and-swap over it.
#[tokio::test]
async fn a_second_table_on_the_same_place_is_fenced_and_never_overwrites_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    // Both open an empty place, as two tables of one process starting together.
    let mut items = open_writer(&dests, &settings("public.items"), "one-process").await;
    let mut second = open_writer(&dests, &settings("public.orders"), "one-process").await;

    let (mut table_a, mut buffer_a) = (Table::new(KeySpec::default()), ChangeBuffer::new());
    insert(&mut table_a, &mut buffer_a, 1, "a");
    items
        .write_snapshot(
            &table_a,
            &mut buffer_a,
            &SourceMark::default(),
            Trigger::Initial,
        )
        .await
        .unwrap();

    let (mut table_b, mut buffer_b) = (Table::new(KeySpec::default()), ChangeBuffer::new());
    insert(&mut table_b, &mut buffer_b, 2, "b");
    let error = second
        .write_snapshot(
            &table_b,
            &mut buffer_b,
            &SourceMark::default(),
            Trigger::Initial,
        )
        .await
        .unwrap_err();
    assert!(error.is_fenced(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("public.items") && message.contains("public.orders"),
        "the error names both tables: {message}"
    );
    assert!(second.is_fenced());
    insert(&mut table_b, &mut buffer_b, 3, "b");
    assert!(
        second
            .write_diff(&mut buffer_b, &SourceMark::default())
            .await
            .unwrap_err()
            .is_fenced(),
        "a fenced table writes nothing more"
    );

    for id in 10..13 {
        insert(&mut table_a, &mut buffer_a, id, "more");
        items
            .write_diff(&mut buffer_a, &SourceMark::default())
            .await
            .unwrap()
            .unwrap();
    }
    let reader = assert_valid(&dests[0]).await;
    assert_eq!(reader.manifest().table, "public.items");
    let head = reader
        .rebuild(None, &KeySpec::default(), &[Format::Protobuf])
        .await
        .unwrap();
    assert_eq!(rebuilt_rows(&head), table_rows(&table_a));
}
