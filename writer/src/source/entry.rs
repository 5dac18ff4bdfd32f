//! [`JournalEntry`]: one change as received, its fields left in the frame
//! they arrived in.
//!
//! Why not prost's `RawJournalEntry`: its four `Bytes` fields each count a
//! reference on the frame when decoded and again when dropped, eight atomic
//! operations per change on the ingest path (BENCHMARKS.md, "Ingest"). Here
//! the frame is counted once and the fields are spans of it.

use bytes::{Bytes, BytesMut};
use laredo_proto::replication::raw::v1::RawJournalEntry;

/// Where a field's bytes lie in the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// One journal entry: a change of one row (or a truncate), in server order.
#[derive(Clone)]
pub struct JournalEntry {
    frame: Bytes,
    fields: EntryFields,
}

/// The fields of a [`JournalEntry`]: its numbers, and where its bytes lie
/// in the frame.
#[derive(Debug, Clone, Default)]
pub(super) struct EntryFields {
    pub sequence: i64,
    pub timestamp: Option<prost_types::Timestamp>,
    pub source_position: Span,
    pub action: Span,
    pub old_values: Option<Span>,
    pub new_values: Option<Span>,
}

impl JournalEntry {
    /// The entry whose fields lie at `spans` in `frame`. Every span must be
    /// within the frame (the decoder checked them).
    pub(super) fn in_frame(frame: Bytes, fields: EntryFields) -> Self {
        Self { frame, fields }
    }

    /// The entry's position in the server's journal.
    pub fn sequence(&self) -> i64 {
        self.fields.sequence
    }

    /// When the change was committed at the source, if the server said.
    pub fn timestamp(&self) -> Option<&prost_types::Timestamp> {
        self.fields.timestamp.as_ref()
    }

    /// The source's position of the change (a PostgreSQL LSN as text; may
    /// be empty or repeat, §1.5 of the protocol notes). Bytes as received:
    /// the session checks they are UTF-8.
    pub fn source_position(&self) -> &[u8] {
        self.bytes(self.fields.source_position)
    }

    /// `INSERT`, `UPDATE`, `DELETE` or `TRUNCATE`, as received.
    pub fn action(&self) -> &[u8] {
        self.bytes(self.fields.action)
    }

    /// The full row before the change (UPDATE, DELETE), an encoded `Struct`.
    pub fn old_values(&self) -> Option<&[u8]> {
        self.fields.old_values.map(|span| self.bytes(span))
    }

    /// The row after the change (INSERT, UPDATE), an encoded `Struct`.
    pub fn new_values(&self) -> Option<&[u8]> {
        self.fields.new_values.map(|span| self.bytes(span))
    }

    #[inline]
    fn bytes(&self, span: Span) -> &[u8] {
        // Spans are checked when the entry is made; the fallback is never taken.
        self.frame.get(span.start..span.end).unwrap_or_default()
    }

    /// The entry as prost's message (e.g. to send it again).
    pub fn to_raw(&self) -> RawJournalEntry {
        let slice = |span: Span| self.frame.slice(span.start..span.end);
        RawJournalEntry {
            sequence: self.fields.sequence,
            source_position: slice(self.fields.source_position),
            timestamp: self.fields.timestamp,
            action: slice(self.fields.action),
            old_values: self.fields.old_values.map(slice),
            new_values: self.fields.new_values.map(slice),
        }
    }
}

/// An entry decoded by prost (frames the direct decoder leaves to it) or
/// built by hand: its fields are copied into one new frame.
impl From<RawJournalEntry> for JournalEntry {
    fn from(raw: RawJournalEntry) -> Self {
        let mut frame = BytesMut::new();
        let mut append = |bytes: &[u8]| {
            let start = frame.len();
            frame.extend_from_slice(bytes);
            Span {
                start,
                end: frame.len(),
            }
        };
        let spans = EntryFields {
            sequence: raw.sequence,
            timestamp: raw.timestamp,
            source_position: append(&raw.source_position),
            action: append(&raw.action),
            old_values: raw.old_values.as_deref().map(&mut append),
            new_values: raw.new_values.as_deref().map(&mut append),
        };
        Self::in_frame(frame.freeze(), spans)
    }
}

/// Entries are equal when their fields are, wherever they lie.
impl PartialEq for JournalEntry {
    fn eq(&self, other: &Self) -> bool {
        self.fields.sequence == other.fields.sequence
            && self.fields.timestamp == other.fields.timestamp
            && self.source_position() == other.source_position()
            && self.action() == other.action()
            && self.old_values() == other.old_values()
            && self.new_values() == other.new_values()
    }
}

impl std::fmt::Debug for JournalEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalEntry")
            .field("sequence", &self.fields.sequence)
            .field("timestamp", &self.fields.timestamp)
            .field(
                "source_position",
                &Bytes::copy_from_slice(self.source_position()),
            )
            .field("action", &Bytes::copy_from_slice(self.action()))
            .field("old_values", &self.old_values().map(Bytes::copy_from_slice))
            .field("new_values", &self.new_values().map(Bytes::copy_from_slice))
            .finish()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An UPDATE as laredo-server sends one, with an empty new row (which
    /// is not a missing one).
    pub(in crate::source) fn update_entry() -> RawJournalEntry {
        RawJournalEntry {
            sequence: 1_234_567,
            source_position: Bytes::from_static(b"0/16B3748"),
            timestamp: Some(prost_types::Timestamp {
                seconds: 1_767_225_600,
                nanos: 250_000_000,
            }),
            action: Bytes::from_static(b"UPDATE"),
            old_values: Some(Bytes::from_static(b"\x0a\x04\x0a\x02id")),
            new_values: Some(Bytes::new()),
        }
    }

    #[test]
    fn an_entry_from_prost_reads_back_its_fields() {
        let raw = update_entry();
        let entry = JournalEntry::from(raw.clone());
        assert_eq!(entry.sequence(), 1_234_567);
        assert_eq!(entry.source_position(), b"0/16B3748");
        assert_eq!(entry.action(), b"UPDATE");
        assert_eq!(entry.old_values(), Some(&b"\x0a\x04\x0a\x02id"[..]));
        assert_eq!(entry.new_values(), Some(&b""[..]));
        assert_eq!(entry.to_raw(), raw);
        let missing = JournalEntry::from(RawJournalEntry {
            new_values: None,
            ..raw
        });
        assert_eq!(missing.new_values(), None);
    }
}
