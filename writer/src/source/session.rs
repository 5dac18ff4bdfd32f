//! The connection task: connect, read, hand batches to the consumer,
//! reconnect. One per source.
//!
//! Resume is exact by construction: before each (re)connect the task waits
//! until the consumer has applied every batch it was given, then resumes from
//! the replica's cursor, which describes exactly the applied state. A GoAway
//! is handled the same way: reading stops at a message boundary, everything
//! read is applied, and a new connection resumes from that cursor. laredo's
//! Go client instead overlaps the old and new streams and cuts over at the
//! new handshake's sequence, which applies the overlap twice or skips it.

use std::time::Duration;

use futures::FutureExt;
use laredo_proto::replication::v1::SyncHandshake;
use laredo_wire::lsn::Lsn;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, timeout, timeout_at};

use super::backoff::Backoff;
use super::cursor::{self, CatchUp, Cursor};
use super::decode::ServerMessage;
use super::error::SourceError;
use super::event::{Batch, Event};
use super::replica::Applied;
use super::state::{ConnectionState, SharedState, mode_name};
use super::transport::{MessageStream, RequestTemplate, Transport};
use crate::telemetry::with_causes;
use laredo_wire::is_utf8;

/// Most events per batch: large enough to amortize the channel, small enough
/// to keep the consumer's latency and memory low.
pub(crate) const MAX_BATCH: usize = 1024;

pub(crate) struct Session {
    pub transport: Transport,
    pub template: RequestTemplate,
    pub heartbeat_timeout: Duration,
    pub connect_timeout: Duration,
    pub backoff: Backoff,
    pub state: SharedState,
    pub batches: mpsc::Sender<Batch>,
    pub applied: watch::Receiver<Applied>,
    pub last_batch: u64,
    /// Set when the server showed another history than the replica's: the
    /// next streams start from an empty cursor (a full snapshot) until one
    /// catches up.
    pub resync: bool,
}

/// How a stream ended.
enum End {
    /// The server ended it cleanly.
    Clean,
    /// The server asked us to move (GoAway), at a message boundary.
    GoAway,
    /// The server's history is not the replica's: resync from a snapshot.
    Diverged(SourceError),
    Failed(SourceError),
    /// The consumer is gone; stop.
    ConsumerGone,
}

/// One message's effect on the stream.
enum Step {
    Event { event: Event, flush: bool },
    Skip,
    End(End),
}

impl Session {
    pub async fn run(mut self) {
        let mut delay = Duration::ZERO;
        loop {
            if !delay.is_zero() {
                self.state.set_connection(ConnectionState::Backoff);
                tokio::select! {
                    () = sleep(delay) => {}
                    () = self.batches.closed() => break,
                }
            }
            let Some(mut cursor) = self.applied_cursor().await else {
                break;
            };
            let resyncing = self.resync;
            if resyncing {
                cursor = Cursor::default();
            }
            self.state.set_connection(ConnectionState::Connecting);
            let (end, delivered, healthy) = self.stream_once(&cursor).await;
            if delivered && self.send(vec![Event::StreamEnded]).await.is_err() {
                break;
            }
            if healthy {
                self.backoff.reset();
                if resyncing {
                    self.resync = false;
                }
            }
            match end {
                End::ConsumerGone => break,
                End::Diverged(error) => {
                    tracing::warn!(server = self.transport.origin(), error = %with_causes(&error), "the source is not the one this table follows; resyncing from a full snapshot (a new epoch)");
                    self.resync = true;
                    delay = Duration::ZERO;
                    self.state
                        .reconnecting(Some(with_causes(&error).to_string()));
                }
                End::GoAway if healthy => {
                    tracing::info!(
                        server = self.transport.origin(),
                        "GoAway: resuming on a new connection"
                    );
                    delay = Duration::ZERO;
                    self.state.reconnecting(None);
                }
                End::GoAway => {
                    delay = self.backoff.next_delay();
                    self.state
                        .reconnecting(Some("GoAway before the stream caught up".into()));
                }
                End::Clean => {
                    delay = self.backoff.next_delay();
                    tracing::info!(
                        server = self.transport.origin(),
                        ?delay,
                        "server ended the stream; reconnecting"
                    );
                    self.state.reconnecting(None);
                }
                End::Failed(error) => {
                    delay = self.backoff.next_delay();
                    tracing::warn!(server = self.transport.origin(), error = %with_causes(&error), ?delay, "source stream failed; reconnecting");
                    self.state
                        .reconnecting(Some(with_causes(&error).to_string()));
                }
            }
        }
        self.state.set_connection(ConnectionState::Stopped);
    }

    /// The cursor once every batch sent has been applied; `None` when the
    /// consumer is gone.
    async fn applied_cursor(&mut self) -> Option<Cursor> {
        let sent = self.last_batch;
        let applied = &mut self.applied;
        tokio::select! {
            result = applied.wait_for(|a| a.batch >= sent) => result.ok().map(|a| a.cursor.clone()),
            () = self.batches.closed() => None,
        }
    }

    async fn send(&mut self, events: Vec<Event>) -> Result<(), End> {
        self.last_batch += 1;
        let batch = Batch {
            id: self.last_batch,
            events,
        };
        self.batches
            .send(batch)
            .await
            .map_err(|_| End::ConsumerGone)
    }

    /// Runs one stream to its end. Returns how it ended, whether any event
    /// reached the consumer, and whether it caught up (healthy).
    async fn stream_once(&mut self, cursor: &Cursor) -> (End, bool, bool) {
        let (mut stream, handshake) = match self.open(cursor).await {
            Ok(opened) => opened,
            Err(error) => return (End::Failed(error), false, false),
        };
        tracing::info!(
            server = self.transport.origin(),
            mode = mode_name(handshake.mode()),
            sequence = cursor.sequence,
            position = cursor.resume_position(),
            "source stream open"
        );
        if let Some(reason) = cursor::diverged_at_handshake(cursor, &handshake) {
            return (End::Diverged(SourceError::Diverged(reason)), false, false);
        }
        let floor = Lsn::parse(&cursor.position);
        self.state.streaming(handshake.mode());
        let mut catch_up = CatchUp::default();
        if catch_up.handshake(&handshake) {
            self.state.set_live();
        }
        let mut pending = vec![Event::Handshake(handshake)];
        let mut handoff = false;
        let end = loop {
            let result = if pending.is_empty() {
                match timeout(self.heartbeat_timeout, stream.next()).await {
                    Ok(result) => result,
                    Err(_) => Err(SourceError::Silent(self.heartbeat_timeout)),
                }
            } else if let Some(result) = stream.next().now_or_never() {
                result
            } else {
                // Nothing more is ready: hand over what we have, then wait.
                if let Err(end) = self.send(std::mem::take(&mut pending)).await {
                    break end;
                }
                continue;
            };
            match self.step(result, &mut catch_up, &mut handoff, floor) {
                Step::Event { event, flush } => {
                    pending.push(event);
                    if (flush || pending.len() >= MAX_BATCH)
                        && let Err(end) = self.send(std::mem::take(&mut pending)).await
                    {
                        break end;
                    }
                }
                Step::Skip => {}
                Step::End(end) => break end,
            }
            if handoff && !catch_up.in_snapshot() {
                break End::GoAway;
            }
        };
        let end = match end {
            End::ConsumerGone => End::ConsumerGone,
            end if pending.is_empty() => end,
            end => match self.send(pending).await {
                Ok(()) => end,
                Err(gone) => gone,
            },
        };
        (end, true, catch_up.is_live())
    }

    /// Connects and reads the handshake, within `connect_timeout`.
    async fn open(&self, cursor: &Cursor) -> Result<(MessageStream, SyncHandshake), SourceError> {
        let request = self.template.request(cursor);
        let deadline = Instant::now() + self.connect_timeout;
        let opened = timeout_at(deadline, async {
            let mut stream = self.transport.open(request).await?;
            let first = stream.next().await?;
            Ok::<_, SourceError>((stream, first))
        })
        .await;
        let (stream, first) = match opened {
            Ok(result) => result?,
            Err(_) => {
                return Err(SourceError::HandshakeTimeout {
                    origin: self.transport.origin().to_owned(),
                    timeout: self.connect_timeout,
                });
            }
        };
        match first {
            Some(ServerMessage::Handshake(handshake)) => Ok((stream, handshake)),
            Some(other) => Err(SourceError::Protocol(format!(
                "first message is {}, not a handshake",
                message_name(&other)
            ))),
            None => Err(SourceError::Protocol(
                "stream ended before the handshake".into(),
            )),
        }
    }

    /// Checks one message against the protocol's order and turns it into an event.
    /// `floor` is the LSN the replica had applied when the stream opened:
    /// an entry before it shows another history.
    fn step(
        &self,
        result: Result<Option<ServerMessage>, SourceError>,
        catch_up: &mut CatchUp,
        handoff: &mut bool,
        floor: Option<Lsn>,
    ) -> Step {
        let violation = |what: &str| Step::End(End::Failed(SourceError::Protocol(what.to_owned())));
        let message = match result {
            Err(error) => return Step::End(End::Failed(error)),
            Ok(None) if catch_up.in_snapshot() => {
                return violation("stream ended inside a snapshot");
            }
            Ok(None) => return Step::End(End::Clean),
            Ok(Some(message)) => message,
        };
        let mut live = false;
        let step = match message {
            ServerMessage::Handshake(_) => return violation("second handshake on one stream"),
            ServerMessage::SnapshotBegin(begin) => {
                if catch_up.in_snapshot() {
                    return violation("snapshot_begin inside a snapshot");
                }
                catch_up.snapshot_begin();
                Step::Event {
                    event: Event::SnapshotBegin(begin),
                    flush: false,
                }
            }
            ServerMessage::SnapshotRow(row) => {
                if !catch_up.in_snapshot() {
                    return violation("snapshot_row outside a snapshot");
                }
                Step::Event {
                    event: Event::SnapshotRow(row),
                    flush: false,
                }
            }
            ServerMessage::SnapshotEnd(end) => {
                if !catch_up.in_snapshot() {
                    return violation("snapshot_end without snapshot_begin");
                }
                live = catch_up.snapshot_end();
                Step::Event {
                    event: Event::SnapshotEnd(end),
                    flush: true,
                }
            }
            ServerMessage::JournalEntry(entry) => {
                if catch_up.in_snapshot() {
                    return violation("journal_entry inside a snapshot");
                }
                // Strings on the wire, kept as bytes (replication_raw.proto).
                if !is_utf8(entry.action()) {
                    return violation("journal_entry action is not UTF-8");
                }
                if !is_utf8(entry.source_position()) {
                    return violation("journal_entry source_position is not UTF-8");
                }
                if let Some(reason) = cursor::diverged_at_entry(floor, entry.source_position()) {
                    return Step::End(End::Diverged(SourceError::Diverged(reason)));
                }
                live = catch_up.entry(entry.sequence());
                Step::Event {
                    event: Event::Entry(entry),
                    flush: false,
                }
            }
            ServerMessage::Heartbeat(heartbeat) => {
                live = catch_up.heartbeat();
                Step::Event {
                    event: Event::Heartbeat(heartbeat),
                    flush: false,
                }
            }
            ServerMessage::GoAway(go_away) => {
                tracing::info!(
                    server = self.transport.origin(),
                    reason = go_away.reason,
                    deadline_unix_ms = go_away.drain_deadline_unix_ms,
                    "server sent GoAway"
                );
                *handoff = true;
                Step::Skip
            }
            // laredo-server never sends it: schema changes arrive as a
            // TRUNCATE entry followed by the re-baseline's inserts.
            ServerMessage::SchemaChange(_) => Step::Skip,
        };
        if live {
            self.state.set_live();
        }
        step
    }
}

fn message_name(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Handshake(_) => "handshake",
        ServerMessage::SnapshotBegin(_) => "snapshot_begin",
        ServerMessage::SnapshotRow(_) => "snapshot_row",
        ServerMessage::SnapshotEnd(_) => "snapshot_end",
        ServerMessage::JournalEntry(_) => "journal_entry",
        ServerMessage::SchemaChange(_) => "schema_change",
        ServerMessage::Heartbeat(_) => "heartbeat",
        ServerMessage::GoAway(_) => "go_away",
    }
}
