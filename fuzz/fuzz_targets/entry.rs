//! `SyncResponse` frames as the session receives them: each through
//! `source::decode_response` (the direct journal-entry decoder, prost for
//! the rest), then every message the replica consumes applied to a
//! `Replica` (journal entries' actions and `Struct` rows, snapshot rows,
//! handshake columns), as the table task does.
//!
//! Input: frames one after another, each preceded by its length as one
//! little-endian `u16`; a short last frame takes what is left.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use snapshot_writer::source::{Batch, Cursor, Event, Replica, ServerMessage, decode_response};
use snapshot_writer::table::{KeySpec, Table};

fuzz_target!(|data: &[u8]| {
    let key = if data.first().is_some_and(|b| b & 1 == 1) {
        KeySpec::new(vec!["id".to_owned(), "k".to_owned()])
    } else {
        KeySpec::default()
    };
    let mut replica = Replica::new(Table::new(key), Cursor::default());
    let mut rest = data.get(1..).unwrap_or_default();
    let mut events = Vec::new();
    while !rest.is_empty() {
        let len = match rest {
            [lo, hi, ..] => usize::from(u16::from_le_bytes([*lo, *hi])),
            _ => 0,
        };
        let body = rest.get(2..).unwrap_or_default();
        let (frame, later) = body.split_at(len.min(body.len()));
        rest = later;
        let message = match decode_response(Bytes::copy_from_slice(frame)) {
            Ok(Some(message)) => message,
            Ok(None) => continue,
            Err(error) => {
                let _ = error.to_string();
                continue;
            }
        };
        let _ = format!("{message:?}");
        events.push(match message {
            ServerMessage::Handshake(handshake) => Event::Handshake(handshake),
            ServerMessage::SnapshotBegin(begin) => Event::SnapshotBegin(begin),
            ServerMessage::SnapshotRow(row) => Event::SnapshotRow(row),
            ServerMessage::SnapshotEnd(end) => Event::SnapshotEnd(end),
            ServerMessage::JournalEntry(entry) => {
                // prost's form of it is what the simulator sends back.
                let _ = entry.to_raw();
                Event::Entry(entry)
            }
            ServerMessage::Heartbeat(heartbeat) => Event::Heartbeat(heartbeat),
            ServerMessage::SchemaChange(_) | ServerMessage::GoAway(_) => Event::StreamEnded,
        });
    }
    replica.apply(Batch::from_events(events), &mut |update| {
        let _ = format!("{update:?}");
    });
    let _ = replica.table().len();
});
