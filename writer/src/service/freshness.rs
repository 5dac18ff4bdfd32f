//! How far the source is ahead of the committed head: `/status`'s
//! `behind` and `snapshotter_head_behind_seconds`. The table task shows it
//! every batch before the replica applies it, and tells it when the buffer
//! is empty again (a commit took every change, or the changes cancelled
//! out).

use jiff::Timestamp;

use crate::archive::Manifest;
use crate::source::{Batch, Event};
use crate::status::BehindStatus;

/// What the source has told about itself beyond the changes.
#[derive(Debug, Default)]
pub struct Freshness {
    /// The newest journal sequence the server reported on the current
    /// stream (its handshake, heartbeats, changes, snapshot end).
    server_sequence: Option<i64>,
    /// When the oldest change not committed yet was made at the source
    /// (or received, when the source stamps no time).
    uncommitted_since: Option<Timestamp>,
}

impl Freshness {
    /// Takes note of `batch`, received at `received`.
    pub fn observe(&mut self, batch: &Batch, received: Timestamp) {
        for event in batch.events() {
            let newest = match event {
                // A new stream, maybe from a restarted server: its own count.
                Event::Handshake(handshake) => {
                    self.server_sequence = Some(handshake.server_current_sequence);
                    continue;
                }
                Event::Heartbeat(heartbeat) => heartbeat.current_sequence,
                Event::SnapshotEnd(end) => end.sequence,
                Event::Entry(entry) => {
                    if self.uncommitted_since.is_none() {
                        let made = entry
                            .timestamp()
                            .and_then(|t| Timestamp::new(t.seconds, t.nanos).ok());
                        self.uncommitted_since = Some(made.unwrap_or(received));
                    }
                    entry.sequence()
                }
                _ => continue,
            };
            self.server_sequence = Some(self.server_sequence.map_or(newest, |s| s.max(newest)));
        }
    }

    /// [`Self::behind`] the committed `manifest`'s head.
    pub fn of_head(
        &mut self,
        manifest: &Manifest,
        received: &str,
        buffered: u64,
        now: Timestamp,
    ) -> Option<BehindStatus> {
        let head_sequence = manifest.source.as_ref().map(|mark| mark.sequence);
        self.behind(
            head_sequence,
            &manifest.head_position,
            received,
            buffered,
            now,
        )
    }

    /// `behind`'s seconds as the gauge takes them (0 when not behind).
    pub fn seconds(behind: Option<&BehindStatus>) -> i64 {
        let seconds = behind.and_then(|b| b.seconds).unwrap_or(0);
        i64::try_from(seconds).unwrap_or(i64::MAX)
    }

    /// Where the source stands against the head: the manifest's journal
    /// sequence and position, and the replica's (`received`, the newest
    /// position applied) with `buffered` changes not committed yet. Forgets
    /// the oldest uncommitted change once nothing is buffered.
    pub fn behind(
        &mut self,
        head_sequence: Option<i64>,
        head_position: &str,
        received: &str,
        buffered: u64,
        now: Timestamp,
    ) -> Option<BehindStatus> {
        if buffered == 0 {
            self.uncommitted_since = None;
        }
        let sequences = match (self.server_sequence, head_sequence) {
            (Some(server), Some(head)) if server > head => u64::try_from(server - head).ok(),
            _ => None,
        };
        let position = (buffered > 0 && !received.is_empty() && received != head_position)
            .then(|| received.to_owned());
        let since = self.uncommitted_since;
        if sequences.is_none() && position.is_none() && since.is_none() {
            return None;
        }
        Some(BehindStatus {
            sequences,
            position,
            since: since.map(|t| t.to_string()),
            seconds: since.map(|t| u64::try_from(now.duration_since(t).as_secs()).unwrap_or(0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use laredo_proto::replication::raw::v1::RawJournalEntry;
    use laredo_proto::replication::v1::{Heartbeat, SyncHandshake};

    use super::*;
    use crate::source::JournalEntry;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    fn entry(sequence: i64, made: Option<i64>) -> Event {
        Event::Entry(JournalEntry::from(RawJournalEntry {
            sequence,
            source_position: Bytes::from_static(b"0/10"),
            timestamp: made.map(|seconds| prost_types::Timestamp { seconds, nanos: 0 }),
            action: Bytes::from_static(b"INSERT"),
            old_values: None,
            new_values: Some(Bytes::new()),
        }))
    }

    #[test]
    fn the_oldest_uncommitted_change_dates_the_lag_until_the_buffer_empties() {
        let mut freshness = Freshness::default();
        freshness.observe(
            &Batch::from_events(vec![
                Event::Handshake(SyncHandshake {
                    server_current_sequence: 100,
                    ..SyncHandshake::default()
                }),
                entry(101, Some(1_000)),
                entry(102, Some(1_005)),
            ]),
            at(1_010),
        );
        let behind = freshness
            .behind(Some(100), "0/08", "0/10", 2, at(1_030))
            .unwrap();
        assert_eq!(
            behind,
            BehindStatus {
                sequences: Some(2),
                position: Some("0/10".into()),
                since: Some("1970-01-01T00:16:40Z".into()),
                seconds: Some(30),
            }
        );
        // Committed: the head holds everything received.
        assert_eq!(
            freshness.behind(Some(102), "0/10", "0/10", 0, at(1_031)),
            None
        );
        // The server moves on (changes a filter leaves out, say).
        freshness.observe(
            &Batch::from_events(vec![Event::Heartbeat(Heartbeat {
                current_sequence: 110,
                server_time: None,
            })]),
            at(1_040),
        );
        let behind = freshness.behind(Some(102), "0/10", "0/10", 0, at(1_041));
        assert_eq!(behind.unwrap().sequences, Some(8));
    }

    #[test]
    fn a_change_without_a_time_counts_from_when_it_was_received() {
        let mut freshness = Freshness::default();
        freshness.observe(&Batch::from_events(vec![entry(7, None)]), at(500));
        let behind = freshness.behind(None, "", "", 1, at(512)).unwrap();
        assert_eq!((behind.seconds, behind.sequences), (Some(12), None));
        assert_eq!(behind.position, None, "the source stamps no positions");
    }
}
