use super::load::load_in_parts;
use super::*;
use crate::archive::format::{self, RecordEncoder};
use crate::table::{KeySpec, ValueRef};
use laredo_wire::{encode_scalar, write_struct_entry};

fn row(id: u32, value: &str) -> Vec<u8> {
    let mut row = Vec::new();
    write_struct_entry(&mut row, "id", &encode_scalar(&ValueRef::Number(id.into())));
    write_struct_entry(&mut row, "v", &encode_scalar(&ValueRef::String(value)));
    row
}

fn object(format: Format, rows: u32) -> Vec<u8> {
    let mut encoder = RecordEncoder::new(format);
    let mut out = Vec::new();
    for id in 0..rows {
        encoder.snapshot_row(&mut out, &row(id, "x")).unwrap();
    }
    out
}

fn load(format: Format, body: &Bytes, crc: Option<u32>, workers: usize) -> RebuiltRows {
    load_in_parts(format, body, &KeySpec::default(), crc, workers).unwrap()
}

#[test]
fn every_row_lands_in_its_shard_whatever_the_split() {
    for format in [Format::Jsonl, Format::Protobuf] {
        let body = Bytes::from(object(format, 1000));
        for workers in [1, 2, 3, 7] {
            for crc in [None, Some(crc32c::crc32c(&body))] {
                let mut rows = load(format, &body, crc, workers);
                assert_eq!(rows.len(), 1000, "{format:?} on {workers}");
                for id in 0..1000 {
                    let stored = rows.get(&id.to_string()).expect("every key");
                    assert_eq!(
                        stored.to_struct_bytes().unwrap(),
                        row(id, "x"),
                        "{format:?}: row {id}"
                    );
                }
                assert!(rows.remove("7").is_some());
                assert!(rows.get("7").is_none());
                let replaced = rows.insert("7", StoredRow::Struct(Bytes::new())).unwrap();
                assert!(!replaced);
                assert!(rows.insert("7", StoredRow::Struct(Bytes::new())).unwrap());
                assert_eq!(rows.get("7"), Some(StoredRow::Struct(Bytes::new())));
                assert_eq!(rows.keys().count(), 1000);
                rows.clear();
                assert!(rows.is_empty());
            }
        }
    }
}

#[test]
fn a_key_twice_in_a_snapshot_is_an_error_naming_both_records() {
    for format in [Format::Jsonl, Format::Protobuf] {
        let mut encoder = RecordEncoder::new(format);
        let mut out = Vec::new();
        for version in ["old", "new"] {
            for id in 0..500 {
                encoder.snapshot_row(&mut out, &row(id, version)).unwrap();
            }
        }
        let body = Bytes::from(out);
        for workers in [1, 2, 3] {
            let error = load_in_parts(format, &body, &KeySpec::default(), None, workers)
                .unwrap_err()
                .to_string();
            // Whichever key a shard meets first, its two records are 500 apart.
            let (second, rest) = error
                .strip_prefix("record ")
                .and_then(|e| e.split_once(": key "))
                .unwrap_or_else(|| panic!("{error}"));
            let first = rest.rsplit_once("also record ").unwrap().1;
            let first: usize = first.trim_end_matches(')').parse().unwrap();
            assert_eq!(second.parse::<usize>().unwrap(), first + 500, "{error}");
            assert!(error.contains("appears twice in the snapshot"), "{error}");
        }
    }
}

#[test]
fn a_row_without_its_key_column_is_an_error() {
    for format in [Format::Jsonl, Format::Protobuf] {
        let mut encoder = RecordEncoder::new(format);
        let mut out = Vec::new();
        encoder.snapshot_row(&mut out, &row(1, "x")).unwrap();
        let mut keyless = Vec::new();
        write_struct_entry(&mut keyless, "v", &encode_scalar(&ValueRef::String("y")));
        encoder.snapshot_row(&mut out, &keyless).unwrap();
        let body = Bytes::from(out);
        for crc in [None, Some(crc32c::crc32c(&body))] {
            let error = load_in_parts(format, &body, &KeySpec::default(), crc, 1).unwrap_err();
            assert_eq!(error.record, 2, "{format:?}: {error}");
            assert!(error.message.contains("no key column \"id\""), "{error}");
        }
    }
}

#[test]
fn a_checksum_mismatch_names_both_checksums() {
    for format in [Format::Jsonl, Format::Protobuf] {
        let body = Bytes::from(object(format, 1000));
        let actual = crc32c::crc32c(&body);
        for workers in [1, 2, 3] {
            let error = load_in_parts(
                format,
                &body,
                &KeySpec::default(),
                Some(actual ^ 1),
                workers,
            )
            .unwrap_err();
            assert_eq!(error.record, 0);
            assert!(
                error
                    .to_string()
                    .contains(&format!("has CRC-32C {actual:08x}")),
                "{error}"
            );
        }
    }
}

#[test]
fn without_a_checksum_a_line_broken_after_its_key_is_an_error() {
    // With a checksum the scan may stop at the key; without one, the whole
    // line must be well formed.
    let body = Bytes::from_static(b"{\"id\":1,\"v\":\"x\"}\n{\"id\":2,\"v\":\"x}\n");
    let error = load_in_parts(Format::Jsonl, &body, &KeySpec::default(), None, 1).unwrap_err();
    assert_eq!(error.record, 2, "{error}");
    let rows = load(Format::Jsonl, &body, Some(crc32c::crc32c(&body)), 1);
    assert_eq!(rows.len(), 2);
}

#[test]
fn diffs_apply_in_order_including_a_truncate() {
    for format in [Format::Jsonl, Format::Protobuf] {
        let body = Bytes::from(object(format, 10));
        let mut table = RebuiltTable {
            rows: load(format, &body, None, 2),
            ..RebuiltTable::default()
        };
        let mut encoder = RecordEncoder::new(format);
        let mut diff = Vec::new();
        let (before, after) = (row(3, "x"), row(3, "y"));
        let entries = [
            (Action::Update, "3", Some(&before[..]), Some(&after[..])),
            (Action::Truncate, "", None, None),
            (Action::Insert, "4", None, Some(&after[..])),
            (Action::Insert, "5", None, Some(&after[..])),
            (Action::Delete, "5", Some(&after[..]), None),
        ];
        for (action, key, old, new) in entries {
            let entry = format::DiffEntry {
                action,
                key,
                old,
                new,
            };
            encoder.diff_entry(&mut diff, &entry).unwrap();
        }
        let diff = Bytes::from(diff);
        let mut records = Vec::new();
        format::decode_diff(format, &diff, |record| {
            records.push(record);
            Ok(())
        })
        .unwrap();
        table.apply_diff(format, diff, records).unwrap();
        assert_eq!(table.rows.keys().collect::<Vec<_>>(), ["4"], "{format:?}");
        let stored = table.rows.get("4").unwrap();
        assert_eq!(stored.to_struct_bytes().unwrap(), after);
    }
}

#[test]
fn a_bad_record_is_named_by_its_number_in_the_whole_object() {
    let mut jsonl = object(Format::Jsonl, 1000);
    // Break line 900 (the last part of any split).
    let start = jsonl
        .split(|b| *b == b'\n')
        .take(899)
        .map(|line| line.len() + 1)
        .sum::<usize>();
    jsonl[start + 1] = b'x';
    let mut protobuf = object(Format::Protobuf, 1000);
    // Cut the last message short.
    protobuf.truncate(protobuf.len() - 3);
    for (format, body, record) in [
        (Format::Jsonl, jsonl, 900),
        (Format::Protobuf, protobuf, 1000),
    ] {
        let body = Bytes::from(body);
        for workers in [1, 2, 3] {
            let error =
                load_in_parts(format, &body, &KeySpec::default(), None, workers).unwrap_err();
            assert_eq!(error.record, record, "{format:?} on {workers}: {error}");
        }
    }
}
