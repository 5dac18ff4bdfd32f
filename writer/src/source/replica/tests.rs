use bytes::Bytes;
use laredo_proto::replication::raw::v1::RawJournalEntry;
use laredo_proto::replication::v1::{ColumnDefinition, Heartbeat};

use super::*;
use crate::source::JournalEntry;
use crate::table::KeySpec;
use laredo_wire::{ValueRef, encode_scalar, write_struct_entry};

fn row(id: ValueRef<'_>, name: &str) -> Bytes {
    let mut out = Vec::new();
    write_struct_entry(&mut out, "id", &encode_scalar(&id));
    write_struct_entry(&mut out, "name", &encode_scalar(&ValueRef::String(name)));
    Bytes::from(out)
}

fn n(id: f64, name: &str) -> Bytes {
    row(ValueRef::Number(id), name)
}

fn handshake(mode: SyncMode, current: i64, resume: i64) -> Event {
    Event::Handshake(SyncHandshake {
        mode: mode as i32,
        server_current_sequence: current,
        resume_from_sequence: resume,
        columns: vec![ColumnDefinition {
            column_name: "id".into(),
            data_type: "bigint".into(),
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn snapshot(id: &str, sequence: i64, rows: &[Bytes]) -> Vec<Event> {
    let mut events = vec![Event::SnapshotBegin(SnapshotBegin {
        snapshot_id: id.into(),
        sequence,
        row_count: rows.len() as i64,
    })];
    events.extend(rows.iter().cloned().map(Event::SnapshotRow));
    events.push(Event::SnapshotEnd(SnapshotEnd {
        sequence,
        rows_sent: rows.len() as i64,
    }));
    events
}

fn entry(
    sequence: i64,
    position: &str,
    action: &str,
    old: Option<Bytes>,
    new: Option<Bytes>,
) -> Event {
    Event::Entry(JournalEntry::from(RawJournalEntry {
        sequence,
        source_position: Bytes::copy_from_slice(position.as_bytes()),
        timestamp: None,
        action: Bytes::copy_from_slice(action.as_bytes()),
        old_values: old,
        new_values: new,
    }))
}

/// Applies events as one batch; returns the updates but announced columns
/// (`columns_announced` checks those), summarized.
fn apply(replica: &mut Replica, events: Vec<Event>) -> Vec<String> {
    let id = replica.applied.borrow().batch + 1;
    let mut seen = Vec::new();
    replica.apply(Batch { id, events }, &mut |update| {
        seen.push(match update {
            Update::Columns(_) => return,
            Update::Change(change @ Change::Upsert { .. }) => {
                format!("upsert {}", change.key().unwrap_or_default())
            }
            Update::Change(change @ Change::Delete { .. }) => {
                format!("delete {}", change.key().unwrap_or_default())
            }
            Update::Change(Change::Truncate) => "truncate".into(),
            Update::Replaced(r) => {
                format!("replaced {} rows by {}", r.previous.len(), r.snapshot_id)
            }
            Update::Synced(mode) => format!("synced {}", super::super::mode_name(mode)),
            Update::Rejected(r) => format!("rejected {:?}", r.sequence),
        });
    });
    seen
}

fn names(replica: &Replica) -> Vec<String> {
    let mut names: Vec<String> = replica
        .table()
        .iter()
        .map(|(k, r)| {
            format!(
                "{k}={}",
                laredo_wire::find_field(r.as_bytes(), "name")
                    .unwrap()
                    .unwrap()
            )
        })
        .collect();
    names.sort();
    names
}

#[test]
fn a_full_snapshot_replaces_the_table_and_says_so() {
    let mut replica = Replica::new(Table::new(KeySpec::default()), Cursor::default());
    let mut events = vec![handshake(SyncMode::FullSnapshot, 2, 0)];
    events.extend(snapshot("s1", 2, &[n(1.0, "a"), n(2.0, "b")]));
    assert_eq!(
        apply(&mut replica, events),
        ["replaced 0 rows by s1", "synced full_snapshot"]
    );
    assert_eq!(names(&replica), ["1=a", "2=b"]);
    assert_eq!(replica.cursor(), &Cursor::after_snapshot(2, "s1".into()));

    // A live change, then a re-snapshot mid-life on a new stream.
    apply(
        &mut replica,
        vec![entry(3, "0/10", "INSERT", None, Some(n(3.0, "c")))],
    );
    let mut events = vec![handshake(SyncMode::FullSnapshot, 9, 0)];
    events.extend(snapshot("s2", 9, &[n(1.0, "a2")]));
    assert_eq!(
        apply(&mut replica, events),
        ["replaced 3 rows by s2", "synced full_snapshot"]
    );
    assert_eq!(names(&replica), ["1=a2"]);
    assert_eq!(replica.cursor().sequence, 9);
    assert_eq!(
        replica.cursor().position,
        "",
        "a snapshot carries no position"
    );
    assert_eq!(replica.stats().replacements, 2);
}

#[test]
fn a_stream_dying_mid_snapshot_keeps_the_previous_state_and_cursor() {
    let mut replica = Replica::new(Table::new(KeySpec::default()), Cursor::default());
    let mut events = vec![handshake(SyncMode::FullSnapshot, 2, 0)];
    events.extend(snapshot("s1", 2, &[n(1.0, "a")]));
    apply(&mut replica, events);
    let before = replica.cursor().clone();
    let mut partial = vec![handshake(SyncMode::FullSnapshot, 5, 0)];
    partial.extend(snapshot("s2", 5, &[n(7.0, "x"), n(8.0, "y")]));
    partial.pop(); // no SnapshotEnd
    partial.push(Event::StreamEnded);
    assert!(apply(&mut replica, partial).is_empty());
    assert_eq!(names(&replica), ["1=a"]);
    assert_eq!(replica.cursor(), &before);
    assert_eq!(replica.stats().snapshots_abandoned, 1);
    assert_eq!(
        replica.applied.borrow().cursor,
        before,
        "reconnect resumes from it"
    );
}

/// The columns of each handshake of `events`, as the replica announced them.
fn columns_announced(replica: &mut Replica, events: Vec<Event>) -> Vec<Vec<String>> {
    let mut announced = Vec::new();
    replica.apply(Batch { id: 0, events }, &mut |update| {
        if let Update::Columns(columns) = update {
            announced.push(columns.into_iter().map(|c| c.column_name).collect());
        }
    });
    announced
}

#[test]
fn columns_are_announced_by_the_first_handshake_and_when_they_change() {
    let mut replica = Replica::new(Table::new(KeySpec::default()), Cursor::default());
    let first = handshake(SyncMode::FullSnapshot, 1, 0);
    assert_eq!(
        columns_announced(&mut replica, vec![first.clone()]),
        [["id"]]
    );
    // A reconnect announcing the same columns, or none, changes nothing.
    let none = Event::Handshake(SyncHandshake::default());
    assert!(columns_announced(&mut replica, vec![first, none]).is_empty());
    let Event::Handshake(mut changed) = handshake(SyncMode::Delta, 1, 1) else {
        unreachable!()
    };
    changed.columns.push(ColumnDefinition {
        column_name: "name".into(),
        data_type: "text".into(),
        ..Default::default()
    });
    assert_eq!(
        columns_announced(&mut replica, vec![Event::Handshake(changed)]),
        [["id", "name"]]
    );
}

#[test]
fn a_quiet_delta_is_synced_at_the_handshake() {
    let restored = Cursor {
        sequence: 40,
        ..Cursor::default()
    };
    let mut replica = Replica::new(Table::new(KeySpec::default()), restored);
    assert!(!replica.is_synced());
    assert_eq!(
        apply(&mut replica, vec![handshake(SyncMode::Delta, 40, 40)]),
        ["synced delta"]
    );
    assert!(replica.is_synced());
}

#[test]
fn a_delta_catches_up_then_applies_live_text_values_normalized() {
    let mut replica = Replica::new(Table::new(KeySpec::default()), Cursor::default());
    let mut events = vec![handshake(SyncMode::FullSnapshot, 1, 0)];
    events.extend(snapshot("s1", 1, &[n(1_234_567.0, "baseline")]));
    apply(&mut replica, events);
    let updates = apply(
        &mut replica,
        vec![
            entry(
                2,
                "",
                "UPDATE",
                None,
                Some(row(ValueRef::String("1234567"), "live")),
            ),
            entry(
                3,
                "",
                "DELETE",
                Some(row(ValueRef::String("99"), "ghost")),
                None,
            ),
            Event::Heartbeat(Heartbeat::default()),
        ],
    );
    assert_eq!(
        updates,
        ["upsert 1.234567e+06"],
        "one row, and no fake truncate"
    );
    assert_eq!(names(&replica), ["1.234567e+06=live"]);
    assert_eq!(replica.cursor().sequence, 3);
}

#[test]
fn malformed_rows_are_reported_and_skipped() {
    let mut replica = Replica::new(Table::new(KeySpec::default()), Cursor::default());
    let garbage = Bytes::from_static(&[0x0a, 0x09]);
    let mut events = vec![handshake(SyncMode::FullSnapshot, 1, 0)];
    events.extend(snapshot("s1", 1, &[n(1.0, "a"), garbage.clone()]));
    events.push(entry(2, "", "INSERT", None, Some(garbage)));
    events.push(entry(3, "", "UPSERT", None, Some(n(3.0, "c"))));
    let updates = apply(&mut replica, events);
    assert_eq!(
        updates,
        [
            "rejected None",
            "replaced 0 rows by s1",
            "synced full_snapshot",
            "rejected Some(2)",
            "rejected Some(3)"
        ]
    );
    assert_eq!(names(&replica), ["1=a"]);
    assert_eq!(replica.cursor().sequence, 3, "not replayed forever");
}
