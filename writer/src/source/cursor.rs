//! Where a replica stands in the server's stream, and when a stream has
//! caught up.
//!
//! The cursor is what the next `SyncRequest` resumes from. It only ever
//! describes *applied* state: a snapshot still being received does not move
//! it, so a stream that dies mid-snapshot resumes from the previous state.

use laredo_proto::replication::v1::{SyncHandshake, SyncMode};
use laredo_wire::lsn::Lsn;

/// Why a handshake shows that the server does not hold the history `cursor`
/// describes, if it does: a delta resuming after a sequence the server has
/// not reached (a restarted or different server accepting our sequence).
/// Sequences are per server instance, so a *lower* sequence alone proves
/// nothing; resuming past the server's own newest entry does.
pub fn diverged_at_handshake(cursor: &Cursor, handshake: &SyncHandshake) -> Option<String> {
    let delta = matches!(
        handshake.mode(),
        SyncMode::Delta | SyncMode::DeltaFromSnapshot
    );
    (delta
        && cursor.sequence > 0
        && handshake.resume_from_sequence > handshake.server_current_sequence)
        .then(|| {
            format!(
                "the server resumes after sequence {} but its newest entry is {}",
                handshake.resume_from_sequence, handshake.server_current_sequence
            )
        })
}

/// Why a journal entry's position shows a different history, if it does:
/// its position is an LSN before `floor`, the LSN the replica had already
/// applied (`None` when the applied position is not an LSN: a source whose
/// positions are not LSNs is never compared). In one history positions
/// never go back (they may repeat or be empty, which is not checked).
pub fn diverged_at_entry(floor: Option<Lsn>, position: &[u8]) -> Option<String> {
    let floor = floor?;
    let text = std::str::from_utf8(position).ok()?;
    let at = Lsn::parse(text)?;
    (at < floor).then(|| {
        format!(
            "an entry at position {text} arrived after position {} was applied",
            floor.format()
        )
    })
}

/// The resume point of a replica: the last applied journal entry (or
/// snapshot), as the server's `SyncRequest` fields describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Sequence of the last applied journal entry, or of the last applied
    /// snapshot's end. Meaningful only to the server instance that sent it.
    pub sequence: i64,
    /// Last non-empty source position applied (e.g. a WAL LSN); `""` after a
    /// snapshot until a positioned entry arrives (snapshots carry none).
    pub position: String,
    /// Whether `position` identifies one entry: set when the positioned entry
    /// that set it carried a different position than the positioned entry
    /// before it. Only then is it sent for resume; see [`Cursor::resume_position`].
    pub position_is_exact: bool,
    /// Id of the last applied snapshot.
    pub snapshot_id: String,
}

impl Cursor {
    /// Records an applied journal entry, whose position is UTF-8 text as
    /// received (the session checks it; other bytes would be kept lossily).
    pub fn record_entry(&mut self, sequence: i64, position: &[u8]) {
        self.sequence = sequence;
        if position.is_empty() {
            return;
        }
        // Compared as bytes: many entries repeat the position (a
        // transaction's commit LSN), and only a new one needs its text.
        let changed = self.position.as_bytes() != position;
        self.position_is_exact = !self.position.is_empty() && changed;
        if changed {
            self.position.clear();
            self.position.push_str(&String::from_utf8_lossy(position));
        }
    }

    /// The cursor after a full snapshot has replaced the state.
    pub fn after_snapshot(sequence: i64, snapshot_id: String) -> Self {
        Self {
            sequence,
            position: String::new(),
            position_is_exact: false,
            snapshot_id,
        }
    }

    /// The position to send as `last_known_source_position`.
    ///
    /// laredo-server resumes a position "after the last journal entry whose
    /// position is ≤ the client's". When positions do not advance (or several
    /// entries share one, as a transaction's commit LSN), that skips entries
    /// the client never saw. So the position is sent only when the last two
    /// positioned entries differed; otherwise `""`, and the server falls back
    /// to `last_known_sequence` (exact on the same instance) or a snapshot.
    pub fn resume_position(&self) -> &str {
        if self.position_is_exact {
            &self.position
        } else {
            ""
        }
    }
}

/// Decides when a stream has caught up with the server: the snapshot ended,
/// the journal catch-up reached the handshake's `server_current_sequence`,
/// or the server sent a heartbeat (it does so only when it has nothing more
/// to send, which also covers a quiet or fully filtered table).
#[derive(Debug, Clone, Default)]
pub struct CatchUp {
    target: i64,
    in_snapshot: bool,
    live: bool,
}

impl CatchUp {
    /// Starts a stream; returns true when it is live at once (a delta with
    /// nothing to catch up, which laredo's Go client never notices).
    pub fn handshake(&mut self, handshake: &SyncHandshake) -> bool {
        *self = Self {
            target: handshake.server_current_sequence,
            ..Self::default()
        };
        let delta = handshake.mode() != SyncMode::FullSnapshot;
        delta
            && handshake.resume_from_sequence >= handshake.server_current_sequence
            && self.go_live()
    }

    /// A snapshot begins (no catch-up counts until it ends).
    pub fn snapshot_begin(&mut self) {
        self.in_snapshot = true;
    }

    /// A snapshot ended; returns true when this made the stream live.
    pub fn snapshot_end(&mut self) -> bool {
        self.in_snapshot = false;
        self.go_live()
    }

    /// A journal entry arrived; returns true when this made the stream live.
    pub fn entry(&mut self, sequence: i64) -> bool {
        sequence >= self.target && !self.in_snapshot && self.go_live()
    }

    /// A heartbeat arrived; returns true when this made the stream live.
    pub fn heartbeat(&mut self) -> bool {
        !self.in_snapshot && self.go_live()
    }

    /// Whether the stream has caught up.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Whether a snapshot is being received.
    pub fn in_snapshot(&self) -> bool {
        self.in_snapshot
    }

    fn go_live(&mut self) -> bool {
        !std::mem::replace(&mut self.live, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_is_resumable_only_after_it_changed() {
        let mut cursor = Cursor::after_snapshot(10, "s".into());
        cursor.record_entry(11, b"0/00000010");
        assert_eq!(
            cursor.resume_position(),
            "",
            "first position after a snapshot"
        );
        cursor.record_entry(12, b"0/00000020");
        assert_eq!(cursor.resume_position(), "0/00000020");
        cursor.record_entry(13, b"");
        assert_eq!(cursor.sequence, 13);
        assert_eq!(
            cursor.resume_position(),
            "0/00000020",
            "empty positions keep it"
        );
        cursor.record_entry(14, b"0/00000020");
        assert_eq!(
            cursor.resume_position(),
            "",
            "a repeated position is ambiguous"
        );
        assert_eq!(
            cursor.position, "0/00000020",
            "still reported as the position"
        );
    }

    #[test]
    fn a_delta_past_the_servers_newest_entry_is_another_history() {
        let cursor = Cursor {
            sequence: 900,
            ..Cursor::default()
        };
        let behind = handshake(SyncMode::Delta, 500, 900);
        assert!(diverged_at_handshake(&cursor, &behind).is_some());
        let ahead = handshake(SyncMode::Delta, 1200, 900);
        assert_eq!(diverged_at_handshake(&cursor, &ahead), None);
        let snapshot = handshake(SyncMode::FullSnapshot, 500, 500);
        assert_eq!(diverged_at_handshake(&cursor, &snapshot), None);
        // Another instance resuming by position may have lower sequences.
        let by_position = handshake(SyncMode::Delta, 500, 480);
        assert_eq!(diverged_at_handshake(&cursor, &by_position), None);
        assert_eq!(
            diverged_at_handshake(&Cursor::default(), &behind),
            None,
            "a fresh replica has no history to differ from"
        );
    }

    #[test]
    fn only_an_lsn_before_the_applied_one_is_another_history() {
        let floor = Lsn::parse("1/00000200");
        assert!(diverged_at_entry(floor, b"1/000001FF").is_some());
        assert!(diverged_at_entry(floor, b"0/FFFFFFFF").is_some());
        for same_history in [&b"1/00000200"[..], b"1/200", b"2/0", b"", b"opaque-7"] {
            assert_eq!(diverged_at_entry(floor, same_history), None);
        }
        assert_eq!(diverged_at_entry(None, b"0/1"), None, "no applied LSN");
    }

    #[test]
    fn stuck_positions_are_never_resumed_from() {
        let mut cursor = Cursor::default();
        for sequence in 1..100 {
            cursor.record_entry(sequence, b"0/0019F000");
            assert_eq!(cursor.resume_position(), "");
        }
    }

    fn handshake(mode: SyncMode, current: i64, resume: i64) -> SyncHandshake {
        SyncHandshake {
            mode: mode as i32,
            server_current_sequence: current,
            resume_from_sequence: resume,
            ..Default::default()
        }
    }

    #[test]
    fn a_delta_with_nothing_to_send_is_live_at_once() {
        let mut catch_up = CatchUp::default();
        assert!(catch_up.handshake(&handshake(SyncMode::Delta, 50, 50)));
        assert!(catch_up.is_live());
        assert!(!catch_up.heartbeat(), "reported once");
    }

    #[test]
    fn a_delta_is_live_at_the_servers_sequence_or_a_heartbeat() {
        let mut catch_up = CatchUp::default();
        assert!(!catch_up.handshake(&handshake(SyncMode::Delta, 50, 40)));
        assert!(!catch_up.entry(49));
        assert!(catch_up.entry(50));
        let mut filtered = CatchUp::default();
        filtered.handshake(&handshake(SyncMode::Delta, 50, 40));
        assert!(filtered.heartbeat(), "filtered entries never reach 50");
    }

    #[test]
    fn a_snapshot_is_live_at_its_end_only() {
        let mut catch_up = CatchUp::default();
        assert!(!catch_up.handshake(&handshake(SyncMode::FullSnapshot, 50, 0)));
        catch_up.snapshot_begin();
        assert!(!catch_up.heartbeat());
        assert!(catch_up.snapshot_end());
    }
}
