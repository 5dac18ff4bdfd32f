//! A zero-copy reader of the protobuf encoding of `google.protobuf.Struct`,
//! `Value` and `ListValue`, and the few encoders rows need.
//!
//! prost decodes a whole `Struct` into a `BTreeMap<String, Value>`, which costs
//! about five times the row's size in allocations, on every change the
//! writer ingests. Rows here stay encoded; this reader walks the bytes to find
//! the key columns and to transcode rows into artifacts. No crate offers lazy access to well-known
//! types, so it is written here, with every length checked against the buffer.

use std::fmt;

use crate::fields::{FIXED64, LEN};
use crate::{Field, Fields, WireError, is_utf8, utf8, varint_len, write_bytes_field, write_varint};

/// Iterates the `(name, encoded Value)` entries of an encoded `Struct`, in wire
/// order. A name may repeat; protobuf map semantics make the last one win.
#[derive(Debug, Clone)]
pub struct StructEntries<'a> {
    raw: RawStructEntries<'a>,
}

impl<'a> StructEntries<'a> {
    /// Entries of the `Struct` encoded in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            raw: RawStructEntries::new(buf),
        }
    }
}

impl<'a> Iterator for StructEntries<'a> {
    type Item = Result<(&'a str, &'a [u8]), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.raw
                .next()?
                .and_then(|(name, value)| Ok((utf8(name)?, value))),
        )
    }
}

/// [`StructEntries`] with names left as bytes, unchecked, for the ingest hot
/// path, which compares names as bytes and checks only those it keeps.
#[derive(Debug, Clone)]
pub struct RawStructEntries<'a> {
    fields: Fields<'a>,
}

impl<'a> RawStructEntries<'a> {
    /// Entries of the `Struct` encoded in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            fields: Fields::new(buf),
        }
    }
}

impl<'a> Iterator for RawStructEntries<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (buf, pos) = (self.fields.buf, self.fields.pos);
        // What every encoder writes: field 1, length-delimited, one-byte length.
        if let Some([0x0a, len, rest @ ..]) = buf.get(pos..)
            && *len < 0x80
            && let Some(entry) = rest.get(..usize::from(*len))
        {
            self.fields.pos = pos + 2 + entry.len();
            return Some(parse_entry(entry));
        }
        self.next_framed()
    }
}

impl RawStructEntries<'_> {
    /// [`Iterator::next`] for any framing. Kept out of line so `next` stays
    /// small enough to inline: returning an entry through memory from a
    /// call cost the JSONL encoder a store-forwarding stall per column.
    #[inline(never)]
    fn next_framed(&mut self) -> Option<<Self as Iterator>::Item> {
        loop {
            match self.fields.next()? {
                Err(e) => return Some(Err(e)),
                Ok(Field::Bytes(1, entry)) => return Some(parse_entry(entry)),
                Ok(_) => continue, // unknown fields are skipped, as protobuf requires
            }
        }
    }
}

/// The text of an encoded `Value` in the one-field `string_value` encoding
/// every encoder writes for a short string (tag, one-byte length, text), not
/// yet checked as UTF-8; `None` for any other encoding.
#[inline]
pub fn short_string(buf: &[u8]) -> Option<&[u8]> {
    match buf {
        [0x1a, len, text @ ..] if *len < 0x80 && text.len() == usize::from(*len) => Some(text),
        _ => None,
    }
}

/// Checks an encoded `Value` without decoding it: its fields are well
/// framed and a string is UTF-8 (nested structs and lists are checked when
/// they are read).
#[inline]
pub fn check_value(buf: &[u8]) -> Result<(), WireError> {
    if let Some(text) = short_string(buf) {
        return if is_utf8(text) {
            Ok(())
        } else {
            Err(WireError::Utf8)
        };
    }
    match buf {
        [0x11, bits @ ..] if bits.len() == 8 => Ok(()),
        [0x20, flag] | [0x08, flag] if *flag < 0x80 => Ok(()),
        _ => ValueRef::parse(buf).map(|_| ()),
    }
}

#[inline]
fn parse_entry(entry: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    // What every encoder writes: name (field 1) then value (field 2), with
    // one-byte lengths, filling the entry exactly.
    if let [0x0a, name_len, rest @ ..] = entry
        && *name_len < 0x80
        && let Some((name, [0x12, value_len, value @ ..])) =
            rest.split_at_checked(usize::from(*name_len))
        && *value_len < 0x80
        && value.len() == usize::from(*value_len)
    {
        return Ok((name, value));
    }
    parse_entry_slow(entry)
}

#[inline(never)]
fn parse_entry_slow(entry: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let mut name: &[u8] = &[];
    let mut value: &[u8] = &[];
    for field in Fields::new(entry) {
        match field? {
            Field::Bytes(1, bytes) => name = bytes,
            Field::Bytes(2, bytes) => value = bytes,
            _ => {}
        }
    }
    Ok((name, value))
}

/// A decoded `google.protobuf.Value` whose nested structs and lists stay encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// `null_value`, or a Value with no kind set.
    Null,
    /// `number_value`.
    Number(f64),
    /// `string_value`.
    String(&'a str),
    /// `bool_value`.
    Bool(bool),
    /// `struct_value`, still encoded.
    Struct(&'a [u8]),
    /// `list_value`, still encoded.
    List(&'a [u8]),
}

impl<'a> ValueRef<'a> {
    /// Decodes an encoded `Value`. The last kind field on the wire wins, as for
    /// any protobuf oneof.
    ///
    /// Inlined, with any other framing out of line: returned through memory
    /// from a call, the value was reloaded by a caller converting every
    /// value of a row (the Parquet encoder), and that reload was the
    /// hottest instruction of its row loop.
    #[inline]
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        // The one-field encodings every encoder writes for scalars.
        if let Some(text) = short_string(buf) {
            return utf8(text).map(ValueRef::String);
        }
        match buf {
            [0x11, bits @ ..] if bits.len() == 8 => {
                let mut le = [0; 8];
                le.copy_from_slice(bits);
                return Ok(ValueRef::Number(f64::from_bits(u64::from_le_bytes(le))));
            }
            [0x20, flag] if *flag < 0x80 => return Ok(ValueRef::Bool(*flag != 0)),
            [0x08, null] if *null < 0x80 => return Ok(ValueRef::Null),
            _ => {}
        }
        Self::parse_framed(buf)
    }

    /// [`parse`](Self::parse) for any framing.
    #[inline(never)]
    fn parse_framed(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut value = ValueRef::Null;
        for field in Fields::new(buf) {
            value = match field? {
                Field::Varint(1, _) => ValueRef::Null,
                Field::Fixed64(2, bits) => ValueRef::Number(f64::from_bits(bits)),
                Field::Bytes(3, bytes) => {
                    ValueRef::String(std::str::from_utf8(bytes).map_err(|_| WireError::Utf8)?)
                }
                Field::Varint(4, flag) => ValueRef::Bool(flag != 0),
                Field::Bytes(5, bytes) => ValueRef::Struct(bytes),
                Field::Bytes(6, bytes) => ValueRef::List(bytes),
                _ => continue,
            };
        }
        Ok(value)
    }
}

/// Iterates the encoded `Value`s of an encoded `ListValue`.
pub fn list_items(buf: &[u8]) -> impl Iterator<Item = Result<&[u8], WireError>> {
    Fields::new(buf).filter_map(|field| match field {
        Err(e) => Some(Err(e)),
        Ok(Field::Bytes(1, item)) => Some(Ok(item)),
        Ok(_) => None,
    })
}

/// Appends one `Struct` entry (`fields` map entry) with an already encoded value.
pub fn write_struct_entry(out: &mut Vec<u8>, name: &str, encoded_value: &[u8]) {
    let name_len = name.len() as u64;
    let inner = 1
        + varint_len(name_len)
        + name.len()
        + 1
        + varint_len(encoded_value.len() as u64)
        + encoded_value.len();
    write_varint(out, (1 << 3) | u64::from(LEN));
    write_varint(out, inner as u64);
    write_bytes_field(out, 1, name.as_bytes());
    write_bytes_field(out, 2, encoded_value);
}

/// Encodes a `Struct` of these fields, in this order (a row for tests,
/// benches and the simulator's generator).
pub fn encode_struct(fields: &[(&str, ValueRef<'_>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        write_struct_entry(&mut out, name, &encode_scalar(value));
    }
    out
}

/// Encodes a scalar `Value`.
pub fn encode_scalar(value: &ValueRef<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    write_scalar(&mut out, value);
    out
}

/// Appends an encoded `Value` to `out` (as [`encode_scalar`], without a
/// buffer of its own, for callers encoding many).
pub fn write_scalar(out: &mut Vec<u8>, value: &ValueRef<'_>) {
    match value {
        ValueRef::Null => out.extend_from_slice(&[1 << 3, 0]),
        ValueRef::Number(n) => {
            out.push((2 << 3) | FIXED64);
            out.extend_from_slice(&n.to_bits().to_le_bytes());
        }
        ValueRef::String(s) => write_bytes_field(out, 3, s.as_bytes()),
        ValueRef::Bool(b) => out.extend_from_slice(&[4 << 3, u8::from(*b)]),
        ValueRef::Struct(bytes) => write_bytes_field(out, 5, bytes),
        ValueRef::List(bytes) => write_bytes_field(out, 6, bytes),
    }
}

/// The value of column `name` in an encoded `Struct`, if present (last wins).
pub fn find_field<'a>(row: &'a [u8], name: &str) -> Result<Option<ValueRef<'a>>, WireError> {
    let mut found = None;
    for entry in StructEntries::new(row) {
        let (field, encoded) = entry?;
        if field == name {
            found = Some(encoded);
        }
    }
    found.map(ValueRef::parse).transpose()
}

/// Shows an encoded `Struct` as a map of its values (`{"id": Number(1.0)}`),
/// `"<invalid>"` from the first entry that does not read: the `Debug` of
/// a row.
#[derive(Clone, Copy)]
pub struct DebugStruct<'a>(pub &'a [u8]);

impl fmt::Debug for DebugStruct<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for entry in StructEntries::new(self.0) {
            match entry.and_then(|(k, v)| Ok((k, ValueRef::parse(v)?))) {
                Ok((name, value)) => map.entry(&name, &value),
                Err(e) => map.entry(&"<invalid>", &e),
            };
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests;
