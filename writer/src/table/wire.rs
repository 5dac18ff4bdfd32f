//! A zero-copy reader of the protobuf encoding of `google.protobuf.Struct`,
//! `Value` and `ListValue`, and the few encoders the writer needs.
//!
//! prost decodes a whole `Struct` into a `BTreeMap<String, Value>`, which costs
//! about five times the row's size in allocations and is what limits ingest to
//! ~240k rows/s (DESIGN.md). Rows here stay encoded; this reader walks the
//! bytes to find the key columns and to transcode rows into artifacts. No crate
//! offers lazy access to well-known types, so it is written here, with every
//! length checked against the buffer.

use std::fmt;

mod prefix;
pub use prefix::Prefix16;

/// Why bytes are not a valid encoded `Struct`/`Value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The buffer ends inside a field.
    #[error("truncated protobuf: {0}")]
    Truncated(&'static str),
    /// A wire type that Struct/Value never use, or an unknown one.
    #[error("unsupported protobuf wire type {0}")]
    WireType(u8),
    /// A varint longer than 10 bytes.
    #[error("malformed varint")]
    Varint,
    /// A string field that is not UTF-8.
    #[error("string field is not valid UTF-8")]
    Utf8,
    /// A nesting deeper than [`MAX_DEPTH`].
    #[error("values nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Deepest nesting of structs and lists accepted, so hostile input cannot
/// exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// Reads a varint at `*pos`, advancing it.
#[inline]
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    // Tags and lengths of row fields almost always fit one byte.
    match buf.get(*pos) {
        Some(&byte) if byte < 0x80 => {
            *pos += 1;
            Ok(u64::from(byte))
        }
        _ => read_varint_slow(buf, pos),
    }
}

fn read_varint_slow(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let mut value: u64 = 0;
    for shift in (0..70).step_by(7) {
        let byte = *buf.get(*pos).ok_or(WireError::Truncated("varint"))?;
        *pos += 1;
        if shift == 63 && byte > 1 {
            return Err(WireError::Varint);
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError::Varint)
}

/// One field of a message: its number and its payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    /// A varint field.
    Varint(u32, u64),
    /// A 64-bit fixed field.
    Fixed64(u32, u64),
    /// A length-delimited field.
    Bytes(u32, &'a [u8]),
    /// A 32-bit fixed field.
    Fixed32(u32, u32),
}

/// Iterates the fields of one encoded message.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    /// Fields of the message encoded in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn next_field(&mut self) -> Result<Field<'a>, WireError> {
        let tag = read_varint(self.buf, &mut self.pos)?;
        let number = u32::try_from(tag >> 3).map_err(|_| WireError::Varint)?;
        let wire_type = (tag & 7) as u8;
        Ok(match wire_type {
            VARINT => Field::Varint(number, read_varint(self.buf, &mut self.pos)?),
            FIXED64 => {
                let bytes = self.take(8, "fixed64")?;
                Field::Fixed64(
                    number,
                    u64::from_le_bytes(
                        bytes
                            .try_into()
                            .map_err(|_| WireError::Truncated("fixed64"))?,
                    ),
                )
            }
            LEN => {
                let len = read_varint(self.buf, &mut self.pos)?;
                let len = usize::try_from(len).map_err(|_| WireError::Truncated("length"))?;
                Field::Bytes(number, self.take(len, "length-delimited field")?)
            }
            FIXED32 => {
                let bytes = self.take(4, "fixed32")?;
                Field::Fixed32(
                    number,
                    u32::from_le_bytes(
                        bytes
                            .try_into()
                            .map_err(|_| WireError::Truncated("fixed32"))?,
                    ),
                )
            }
            other => return Err(WireError::WireType(other)),
        })
    }

    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.buf.len());
        let end = end.ok_or(WireError::Truncated(what))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let item = self.next_field();
        if item.is_err() {
            self.pos = self.buf.len();
        }
        Some(item)
    }
}

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

/// The bytes as text, if they are UTF-8.
pub fn utf8(bytes: &[u8]) -> Result<&str, WireError> {
    std::str::from_utf8(bytes).map_err(|_| WireError::Utf8)
}

/// Whether bytes are UTF-8, quickly for ASCII.
#[inline]
pub fn is_utf8(bytes: &[u8]) -> bool {
    bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()
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

/// Appends `value` as a protobuf varint.
pub fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a length-delimited field.
pub fn write_bytes_field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    write_varint(out, (u64::from(number) << 3) | u64::from(LEN));
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
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

/// Encodes a scalar `Value`.
pub fn encode_scalar(value: &ValueRef<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    match value {
        ValueRef::Null => out.extend_from_slice(&[1 << 3, 0]),
        ValueRef::Number(n) => {
            out.push((2 << 3) | FIXED64);
            out.extend_from_slice(&n.to_bits().to_le_bytes());
        }
        ValueRef::String(s) => write_bytes_field(&mut out, 3, s.as_bytes()),
        ValueRef::Bool(b) => out.extend_from_slice(&[4 << 3, u8::from(*b)]),
        ValueRef::Struct(bytes) => write_bytes_field(&mut out, 5, bytes),
        ValueRef::List(bytes) => write_bytes_field(&mut out, 6, bytes),
    }
    out
}

/// Bytes a varint of `value` takes.
pub fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

impl fmt::Display for ValueRef<'_> {
    /// Formats like Go's `%v` of the value `structpb.AsMap` produces; see
    /// [`crate::table::key`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::key::write_go_value(f, self)
    }
}

#[cfg(test)]
mod tests;
