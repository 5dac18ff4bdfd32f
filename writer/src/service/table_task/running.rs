//! The table once its archive is open: the loop that applies source
//! batches, ticks the re-base policy, serves commands and reports status.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::{STATUS_REFRESH, TableContext, restore};
use crate::archive::{
    ArchiveError, ArchiveWriter, ChangeBuffer, Committed, ManifestColumn, SourceMark, TickOutcome,
    Trigger,
};
use crate::dest::Destination;
use crate::events::{EventPublisher, PublisherOptions};
use crate::service::freshness::Freshness;
use crate::service::handle::{SnapshotFailure, TableCommand};
use crate::service::progress::Progress;
use crate::service::wiring;
use crate::source::{Backoff, Cursor, Replica, Source, Update};
use crate::status::{ErrorScope, TableState};
use crate::table::{KeySpec, Table};
use crate::telemetry::internal_events::{BufferChanged, FinalFlushFailed, TableReady};
use crate::telemetry::with_causes;

mod outcome;

/// The table once its archive is open.
pub(super) struct Running<'a> {
    ctx: &'a TableContext,
    archive: ArchiveWriter,
    replica: Replica,
    source: Option<Source>,
    buffer: ChangeBuffer,
    publisher: EventPublisher,
    progress: Progress,
    manifest_uri: String,
    freshness: Freshness,
    /// A snapshot that must be written once the table is synced: the initial
    /// base, or a new base after the source replaced the table.
    pending: Option<Trigger>,
    retry: Backoff,
    /// No write is attempted before this after a failure: a failed pending
    /// snapshot waits out its backoff instead of being retried by every
    /// source batch (which made a full disk spin at 100 % CPU).
    retry_at: Option<Instant>,
    next_tick: Instant,
    /// The `dest` label spool failures count under (`spool:<dir>`).
    spool_label: String,
}

impl<'a> Running<'a> {
    pub(super) async fn start(
        ctx: &'a TableContext,
        archive: ArchiveWriter,
        dests: &[Arc<dyn Destination>],
        mut progress: Progress,
    ) -> Self {
        let key = KeySpec::new(ctx.config.key_fields.clone());
        let restored = restore(ctx, &archive).await;
        let (table, cursor, pending) = match restored {
            Some((table, cursor)) => (table, cursor, None),
            None => (Table::new(key), Cursor::default(), Some(Trigger::Initial)),
        };
        let replica = Replica::new(table, cursor).with_metrics(ctx.metrics.clone());
        let source = match Source::spawn(&ctx.config.source, &replica, ctx.metrics.clone()) {
            Ok(source) => Some(source),
            Err(error) => {
                let error = with_causes(&error).to_string();
                tracing::error!(%error, "cannot subscribe to the source");
                progress.error(ErrorScope::Source, &error);
                progress.state = TableState::Degraded;
                None
            }
        };
        let sinks = match wiring::event_sinks(&ctx.config, &ctx.resolver).await {
            Ok(sinks) => sinks,
            Err(error) => {
                let error = with_causes(&error).to_string();
                tracing::error!(%error, "cannot set up event sinks; events are not published");
                progress.error(ErrorScope::Events, &error);
                Vec::new()
            }
        };
        let publisher =
            EventPublisher::start(sinks, ctx.metrics.clone(), PublisherOptions::default());
        let manifest_key = format!("{}manifest.json", ctx.config.effective_key_prefix());
        let manifest_uri = dests
            .first()
            .map(|d| d.uri(&manifest_key))
            .unwrap_or_default();
        if progress.state == TableState::Starting
            || progress.state == TableState::Degraded && progress.has_error(ErrorScope::Destination)
        {
            progress.state = TableState::Syncing;
            progress.clear_error(ErrorScope::Destination);
        }
        let next_tick = Instant::now() + archive.next_tick_in(Duration::ZERO);
        let spool_label = spool_label(dests);
        ctx.metrics.track_destination(&spool_label);
        Self {
            ctx,
            archive,
            replica,
            source,
            buffer: ChangeBuffer::new(),
            publisher,
            progress,
            manifest_uri,
            freshness: Freshness::default(),
            pending,
            retry: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
            retry_at: None,
            next_tick,
            spool_label,
        }
    }

    pub(super) async fn run(&mut self, commands: &mut mpsc::Receiver<TableCommand>) {
        let mut refresh = tokio::time::interval(STATUS_REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.publish();
        loop {
            let batch = async {
                match self.source.as_mut() {
                    Some(source) => source.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = self.ctx.shutdown.cancelled() => break,
                Some(command) = commands.recv() => self.on_command(command).await,
                () = sleep_until(self.next_tick) => self.on_tick().await,
                batch = batch => match batch {
                    Some(batch) => self.on_batch(batch).await,
                    None => {
                        tracing::error!("the source task stopped");
                        self.source = None;
                    }
                },
                _ = refresh.tick() => self.publish(),
            }
        }
        self.finish().await;
    }

    fn mark(&self) -> SourceMark {
        let cursor = self.replica.cursor();
        SourceMark {
            position: cursor.position.clone(),
            sequence: cursor.sequence,
            snapshot_id: cursor.snapshot_id.clone(),
        }
    }

    fn is_fenced(&self) -> bool {
        self.progress.state == TableState::Fenced
    }

    /// Whether a failed write's backoff is still running.
    fn backing_off(&self) -> bool {
        self.retry_at.is_some_and(|at| Instant::now() < at)
    }

    async fn on_batch(&mut self, batch: crate::source::Batch) {
        self.freshness.observe(&batch, Timestamp::now());
        let mut replaced = false;
        let mut synced = false;
        let buffer = &mut self.buffer;
        let progress = &mut self.progress;
        let archive = &mut self.archive;
        self.replica.apply(batch, &mut |update| match update {
            Update::Change(change) => buffer.record(change),
            Update::Replaced(replacement) => {
                tracing::info!(snapshot = %replacement.snapshot_id, rows_before = replacement.previous.len(), "the source sent a full snapshot; the table was replaced");
                buffer.clear_all();
                replaced = true;
            }
            Update::Synced(mode) => {
                tracing::info!(mode = crate::source::mode_name(mode), "caught up with the source");
                synced = true;
            }
            Update::Rejected(rejection) => {
                tracing::warn!(sequence = ?rejection.sequence, error = %rejection.error, "skipped a malformed row from the source");
                progress.error(
                    ErrorScope::Row,
                    format_args!("skipped a malformed row: {}", with_causes(&rejection.error)),
                );
            }
            Update::Columns(columns) => {
                tracing::info!(columns = columns.len(), "the source announced the table's columns; the next commit records them in the manifest");
                archive.set_columns(columns.iter().map(ManifestColumn::from_definition).collect());
            }
        });
        self.ctx.metrics.emit(BufferChanged {
            depth: self.buffer.depth(),
            churn: self.buffer.churn(),
        });
        if replaced && self.pending.is_none() {
            self.pending = Some(Trigger::SourceResync);
        }
        if synced && self.progress.state == TableState::Syncing && self.pending.is_none() {
            // A restored chain resumed in delta mode: its base is already durable.
            self.become_ready();
        }
        if self.pending.is_some()
            && self.replica.is_synced()
            && !self.is_fenced()
            && !self.backing_off()
        {
            self.write_pending().await;
        }
    }

    async fn on_tick(&mut self) {
        self.next_tick = Instant::now() + self.archive.next_tick_in(Duration::ZERO);
        if self.is_fenced() {
            return;
        }
        if let Some(at) = self.retry_at.filter(|at| Instant::now() < *at) {
            self.next_tick = self.next_tick.min(at);
            return;
        }
        if self.pending.is_some() {
            if self.replica.is_synced() {
                self.write_pending().await;
            }
            return;
        }
        let mark = self.mark();
        let outcome = self
            .archive
            .tick(self.replica.table(), &mut self.buffer, &mark)
            .await;
        match outcome {
            Ok(TickOutcome::Idle) => {}
            Ok(TickOutcome::Diff(committed) | TickOutcome::Snapshot(committed)) => {
                self.on_committed(&committed);
            }
            Err(error) => self.on_failed(&error),
        }
    }

    async fn write_pending(&mut self) {
        let Some(trigger) = self.pending else { return };
        self.progress.state = TableState::Snapshotting;
        self.publish();
        match self.snapshot(trigger).await {
            Ok(committed) => self.on_committed(&committed),
            Err(error) => self.on_failed(&error),
        }
    }

    async fn snapshot(&mut self, trigger: Trigger) -> Result<Committed, ArchiveError> {
        let mark = self.mark();
        self.archive
            .write_snapshot(self.replica.table(), &mut self.buffer, &mark, trigger)
            .await
    }

    async fn on_command(&mut self, command: TableCommand) {
        let TableCommand::ForceSnapshot { reply } = command;
        let refusal = if self.is_fenced() {
            Some(SnapshotFailure::Fenced)
        } else if !self.replica.is_synced() {
            Some(SnapshotFailure::Syncing)
        } else {
            None
        };
        if let Some(why) = refusal {
            let _ = reply.send(Err(why));
            return;
        }
        match self.snapshot(Trigger::Forced).await {
            Ok(committed) => {
                self.on_committed(&committed);
                let _ = reply.send(Ok(committed.to_status()));
            }
            Err(error) => {
                self.on_failed(&error);
                let _ = reply.send(Err(error.into()));
            }
        }
    }

    fn become_ready(&mut self) {
        if !self.progress.ready {
            self.ctx.metrics.emit(TableReady {
                epoch: self.archive.manifest().epoch,
            });
        }
        self.progress.ready = true;
        self.progress.state = TableState::Live;
    }

    /// Flushes what is buffered within the grace period, then stops.
    async fn finish(&mut self) {
        let deadline = Instant::now() + self.ctx.grace;
        if !self.is_fenced() && self.replica.is_synced() {
            let mark = self.mark();
            let table = self.replica.table();
            let flush = async {
                match self.pending {
                    Some(trigger) => self
                        .archive
                        .write_snapshot(table, &mut self.buffer, &mark, trigger)
                        .await
                        .map(Some),
                    None => self.archive.write_diff(&mut self.buffer, &mark).await,
                }
            };
            match tokio::time::timeout_at(deadline, flush).await {
                Ok(Ok(Some(committed))) => {
                    tracing::info!(artifact = %committed.id, position = %committed.position, "final flush committed")
                }
                Ok(Ok(None)) => tracing::info!("nothing buffered at shutdown"),
                Ok(Err(error)) => self.ctx.metrics.emit(FinalFlushFailed {
                    error: &error,
                    spool_label: &self.spool_label,
                }),
                Err(_) => {
                    tracing::error!(grace = ?self.ctx.grace, "final flush did not finish within the grace period")
                }
            }
        } else if self.pending.is_some() {
            tracing::warn!("shutting down before the initial snapshot could be written");
        }
        self.source = None;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let publisher = std::mem::replace(
            &mut self.publisher,
            EventPublisher::start(
                Vec::new(),
                self.ctx.metrics.clone(),
                PublisherOptions::default(),
            ),
        );
        let unsent = publisher.shutdown(remaining).await;
        if unsent > 0 {
            tracing::warn!(
                unsent,
                "events not published before shutdown (they are advisory)"
            );
        }
        self.progress.state = TableState::Stopped;
        self.progress.ready = false;
        self.publish();
    }
}

/// The `dest` label spool failures count under: `spool:<dir>`, the
/// directory [`ArchiveWriter::open`] encodes in (the first local
/// destination's, else the temporary directory's).
pub(super) fn spool_label(dests: &[Arc<dyn Destination>]) -> String {
    let dir = dests
        .iter()
        .find_map(|d| d.spool_dir())
        .unwrap_or_else(|| std::env::temp_dir().join("snapshot-writer-spool"));
    format!("spool:{}", dir.display())
}
