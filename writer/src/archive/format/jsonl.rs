//! The `jsonl` format: one JSON object per line, byte-compatible with Go's
//! `encoding/json` (map keys sorted, `<`, `>`, `&`, U+2028 and U+2029
//! escaped, float64 formatted as Go does). serde_json differs on all three, so
//! rows are transcoded here straight from their encoded `Struct` bytes.
//!
//! Go cannot encode NaN or ±Inf at all (its encoder fails the whole row); we
//! write them as `null` so one odd value does not block the archive.

use bytes::Bytes;
use memchr::memchr;

use super::json_scan::{ObjectScanner, unescape_string};
use super::{DiffEntry, DiffRecord, FormatError, StoredRow};
use crate::table::Action;
use laredo_wire::{MAX_DEPTH, ValueRef, WireError, list_items, short_string, utf8};

mod columns;
mod scalars;

pub use columns::ColumnCache;
use columns::{sorted_order, with_members};
pub use scalars::{write_go_float, write_string, write_text};

/// The longest line a reader accepts, Go's reader's limit (its scanner's
/// buffer): a longer one would fail there anyway.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Refuses a line longer than [`MAX_LINE_BYTES`].
fn check_length(number: usize, line: &[u8]) -> Result<(), FormatError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(FormatError::at(
            number,
            format!(
                "a line of {} bytes, longer than the {MAX_LINE_BYTES} a reader accepts",
                line.len()
            ),
        ));
    }
    Ok(())
}

/// Appends a row as one JSON object and a newline; `columns` carries the
/// previous row's layout (pass the same cache for every row of a table).
pub fn encode_snapshot_row(
    columns: &mut ColumnCache,
    out: &mut Vec<u8>,
    row: &[u8],
) -> Result<(), WireError> {
    write_row(columns, out, row)?;
    out.push(b'\n');
    Ok(())
}

/// Appends `{"action","key","old","new"}` and a newline; `old`/`new` are
/// omitted when absent or empty, as Go's `omitempty` does.
pub fn encode_diff_entry(
    columns: &mut ColumnCache,
    out: &mut Vec<u8>,
    entry: &DiffEntry<'_>,
) -> Result<(), WireError> {
    out.extend_from_slice(b"{\"action\":\"");
    out.extend_from_slice(entry.action.as_str().as_bytes());
    out.extend_from_slice(b"\",\"key\":");
    write_string(out, entry.key);
    if let Some(old) = entry.old.filter(|row| !row.is_empty()) {
        out.extend_from_slice(b",\"old\":");
        write_row(columns, out, old)?;
    }
    if let Some(new) = entry.new.filter(|row| !row.is_empty()) {
        out.extend_from_slice(b",\"new\":");
        write_row(columns, out, new)?;
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// Appends a top-level row as a JSON object with sorted keys.
fn write_row(columns: &mut ColumnCache, out: &mut Vec<u8>, row: &[u8]) -> Result<(), WireError> {
    columns.write_row(out, row, write_encoded_value)
}

/// Appends an encoded top-level `Value`. A short string is escaped straight
/// from its bytes, checked as UTF-8 while it is escaped (not once before),
/// and a number is formatted straight from its bits; anything else goes
/// through [`ValueRef`].
fn write_encoded_value(out: &mut Vec<u8>, value: &[u8]) -> Result<(), WireError> {
    if let Some(text) = short_string(value) {
        return write_text(out, text);
    }
    // `number_value` (field 2, fixed64) or `bool_value` (field 4) alone, as
    // every encoder writes them.
    if let [0x11, bits @ ..] = value
        && let Ok(bits) = <[u8; 8]>::try_from(bits)
    {
        write_go_float(out, f64::from_le_bytes(bits));
        return Ok(());
    }
    match value {
        [0x20, 0x01] => out.extend_from_slice(b"true"),
        [0x20, 0x00] => out.extend_from_slice(b"false"),
        _ => write_value(out, &ValueRef::parse(value)?, 0)?,
    }
    Ok(())
}

/// Appends an encoded `Struct` nested `depth` levels deep as a JSON object
/// with sorted keys.
fn write_object(out: &mut Vec<u8>, object: &[u8], depth: usize) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    with_members(object, |members| {
        let mut order = Vec::with_capacity(members.len());
        sorted_order(members, &mut order);
        out.push(b'{');
        for (i, &wire) in order.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let (name, value) = members[wire];
            write_string(out, utf8(name)?);
            out.push(b':');
            write_value(out, &ValueRef::parse(value)?, depth)?;
        }
        out.push(b'}');
        Ok(())
    })
}

/// Appends one value as JSON, as a row's values are written (nested
/// objects with sorted keys); the `parquet` format stores JSON this way.
pub fn write_json_value(out: &mut Vec<u8>, value: &ValueRef<'_>) -> Result<(), WireError> {
    write_value(out, value, 0)
}

fn write_value(out: &mut Vec<u8>, value: &ValueRef<'_>, depth: usize) -> Result<(), WireError> {
    match value {
        ValueRef::Null => out.extend_from_slice(b"null"),
        ValueRef::Number(n) => write_go_float(out, *n),
        ValueRef::String(s) => write_string(out, s),
        ValueRef::Bool(true) => out.extend_from_slice(b"true"),
        ValueRef::Bool(false) => out.extend_from_slice(b"false"),
        ValueRef::Struct(bytes) => write_object(out, bytes, depth + 1)?,
        ValueRef::List(bytes) => {
            if depth + 1 > MAX_DEPTH {
                return Err(WireError::TooDeep);
            }
            out.push(b'[');
            for (i, item) in list_items(bytes).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, &ValueRef::parse(item?)?, depth + 1)?;
            }
            out.push(b']');
        }
    }
    Ok(())
}

/// Non-blank lines of an object with their line numbers, as slices of it
/// (Go readers skip blank lines).
pub fn lines(object: &[u8]) -> impl Iterator<Item = (usize, &[u8])> + '_ {
    let mut pos = 0;
    let mut number = 0;
    std::iter::from_fn(move || {
        while pos < object.len() {
            number += 1;
            let end = memchr(b'\n', &object[pos..]).map_or(object.len(), |i| pos + i);
            let start = pos;
            pos = end + 1;
            let line = object[start..end].trim_ascii();
            if !line.is_empty() {
                return Some((number, line));
            }
        }
        None
    })
}

/// Calls `row` with the line number and row (a slice of `object`) of every
/// line of a JSONL snapshot.
pub fn snapshot_rows<'a>(
    object: &'a [u8],
    mut row: impl FnMut(usize, &'a [u8]) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    for (number, line) in lines(object) {
        check_length(number, line)?;
        if line.first() != Some(&b'{') {
            return Err(FormatError::at(number, "not a JSON object"));
        }
        row(number, line)?;
    }
    Ok(())
}

/// Splits an object into about `count` parts of whole lines, each with its
/// byte offset in the object (a rebuild reads the parts in parallel).
pub fn split_lines(object: &Bytes, count: usize) -> Vec<(usize, Bytes)> {
    let target = object.len().div_ceil(count.max(1)).max(1);
    let mut parts = Vec::with_capacity(count);
    let mut start = 0;
    while start < object.len() {
        let end = match object
            .get(start + target..)
            .and_then(|rest| memchr(b'\n', rest))
        {
            Some(newline) => start + target + newline + 1,
            None => object.len(),
        };
        parts.push((start, object.slice(start..end)));
        start = end;
    }
    parts
}

/// Calls `change` for every line of a JSONL diff.
pub fn decode_diff(
    object: &Bytes,
    mut change: impl FnMut(DiffRecord) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    for (number, line) in lines(object) {
        check_length(number, line)?;
        let record =
            parse_diff_line(&object.slice_ref(line)).map_err(|e| FormatError::at(number, e))?;
        change(record)?;
    }
    Ok(())
}

fn parse_diff_line(line: &Bytes) -> Result<DiffRecord, String> {
    let mut action = None;
    let mut key = String::new();
    let mut new = None;
    for field in ObjectScanner::new(line)? {
        let (name, value) = field?;
        match name {
            b"action" => {
                let text = unescape_string(value)?;
                action = Some(
                    Action::parse(&text).ok_or_else(|| format!("unknown diff action {text:?}"))?,
                );
            }
            b"key" => key = unescape_string(value)?.into_owned(),
            b"new" if value.first() == Some(&b'{') => {
                new = Some(StoredRow::Json(line.slice_ref(value)))
            }
            _ => {}
        }
    }
    let action = action.ok_or("diff line without \"action\"")?;
    if matches!(action, Action::Insert | Action::Update) && new.is_none() {
        return Err(format!("{} without \"new\"", action.as_str()));
    }
    Ok(DiffRecord { action, key, new })
}

#[cfg(test)]
mod tests;
