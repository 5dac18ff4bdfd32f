//! The `protobuf` format: varint length-delimited `laredo.snapshotter.v1`
//! `SnapshotRow` / `DiffChange` messages (Go `protodelim`), ending at EOF.
//! Rows are copied in as the `Struct` bytes they already are.

use bytes::Bytes;

use super::{DiffEntry, DiffRecord, FormatError, StoredRow};
use crate::table::Action;
use laredo_wire::{Field, Fields, read_varint, varint_len, write_bytes_field, write_varint};

/// Appends one length-delimited `SnapshotRow{row}`.
pub fn encode_snapshot_row(out: &mut Vec<u8>, row: &[u8]) {
    let message_len = 1 + varint_len(row.len() as u64) + row.len();
    write_varint(out, message_len as u64);
    write_bytes_field(out, 1, row);
}

/// Appends one length-delimited `DiffChange{action,key,old,new}`; empty
/// fields are left out, as proto3 does.
pub fn encode_diff_entry(out: &mut Vec<u8>, entry: &DiffEntry<'_>) {
    let field_len = |len: usize| {
        if len == 0 {
            0
        } else {
            1 + varint_len(len as u64) + len
        }
    };
    let action = entry.action.as_str().as_bytes();
    let old = entry.old.unwrap_or_default();
    let new = entry.new.unwrap_or_default();
    // A present but empty row is still written, so INSERT of `{}` keeps its row.
    let row_len = |row: Option<&[u8]>| row.map_or(0, |r| 1 + varint_len(r.len() as u64) + r.len());
    let message_len = field_len(action.len())
        + field_len(entry.key.len())
        + row_len(entry.old)
        + row_len(entry.new);
    write_varint(out, message_len as u64);
    write_bytes_field(out, 1, action);
    if !entry.key.is_empty() {
        write_bytes_field(out, 2, entry.key.as_bytes());
    }
    if entry.old.is_some() {
        write_bytes_field(out, 3, old);
    }
    if entry.new.is_some() {
        write_bytes_field(out, 4, new);
    }
}

/// The length-delimited messages of an object, as slices of it.
fn messages(object: &[u8]) -> impl Iterator<Item = Result<(usize, &[u8]), FormatError>> + '_ {
    let mut pos = 0;
    let mut number = 0;
    std::iter::from_fn(move || {
        if pos >= object.len() {
            return None;
        }
        number += 1;
        let message = read_varint(object, &mut pos)
            .map_err(|e| FormatError::at(number, e))
            .and_then(|len| {
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|len| pos.checked_add(len))
                    .filter(|end| *end <= object.len())
                    .ok_or_else(|| {
                        FormatError::at(number, "message length runs past the end of the object")
                    })?;
                let message = &object[pos..end];
                pos = end;
                Ok((number, message))
            });
        if message.is_err() {
            pos = object.len();
        }
        Some(message)
    })
}

/// Splits an object into about `count` parts of whole messages, each with
/// the number of messages before it (a rebuild reads the parts in
/// parallel). Framing errors are found here, with their message number.
pub fn split_messages(object: &Bytes, count: usize) -> Result<Vec<(usize, Bytes)>, FormatError> {
    let target = object.len().div_ceil(count.max(1)).max(1);
    let mut parts = Vec::with_capacity(count);
    let (mut start, mut before) = (0, 0);
    for message in messages(object) {
        let (number, message) = message?;
        let end = message.as_ptr().addr() - object.as_ptr().addr() + message.len();
        if end - start >= target {
            parts.push((before, object.slice(start..end)));
            (start, before) = (end, number);
        }
    }
    if start < object.len() {
        parts.push((before, object.slice(start..)));
    }
    Ok(parts)
}

/// Calls `row` with the message number and row (a slice of `object`; empty
/// when the message has none) of every `SnapshotRow` of an object.
pub fn snapshot_rows<'a>(
    object: &'a [u8],
    mut row: impl FnMut(usize, &'a [u8]) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    for message in messages(object) {
        let (number, message) = message?;
        let mut found: &[u8] = &[];
        for field in Fields::new(message) {
            if let Field::Bytes(1, bytes) = field.map_err(|e| FormatError::at(number, e))? {
                found = bytes;
            }
        }
        row(number, found)?;
    }
    Ok(())
}

/// Calls `change` for every `DiffChange` of an object, in file order.
pub fn decode_diff(
    object: &Bytes,
    mut change: impl FnMut(DiffRecord) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    for message in messages(object) {
        let (number, message) = message?;
        let bad = |e: &dyn std::fmt::Display| FormatError::at(number, e);
        let mut action = "";
        let mut key = "";
        let mut new = None;
        for field in Fields::new(message) {
            match field.map_err(|e| bad(&e))? {
                Field::Bytes(1, bytes) => {
                    action = std::str::from_utf8(bytes).map_err(|_| bad(&"action is not UTF-8"))?
                }
                Field::Bytes(2, bytes) => {
                    key = std::str::from_utf8(bytes).map_err(|_| bad(&"key is not UTF-8"))?
                }
                Field::Bytes(4, bytes) => new = Some(StoredRow::Struct(object.slice_ref(bytes))),
                _ => {}
            }
        }
        let action =
            Action::parse(action).ok_or_else(|| bad(&format!("unknown diff action {action:?}")))?;
        if matches!(action, Action::Insert | Action::Update) && new.is_none() {
            // proto3 drops an empty message field only if unset; Go always sets it.
            new = Some(StoredRow::Struct(Bytes::new()));
        }
        change(DiffRecord {
            action,
            key: key.to_owned(),
            new,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use laredo_proto::snapshotter::v1::{DiffChange, SnapshotRow};
    use prost::Message;
    use prost_types::{Struct, Value, value::Kind};

    fn row() -> Struct {
        Struct {
            fields: [(
                "id".to_owned(),
                Value {
                    kind: Some(Kind::NumberValue(5.0)),
                },
            )]
            .into(),
        }
    }

    #[test]
    fn records_decode_with_prost_as_go_protodelim_would() {
        let encoded_row = row().encode_to_vec();
        let mut out = Vec::new();
        encode_snapshot_row(&mut out, &encoded_row);
        encode_diff_entry(
            &mut out,
            &DiffEntry {
                action: Action::Update,
                key: "5",
                old: Some(&encoded_row),
                new: Some(&encoded_row),
            },
        );
        encode_diff_entry(&mut out, &DiffEntry::TRUNCATE);
        let mut buf = out.as_slice();
        let first = SnapshotRow::decode_length_delimited(&mut buf).unwrap();
        assert_eq!(first.row, Some(row()));
        let second = DiffChange::decode_length_delimited(&mut buf).unwrap();
        assert_eq!(
            (second.action.as_str(), second.key.as_str()),
            ("UPDATE", "5")
        );
        assert_eq!(second.old, Some(row()));
        assert_eq!(second.new, Some(row()));
        let third = DiffChange::decode_length_delimited(&mut buf).unwrap();
        assert_eq!(third.action, "TRUNCATE");
        assert!(buf.is_empty());
    }

    #[test]
    fn reads_what_prost_writes() {
        let mut out = Vec::new();
        DiffChange {
            action: "INSERT".into(),
            key: "5".into(),
            old: None,
            new: Some(row()),
        }
        .encode_length_delimited(&mut out)
        .unwrap();
        let mut records = Vec::new();
        decode_diff(&Bytes::from(out), |r| {
            records.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(records[0].key, "5");
        assert_eq!(
            records[0].new,
            Some(StoredRow::Struct(Bytes::from(row().encode_to_vec())))
        );
    }

    #[test]
    fn truncated_objects_are_errors() {
        let mut out = Vec::new();
        encode_snapshot_row(&mut out, &row().encode_to_vec());
        out.truncate(out.len() - 1);
        let err = snapshot_rows(&out, |_, _| Ok(())).unwrap_err();
        assert_eq!(err.record, 1);
    }
}
