//! The fields of an encoded protobuf message, read without decoding it.

use crate::{WireError, read_varint, write_varint};

/// Protobuf wire types.
pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const FIXED32: u8 = 5;

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
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
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

/// Appends a length-delimited field.
pub fn write_bytes_field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    write_varint(out, (u64::from(number) << 3) | u64::from(LEN));
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The bytes as text, if they are UTF-8. Inlined, as
/// [`ValueRef::parse`](crate::ValueRef::parse) is: a result returned
/// through memory is reloaded by the caller.
#[inline]
pub fn utf8(bytes: &[u8]) -> Result<&str, WireError> {
    std::str::from_utf8(bytes).map_err(|_| WireError::Utf8)
}

/// Whether bytes are UTF-8, quickly for ASCII.
#[inline]
pub fn is_utf8(bytes: &[u8]) -> bool {
    bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()
}
