use super::*;
use laredo_wire::{write_bytes_field, write_varint};
use proptest::prelude::*;

/// One field of a journal entry as it may appear on the wire: each known
/// field with its own wire type, and what a peer might send instead.
#[derive(Debug, Clone)]
enum Field {
    Sequence(u64),
    Len(u8, Vec<u8>),
    Timestamp(Vec<(u8, u64)>),
    Unknown(u8, Vec<u8>),
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        any::<u64>().prop_map(Field::Sequence),
        (2u8..=6, proptest::collection::vec(any::<u8>(), 0..12))
            .prop_map(|(number, bytes)| Field::Len(number, bytes)),
        proptest::collection::vec(
            (prop_oneof![Just(1u8), Just(2), Just(3)], any::<u64>()),
            0..3
        )
        .prop_map(Field::Timestamp),
        // A wrong wire type for a known field, or an unknown field.
        (0u8..=255, proptest::collection::vec(any::<u8>(), 0..4))
            .prop_map(|(tag, bytes)| Field::Unknown(tag, bytes)),
    ]
}

fn encode_field(out: &mut Vec<u8>, field: &Field) {
    match field {
        Field::Sequence(value) => {
            out.push(0x08);
            write_varint(out, *value);
        }
        Field::Len(number, bytes) => write_bytes_field(out, u32::from(*number), bytes),
        Field::Timestamp(fields) => {
            let mut inner = Vec::new();
            for (number, value) in fields {
                inner.push(number << 3);
                write_varint(&mut inner, *value);
            }
            write_bytes_field(out, 3, &inner);
        }
        Field::Unknown(tag, bytes) => {
            out.push(*tag);
            out.extend_from_slice(bytes);
        }
    }
}

/// A frame: the fields wrapped as a `journal_entry`, then damaged at
/// random (a byte changed, the frame cut, bytes appended).
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let fields = proptest::collection::vec(field(), 0..8);
    let damage = prop_oneof![
        3 => Just(None),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, byte)| Some((0, at, byte))),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, byte)| Some((1, at, byte))),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, byte)| Some((2, at, byte))),
    ];
    (fields, damage).prop_map(|(fields, damage)| {
        let mut inner = Vec::new();
        for field in &fields {
            encode_field(&mut inner, field);
        }
        let mut frame = Vec::new();
        write_bytes_field(&mut frame, u32::from(JOURNAL_ENTRY >> 3), &inner);
        match damage {
            Some((0, at, byte)) => {
                let at = at.index(frame.len());
                frame[at] = byte;
            }
            Some((1, at, _)) => frame.truncate(at.index(frame.len())),
            Some((_, _, byte)) => frame.extend_from_slice(&[0x38, byte]),
            None => {}
        }
        frame
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Whatever the frame, the direct path decodes it as prost does, or
    /// leaves it to prost: the same message, or the same error.
    #[test]
    fn decodes_every_frame_as_prost_does(frame in frame()) {
        let frame = Bytes::from(frame);
        let ours = decode_response(frame.clone()).map_err(|e| e.to_string());
        let prost = RawSyncResponse::decode(frame)
            .map(|response| response.message.map(ServerMessage::from))
            .map_err(|e| e.to_string());
        prop_assert_eq!(ours, prost);
    }
}

/// Entries as laredo-server sends them take the direct path (else the
/// ingest speed it buys would vanish silently).
#[test]
fn entries_as_sent_take_the_direct_path() {
    let entry = crate::source::entry::tests::update_entry();
    let response = RawSyncResponse {
        message: Some(Message::JournalEntry(entry.clone())),
    };
    let frame = Bytes::from(response.encode_to_vec());
    let fields = journal_entry(&frame).expect("the direct path decodes it");
    assert_eq!(
        JournalEntry::in_frame(frame.clone(), fields).to_raw(),
        entry
    );
    assert_eq!(
        decode_response(frame).ok(),
        Some(Some(ServerMessage::JournalEntry(entry.into())))
    );
}

/// Other messages are prost's, and a frame that is not protobuf gives
/// prost's error.
#[test]
fn other_frames_are_decoded_by_prost() {
    let heartbeat = RawSyncResponse {
        message: Some(Message::Heartbeat(
            laredo_proto::replication::v1::Heartbeat::default(),
        )),
    };
    let frame = Bytes::from(heartbeat.encode_to_vec());
    assert!(journal_entry(&frame).is_none());
    assert_eq!(
        decode_response(frame).ok(),
        Some(heartbeat.message.map(ServerMessage::from))
    );
    let error = decode_response(Bytes::from_static(b"<html>")).unwrap_err();
    assert_eq!(
        error.to_string(),
        RawSyncResponse::decode(Bytes::from_static(b"<html>"))
            .unwrap_err()
            .to_string()
    );
}
