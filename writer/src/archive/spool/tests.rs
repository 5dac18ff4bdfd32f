use super::*;
use crate::table::{KeySpec, ValueRef};
use laredo_wire::{encode_scalar, write_struct_entry};

/// A table of `rows` rows of an id and text of varied length.
fn table(rows: usize) -> Table {
    let mut table = Table::new(KeySpec::default());
    for i in 0..rows {
        let text = format!("row {i} {}", "x".repeat(i % 200));
        let mut row = Vec::new();
        write_struct_entry(&mut row, "id", &encode_scalar(&ValueRef::Number(i as f64)));
        write_struct_entry(&mut row, "text", &encode_scalar(&ValueRef::String(&text)));
        table.upsert_encoded(&row).unwrap();
    }
    table
}

/// Each spool file of a snapshot of `table` written by `path`: its format,
/// recorded size and checksum, and its bytes.
fn snapshot(table: &Table, path: WritePath) -> Vec<(Format, u64, u32, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::with_write_path(dir.path().to_owned(), path).unwrap();
    let files = spool
        .snapshot(table, &[Format::Jsonl, Format::Protobuf], "s")
        .unwrap();
    files
        .iter()
        .map(|file| {
            let bytes = std::fs::read(file.path()).unwrap();
            (file.format, file.size, file.crc32c, bytes)
        })
        .collect()
}

/// The buffered path (what platforms without `O_DIRECT` take), selected
/// through the same entry point, writes a snapshot (several MB: more than
/// one direct block run, many encoding chunks) byte for byte as the direct
/// path does, with the size and checksum of what is on disk.
#[test]
fn a_buffered_snapshot_holds_what_a_direct_one_does() {
    let rows = 30_000;
    let table = table(rows);
    let buffered = snapshot(&table, WritePath::Buffered);
    assert_eq!(buffered, snapshot(&table, WritePath::Direct));
    for (format, size, crc32c, bytes) in &buffered {
        assert_eq!(*size, bytes.len() as u64, "{format:?}");
        assert_eq!(*crc32c, crc32c::crc32c(bytes), "{format:?}");
    }
    let jsonl = &buffered[0];
    assert_eq!(jsonl.0, Format::Jsonl);
    assert!(jsonl.3.len() > 2 << 20, "{} bytes", jsonl.3.len());
    assert_eq!(jsonl.3.iter().filter(|&&b| b == b'\n').count(), rows);
}

/// A spool set to buffered writes snapshots through the page cache with
/// early writeback, not with `O_DIRECT`.
#[test]
fn buffered_snapshots_go_through_the_page_cache() {
    let dir = tempfile::tempdir().unwrap();
    let writer =
        SpoolWriter::create(dir.path(), "s", Format::Jsonl, Some(WritePath::Buffered)).unwrap();
    assert!(matches!(
        writer.sink,
        Sink::Buffered {
            writeback: Some(_),
            ..
        }
    ));
}
