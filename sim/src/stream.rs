//! One `Sync` stream as laredo-server serves it: handshake, snapshot or
//! delta, journal catch-up, then live entries with heartbeats when idle,
//! obeying the simulator's commands.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use laredo_proto::prost_types::Timestamp;
use laredo_proto::replication::raw::v1::raw_sync_response::Message;
use laredo_proto::replication::raw::v1::{RawJournalEntry, RawSnapshotRow, RawSyncResponse};
use laredo_proto::replication::v1::{
    GoAway, Heartbeat, SnapshotBegin, SnapshotEnd, SyncHandshake, SyncMode, SyncRequest,
};
use laredo_wire::frame;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, sleep_until};

use crate::http::{Gone, Out};
use crate::store::{Held, Record, Snapshot};
use crate::{Command, Fault, Filter, LiveValues, Row, Shared, SnapshotFault, rows};

/// Entries read from the journal per lock.
const READ_AHEAD: usize = 256;

/// Counts a stream as open for its lifetime.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) async fn serve(shared: Arc<Shared>, request: SyncRequest, out: Out) {
    shared.open_streams.fetch_add(1, Ordering::SeqCst);
    let _open = OpenGuard(shared.clone());
    let config = &shared.config;
    if request.schema.is_empty() || request.table.is_empty() {
        return out
            .end(Some(("invalid_argument", "schema and table are required")))
            .await;
    }
    if request.schema != config.schema || request.table != config.table {
        let message = format!("no fan-out target for {}.{}", request.schema, request.table);
        return out.end(Some(("not_found", &message))).await;
    }
    let filter = match Filter::parse(&request.filters) {
        Ok(filter) => filter,
        Err(reason) => return out.end(Some(("invalid_argument", &reason))).await,
    };
    let mut stream = Stream {
        commands: shared.commands.subscribe(),
        head: shared.head.subscribe(),
        shared: shared.clone(),
        out,
        filter,
        last_sent: Instant::now(),
        drain_deadline: None,
        deferred: Vec::new(),
    };
    let _ = stream.run(&request).await;
}

struct Stream {
    shared: Arc<Shared>,
    out: Out,
    filter: Filter,
    commands: broadcast::Receiver<Command>,
    head: watch::Receiver<i64>,
    last_sent: Instant,
    drain_deadline: Option<Instant>,
    /// Commands received mid-snapshot, handled once it is sent.
    deferred: Vec<Command>,
}

impl Stream {
    async fn run(&mut self, request: &SyncRequest) -> Result<(), Gone> {
        let (plan, snapshot) = {
            let data = self.shared.data();
            let plan = data.store.plan(
                request.last_known_sequence,
                &request.last_known_source_position,
            );
            let snapshot =
                (plan.mode == SyncMode::FullSnapshot).then(|| data.store.snapshot(&self.filter));
            (plan, snapshot)
        };
        self.send(Message::Handshake(SyncHandshake {
            mode: plan.mode as i32,
            server_current_sequence: plan.current,
            journal_oldest_sequence: plan.oldest,
            resume_from_sequence: plan.resume,
            columns: self.shared.columns(),
            snapshot_id: snapshot.as_ref().map(|s| s.id.clone()).unwrap_or_default(),
        }))
        .await?;
        let mut cursor = plan.resume;
        if let Some(snapshot) = snapshot {
            let fault = Shared::take(&self.shared.snapshot_fault);
            cursor = self.send_snapshot(snapshot, fault).await?;
        }
        self.live(cursor).await
    }

    async fn send(&mut self, message: Message) -> Result<(), Gone> {
        self.last_sent = Instant::now();
        self.out
            .message(&RawSyncResponse {
                message: Some(message),
            })
            .await
    }

    fn text_values(&self) -> bool {
        self.shared.config.live_values == LiveValues::Text
    }

    async fn send_snapshot(
        &mut self,
        snapshot: Snapshot,
        fault: Option<SnapshotFault>,
    ) -> Result<i64, Gone> {
        let count = snapshot.rows.len();
        self.send(Message::SnapshotBegin(SnapshotBegin {
            snapshot_id: snapshot.id,
            sequence: snapshot.sequence,
            row_count: count as i64,
        }))
        .await?;
        for (index, held) in snapshot.rows.into_iter().enumerate() {
            match fault {
                Some(SnapshotFault::DropAfterRows(n)) if n == index => {
                    self.out.abort().await;
                    return Err(Gone);
                }
                Some(SnapshotFault::StallAfterRows(n)) if n == index => return self.stall().await,
                _ => {}
            }
            // Only a cut or a stall interrupts a snapshot; other commands wait.
            loop {
                match self.commands.try_recv() {
                    Ok(Command::Drop) => {
                        self.out.abort().await;
                        return Err(Gone);
                    }
                    Ok(Command::Stall) => return self.stall().await,
                    Ok(other) => self.deferred.push(other),
                    Err(TryRecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            }
            let row = self.wire_row(&held);
            self.send(Message::SnapshotRow(RawSnapshotRow { row }))
                .await?;
        }
        self.send(Message::SnapshotEnd(SnapshotEnd {
            sequence: snapshot.sequence,
            rows_sent: count as i64,
        }))
        .await?;
        Ok(snapshot.sequence)
    }

    fn wire_row(&self, held: &Held) -> Bytes {
        if held.live && self.text_values() {
            rows::as_text(&held.row).to_bytes()
        } else {
            held.row.to_bytes()
        }
    }

    async fn stall<T>(&mut self) -> Result<T, Gone> {
        self.shared.stalled.notify_one();
        self.out.closed().await;
        Err(Gone)
    }

    async fn live(&mut self, mut cursor: i64) -> Result<(), Gone> {
        for command in std::mem::take(&mut self.deferred) {
            self.command(command, &mut cursor).await?;
        }
        loop {
            loop {
                match self.commands.try_recv() {
                    Ok(command) => self.command(command, &mut cursor).await?,
                    Err(TryRecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            }
            if self
                .drain_deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                self.out.end(None).await;
                return Err(Gone);
            }
            let records = self.shared.data().store.entries_after(cursor, READ_AHEAD);
            let Ok(records) = records else {
                let message = "client fell behind the journal; reconnect for a snapshot";
                self.out.end(Some(("resource_exhausted", message))).await;
                return Err(Gone);
            };
            if !records.is_empty() {
                for record in records {
                    cursor = record.sequence;
                    if record
                        .filtered_row()
                        .is_none_or(|row| self.filter.matches(row.as_bytes()))
                    {
                        let entry = self.entry(&record);
                        self.send(Message::JournalEntry(entry)).await?;
                    }
                }
                continue;
            }
            let heartbeat_at = self.last_sent + self.shared.config.heartbeat_interval;
            let far = Instant::now() + Duration::from_secs(86_400);
            tokio::select! {
                _ = self.head.changed() => {}
                command = self.commands.recv() => {
                    if let Ok(command) = command {
                        self.command(command, &mut cursor).await?;
                    }
                }
                () = sleep_until(heartbeat_at) => {
                    let current_sequence = self.shared.data().store.sequence();
                    self.send(Message::Heartbeat(Heartbeat {
                        current_sequence,
                        server_time: Some(Timestamp::from(SystemTime::now())),
                    }))
                    .await?;
                }
                () = sleep_until(self.drain_deadline.unwrap_or(far)) => {}
                () = self.out.closed() => return Err(Gone),
            }
        }
    }

    fn entry(&self, record: &Record) -> RawJournalEntry {
        let wire = |row: &Option<Row>| {
            row.as_ref().map(|row| {
                if record.live && self.text_values() {
                    rows::as_text(row).to_bytes()
                } else {
                    row.to_bytes()
                }
            })
        };
        RawJournalEntry {
            sequence: record.sequence,
            source_position: Bytes::from(record.position.clone()),
            timestamp: Some(record.timestamp),
            action: Bytes::from_static(record.action.as_str().as_bytes()),
            old_values: wire(&record.old),
            new_values: wire(&record.new),
        }
    }

    async fn command(&mut self, command: Command, cursor: &mut i64) -> Result<(), Gone> {
        match command {
            Command::Drop => {
                self.out.abort().await;
                Err(Gone)
            }
            Command::Stall => self.stall().await,
            Command::End => {
                self.out.end(None).await;
                Err(Gone)
            }
            Command::GoAway { reason, deadline } => {
                let deadline_ms = deadline.map_or(0, |d| {
                    let at = SystemTime::now() + d;
                    at.duration_since(UNIX_EPOCH)
                        .map_or(0, |t| t.as_millis() as i64)
                });
                self.drain_deadline = deadline.map(|d| Instant::now() + d);
                self.send(Message::GoAway(GoAway {
                    reason,
                    drain_deadline_unix_ms: deadline_ms,
                }))
                .await
            }
            Command::Resnapshot => {
                let snapshot = self.shared.data().store.snapshot(&self.filter);
                *cursor = self.send_snapshot(snapshot, None).await?;
                let deferred = std::mem::take(&mut self.deferred);
                for command in deferred {
                    Box::pin(self.command(command, cursor)).await?;
                }
                Ok(())
            }
            Command::Inject(fault) => self.fault(fault, *cursor).await,
        }
    }

    async fn fault(&mut self, fault: Fault, cursor: i64) -> Result<(), Gone> {
        match fault {
            Fault::Garbage => {
                self.out
                    .raw(Bytes::from_static(
                        b"<html><body>502 Bad Gateway</body></html>",
                    ))
                    .await
            }
            // Field 1 (handshake) announcing 0x7f bytes that are not there.
            Fault::MalformedMessage => self.out.raw(frame::envelope(0, &[0x0a, 0x7f, 0x01])).await,
            // Field 9, length-delimited and empty: unknown to this protocol.
            Fault::UnknownVariant => self.out.raw(frame::envelope(0, &[0x4a, 0x00])).await,
            Fault::Oversized(len) => {
                let mut bytes = vec![0];
                bytes.extend_from_slice(&len.to_be_bytes());
                bytes.extend_from_slice(b"some of it");
                self.out.raw(Bytes::from(bytes)).await
            }
            Fault::TruncatedFrame => {
                // No end-of-stream message or trailers follow: the response
                // just ends, as when a proxy cuts it.
                self.out
                    .raw(Bytes::from_static(&[0, 0, 0, 0, 100, 1, 2, 3]))
                    .await?;
                Err(Gone)
            }
            Fault::BadEndStream => {
                self.out.bad_end().await;
                Err(Gone)
            }
            Fault::MalformedRow => {
                let entry = RawJournalEntry {
                    sequence: cursor,
                    action: "INSERT".into(),
                    new_values: Some(Bytes::from_static(&[0x0a, 0x09])),
                    ..RawJournalEntry::default()
                };
                self.send(Message::JournalEntry(entry)).await
            }
            Fault::ActionNotText => {
                let entry = RawJournalEntry {
                    sequence: cursor,
                    action: Bytes::from_static(b"INS\xffRT"),
                    ..RawJournalEntry::default()
                };
                self.send(Message::JournalEntry(entry)).await
            }
        }
    }
}
