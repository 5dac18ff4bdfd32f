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
use crate::table::key::decimal_digits;
use crate::table::wire::{MAX_DEPTH, StructEntries, ValueRef, WireError, list_items};

/// Appends a row as one JSON object and a newline.
pub fn encode_snapshot_row(out: &mut Vec<u8>, row: &[u8]) -> Result<(), WireError> {
    write_object(out, row, 0)?;
    out.push(b'\n');
    Ok(())
}

/// Appends `{"action","key","old","new"}` and a newline; `old`/`new` are
/// omitted when absent or empty, as Go's `omitempty` does.
pub fn encode_diff_entry(out: &mut Vec<u8>, entry: &DiffEntry<'_>) -> Result<(), WireError> {
    out.extend_from_slice(b"{\"action\":\"");
    out.extend_from_slice(entry.action.as_str().as_bytes());
    out.extend_from_slice(b"\",\"key\":");
    write_string(out, entry.key);
    if let Some(old) = entry.old.filter(|row| !row.is_empty()) {
        out.extend_from_slice(b",\"old\":");
        write_object(out, old, 0)?;
    }
    if let Some(new) = entry.new.filter(|row| !row.is_empty()) {
        out.extend_from_slice(b",\"new\":");
        write_object(out, new, 0)?;
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// Entries of one object kept on the stack; wider objects spill to the heap.
const STACK_ENTRIES: usize = 32;

/// Appends an encoded `Struct` as a JSON object with sorted keys.
pub fn write_object(out: &mut Vec<u8>, row: &[u8], depth: usize) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    // Every snapshot row passes here: no allocation for a row of usual width.
    let mut stack: [(&str, &[u8]); STACK_ENTRIES] = [("", &[]); STACK_ENTRIES];
    let mut len = 0;
    let mut spilled: Vec<(&str, &[u8])> = Vec::new();
    for entry in StructEntries::new(row) {
        let entry = entry?;
        match stack.get_mut(len) {
            Some(slot) if spilled.is_empty() => {
                *slot = entry;
                len += 1;
            }
            _ => {
                if spilled.is_empty() {
                    spilled.extend_from_slice(&stack[..len]);
                }
                spilled.push(entry);
            }
        }
    }
    let entries = match spilled.is_empty() {
        true => &mut stack[..len],
        false => spilled.as_mut_slice(),
    };
    let mut count = entries.len();
    if !entries.is_sorted_by(|a, b| a.0 < b.0) {
        // Protobuf map semantics: the last duplicate wins. Reversing first
        // makes the stable sort keep it ahead of earlier ones.
        entries.reverse();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        count = dedup_names(entries);
    }
    out.push(b'{');
    for (i, (name, value)) in entries[..count].iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, name);
        out.push(b':');
        write_value(out, &ValueRef::parse(value)?, depth)?;
    }
    out.push(b'}');
    Ok(())
}

/// Moves the first of each run of equal names to the front; returns how
/// many are kept (`Vec::dedup_by` for a slice).
fn dedup_names(entries: &mut [(&str, &[u8])]) -> usize {
    let mut kept = 0;
    for i in 0..entries.len() {
        if kept == 0 || entries[kept - 1].0 != entries[i].0 {
            entries.swap(kept, i);
            kept += 1;
        }
    }
    kept
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

/// Byte classes for string escaping: 0 copy as is, 1 escape, 2 first byte of
/// a possible U+2028/U+2029.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = 1;
        b += 1;
    }
    table[b'"' as usize] = 1;
    table[b'\\' as usize] = 1;
    table[b'<' as usize] = 1;
    table[b'>' as usize] = 1;
    table[b'&' as usize] = 1;
    table[0xE2] = 2;
    table
};

/// Appends a JSON string escaped as Go's `encoding/json` does (HTML-safe).
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match ESCAPE[b as usize] {
            0 => {
                i += 1;
                continue;
            }
            2 => {
                // U+2028 and U+2029 are E2 80 A8 / E2 80 A9.
                if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9))
                {
                    out.extend_from_slice(&bytes[start..i]);
                    out.extend_from_slice(if bytes[i + 2] == 0xA8 {
                        b"\\u2028"
                    } else {
                        b"\\u2029"
                    });
                    i += 3;
                    start = i;
                } else {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xF) as usize]);
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a float64 as Go's `encoding/json` formats it: `'f'` with the
/// shortest round-trip digits, or `'e'` when the magnitude is below 1e-6 or
/// at least 1e21, with `e-07` shortened to `e-7`.
///
/// The shortest digits come from `ryu` (the same digits as Go's
/// `strconv`), whose own layout differs from Go's (`1e16`, `1.0`), so only
/// its digits and exponent are used and the layout is Go's.
pub fn write_go_float(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let abs = v.abs();
    if v.fract() == 0.0 && abs < 1e15 {
        if v == 0.0 && v.is_sign_negative() {
            out.extend_from_slice(b"-0");
        } else {
            push_i64(out, v as i64);
        }
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let (digits, exponent) = shortest_digits(buffer.format_finite(abs));
    if v < 0.0 {
        out.push(b'-');
    }
    let digits = digits.as_slice();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        out.extend_from_slice(decimal_digits(
            u64::from(exponent.unsigned_abs()),
            &mut [0u8; 20],
        ));
        return;
    }
    if exponent < 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-exponent - 1) as usize));
        out.extend_from_slice(digits);
        return;
    }
    let integer = exponent as usize + 1;
    if digits.len() <= integer {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', integer - digits.len()));
    } else {
        out.extend_from_slice(&digits[..integer]);
        out.push(b'.');
        out.extend_from_slice(&digits[integer..]);
    }
}

/// Significant digits (no leading or trailing zeros) of a positive number
/// as `ryu` prints it (`123.45`, `0.00123`, `1e-7`, `1.5e30`, `1e16`), and
/// the decimal exponent of the first one (`123.45` → `12345`, 2).
fn shortest_digits(text: &str) -> (Digits, i32) {
    let (mantissa, exponent) = match text.split_once('e') {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let integer_len = mantissa.find('.').unwrap_or(mantissa.len());
    let mut digits = Digits::default();
    let mut leading_zeros = 0;
    for byte in mantissa.bytes().filter(u8::is_ascii_digit) {
        if byte == b'0' && digits.len == 0 {
            leading_zeros += 1;
        } else {
            digits.push(byte);
        }
    }
    while digits.len > 1 && digits.bytes[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    (digits, exponent + integer_len as i32 - 1 - leading_zeros)
}

/// The significant digits of a float64 (at most 17).
#[derive(Default)]
struct Digits {
    bytes: [u8; 32],
    len: usize,
}

impl Digits {
    fn push(&mut self, digit: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = digit;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self.len {
            0 => b"0",
            len => &self.bytes[..len],
        }
    }
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(decimal_digits(v.unsigned_abs(), &mut [0u8; 20]));
}

/// Non-blank lines of an object, as slices of it (Go readers skip blank lines).
pub fn lines(object: &Bytes) -> impl Iterator<Item = (usize, Bytes)> + '_ {
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
                return Some((number, object.slice_ref(line)));
            }
        }
        None
    })
}

/// Calls `row` for every line of a JSONL snapshot.
pub fn decode_snapshot(
    object: &Bytes,
    mut row: impl FnMut(StoredRow) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    for (number, line) in lines(object) {
        if line.first() != Some(&b'{') {
            return Err(FormatError::at(number, "not a JSON object"));
        }
        row(StoredRow::Json(line))?;
    }
    Ok(())
}

/// Calls `change` for every line of a JSONL diff.
pub fn decode_diff(
    object: &Bytes,
    mut change: impl FnMut(DiffRecord) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    for (number, line) in lines(object) {
        let record = parse_diff_line(&line).map_err(|e| FormatError::at(number, e))?;
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
