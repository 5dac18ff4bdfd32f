//! Decoding one `SyncResponse` frame. Journal entries, nearly every frame
//! of a live stream, take a direct path; every other frame, and any entry
//! that path does not recognise, is decoded by prost.
//!
//! Why hand-written: prost's generic decoder spends ~1,300 instructions on
//! a journal entry (a dispatch and a `Buf` call per field, a submessage
//! merge loop for the timestamp), about a fifth of the ingest budget
//! (BENCHMARKS.md, "Ingest"). The direct path reads the frame's bytes and
//! produces exactly what prost would (a [`JournalEntry`] holding the
//! frame), because it accepts only the simplest
//! shape: one `journal_entry` filling the frame, each of its fields at most
//! once with its declared wire type, nothing else. Any other frame, valid
//! or not, goes to prost, so merge rules and error messages stay prost's.
//! A property test (`tests` below) holds the two equal on random and
//! damaged frames.

use bytes::Bytes;
use laredo_proto::replication::raw::v1::RawSyncResponse;
use laredo_proto::replication::raw::v1::raw_sync_response::Message;
use laredo_proto::replication::v1::{
    GoAway, Heartbeat, SchemaChangeNotification, SnapshotBegin, SnapshotEnd, SyncHandshake,
};
use laredo_wire::read_varint;
use prost::Message as _;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use super::entry::{EntryFields, JournalEntry, Span};

/// One message of the `Sync` stream: prost's `SyncResponse.message` with
/// journal entries kept in the frame they arrived in ([`JournalEntry`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// The stream's first message.
    Handshake(SyncHandshake),
    /// A full snapshot starts.
    SnapshotBegin(SnapshotBegin),
    /// One snapshot row: an encoded `google.protobuf.Struct`.
    SnapshotRow(Bytes),
    /// The snapshot is complete.
    SnapshotEnd(SnapshotEnd),
    /// One change.
    JournalEntry(JournalEntry),
    /// A schema change (laredo-server never sends it).
    SchemaChange(SchemaChangeNotification),
    /// The server is idle and alive.
    Heartbeat(Heartbeat),
    /// The server is going away: reconnect elsewhere.
    GoAway(GoAway),
}

impl From<Message> for ServerMessage {
    fn from(message: Message) -> Self {
        match message {
            Message::Handshake(handshake) => Self::Handshake(handshake),
            Message::SnapshotBegin(begin) => Self::SnapshotBegin(begin),
            Message::SnapshotRow(row) => Self::SnapshotRow(row.row),
            Message::SnapshotEnd(end) => Self::SnapshotEnd(end),
            Message::JournalEntry(entry) => Self::JournalEntry(entry.into()),
            Message::SchemaChange(change) => Self::SchemaChange(change),
            Message::Heartbeat(heartbeat) => Self::Heartbeat(heartbeat),
            Message::GoAway(go_away) => Self::GoAway(go_away),
        }
    }
}

/// Decodes one `SyncResponse` frame (the whole payload of an envelope);
/// `Ok(None)` when it sets no message this client knows.
pub fn decode_response(frame: Bytes) -> Result<Option<ServerMessage>, prost::DecodeError> {
    if let Some(fields) = journal_entry(&frame) {
        return Ok(Some(ServerMessage::JournalEntry(JournalEntry::in_frame(
            frame, fields,
        ))));
    }
    Ok(RawSyncResponse::decode(frame)?
        .message
        .map(ServerMessage::from))
}

/// Tag of `SyncResponse.journal_entry` (field 5, length-delimited).
const JOURNAL_ENTRY: u8 = 5 << 3 | 2;

/// The fields of the journal entry a frame holds, when the frame is
/// nothing but one `journal_entry` whose fields each appear at most once;
/// `None` for any other frame (prost decodes it).
fn journal_entry(buf: &[u8]) -> Option<EntryFields> {
    if *buf.first()? != JOURNAL_ENTRY {
        return None;
    }
    let mut pos = 1;
    let len = read_len(buf, &mut pos)?;
    if pos.checked_add(len)? != buf.len() {
        return None;
    }
    let mut entry = EntryFields::default();
    let mut seen = 0u8;
    while pos < buf.len() {
        let tag = buf[pos];
        pos += 1;
        // One-byte tags of fields 1-6; a repeat would merge (prost's job).
        let field = tag >> 3;
        if !(1..=6).contains(&field) || seen & (1 << field) != 0 {
            return None;
        }
        seen |= 1 << field;
        if tag == 1 << 3 {
            entry.sequence = read_varint(buf, &mut pos).ok()? as i64;
            continue;
        }
        if tag & 7 != 2 {
            return None;
        }
        let len = read_len(buf, &mut pos)?;
        let end = pos.checked_add(len).filter(|end| *end <= buf.len())?;
        let span = Span { start: pos, end };
        match field {
            2 => entry.source_position = span,
            3 => entry.timestamp = Some(timestamp(&buf[pos..end])?),
            4 => entry.action = span,
            5 => entry.old_values = Some(span),
            6 => entry.new_values = Some(span),
            _ => return None, // field 1 is a varint
        }
        pos = end;
    }
    Some(entry)
}

/// A `google.protobuf.Timestamp` whose two fields appear at most once each.
fn timestamp(buf: &[u8]) -> Option<prost_types::Timestamp> {
    let mut timestamp = prost_types::Timestamp::default();
    let mut seen = 0u8;
    let mut pos = 0;
    while pos < buf.len() {
        let tag = buf[pos];
        pos += 1;
        if !matches!(tag, 0x08 | 0x10) || seen & tag != 0 {
            return None;
        }
        seen |= tag;
        let value = read_varint(buf, &mut pos).ok()?;
        // prost's int64 and int32 decoding: the varint's low bits.
        match tag {
            0x08 => timestamp.seconds = value as i64,
            _ => timestamp.nanos = value as i32,
        }
    }
    Some(timestamp)
}

/// A length prefix that fits in memory.
#[inline]
fn read_len(buf: &[u8], pos: &mut usize) -> Option<usize> {
    usize::try_from(read_varint(buf, pos).ok()?).ok()
}

/// The gRPC codec of the `Sync` call: requests encoded by prost, responses
/// decoded by [`decode_response`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SyncCodec;

/// The response half of [`SyncCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ResponseDecoder;

impl Codec for SyncCodec {
    type Encode = laredo_proto::replication::v1::SyncRequest;
    type Decode = Option<ServerMessage>;
    type Encoder = ProstEncoder<Self::Encode>;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ResponseDecoder
    }
}

impl Decoder for ResponseDecoder {
    type Item = Option<ServerMessage>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        use bytes::Buf as _;
        // Splits the received buffer: no copy.
        let frame = buf.copy_to_bytes(buf.remaining());
        // As tonic-prost's decoder: a parse error is INTERNAL.
        decode_response(frame)
            .map(Some)
            .map_err(|error| Status::internal(error.to_string()))
    }
}

#[cfg(test)]
mod tests;
