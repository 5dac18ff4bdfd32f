//! What the table reports of each outcome: a committed or failed
//! artifact in its progress and events, the progress published, and the
//! source's state reflected in the table's.

use jiff::Timestamp;
use tokio::time::Instant;

use super::Running;
use crate::archive::{ArchiveError, ArtifactKind, Committed};
use crate::events::{Event, EventKind};
use crate::service::freshness::Freshness;
use crate::service::progress::Snapshot;
use crate::service::table_task::publish;
use crate::source::{ConnectionState, SourceState};
use crate::status::{ErrorScope, TableState};
use crate::telemetry::internal_events::WriteFailed;
use crate::telemetry::with_causes;

impl Running<'_> {
    /// A committed artifact: retries reset, errors cleared (or the
    /// destinations still lagging named), ready once the first snapshot is
    /// in and the source synced; its event published.
    pub(super) fn on_committed(&mut self, committed: &Committed) {
        self.retry.reset();
        self.retry_at = None;
        self.progress.clear_error(ErrorScope::Destination);
        self.progress.clear_error(ErrorScope::Manifest);
        if committed.kind == ArtifactKind::Snapshot {
            self.pending = None;
        }
        if !committed.lagging.is_empty() {
            self.progress.error(
                ErrorScope::Destination,
                format_args!(
                    "manifest not yet stored on {} (retried with the next write)",
                    committed.lagging.join(", ")
                ),
            );
        }
        if self.pending.is_none() && self.replica.is_synced() {
            self.become_ready();
        }
        self.publisher.publish(self.event_for(committed));
        self.publish();
    }

    /// A failed write: fenced stops the table for good; anything else
    /// degrades it and retries after the next back-off delay.
    pub(super) fn on_failed(&mut self, error: &ArchiveError) {
        if error.is_fenced() {
            // The archive reported the fence (`Fenced`: metrics and the
            // other writer); this says what the table does about it.
            let error = with_causes(error);
            tracing::error!(%error, "fenced: stopping all writes; remove the other writer, then restart this one");
            self.progress.state = TableState::Fenced;
            self.progress.ready = false;
            self.progress.error(ErrorScope::Manifest, error);
            self.source = None;
        } else {
            let delay = self.retry.next_delay();
            self.ctx.metrics.emit(WriteFailed {
                error,
                retry_in: delay,
                spool_label: &self.spool_label,
            });
            self.progress.state = TableState::Degraded;
            self.progress
                .error(ErrorScope::Destination, with_causes(error));
            let at = Instant::now() + delay;
            self.retry_at = Some(at);
            self.next_tick = at;
        }
        self.publish();
    }

    /// The advisory event of a committed artifact, with the URIs of its
    /// objects from the manifest.
    pub(super) fn event_for(&self, committed: &Committed) -> Event {
        let manifest = self.archive.manifest();
        let formats = manifest
            .artifacts
            .iter()
            .rev()
            .find(|a| a.id.as_deref() == Some(committed.id.as_str()))
            .map(|a| {
                a.formats
                    .iter()
                    .map(|(id, f)| (id.clone(), f.uri.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Event {
            table: self.ctx.name(),
            kind: match committed.kind {
                ArtifactKind::Snapshot => EventKind::Snapshot,
                ArtifactKind::Diff => EventKind::Diff,
            },
            epoch: committed.epoch,
            from_position: committed.from_position.clone(),
            to_position: committed.position.clone(),
            head_position: manifest.head_position.clone(),
            manifest_uri: self.manifest_uri.clone(),
            formats,
            created_at: committed
                .created_at
                .parse()
                .unwrap_or_else(|_| Timestamp::now()),
            id: committed.id.clone(),
            writer: Some(self.ctx.identity.clone()),
        }
    }

    /// Publishes the table's progress (`/status`, metrics): the source's
    /// state, the archive's head and how fresh it is.
    pub(super) fn publish(&mut self) {
        let source = match &self.source {
            Some(source) => {
                let state = source.state();
                self.reflect_source(&state);
                state.to_status(self.replica.cursor())
            }
            None => crate::status::SourceStatus {
                server: self.ctx.config.source.server.clone(),
                ..Default::default()
            },
        };
        let manifest = self.archive.manifest();
        let now = Timestamp::now();
        if let Some(last) = manifest.last_snapshot()
            && let Ok(at) = last.created_at.parse::<Timestamp>()
        {
            let age = now.duration_since(at).as_secs().max(0);
            self.ctx.metrics.snapshot_age_seconds.set(age);
        }
        let received = &self.replica.cursor().position;
        let behind = self
            .freshness
            .of_head(manifest, received, self.buffer.depth(), now);
        let lag = Freshness::seconds(behind.as_ref());
        self.ctx.metrics.head_behind_seconds.set(lag);
        let at = Snapshot {
            archive: Some((manifest, self.archive.settings())),
            manifest_uri: self.manifest_uri.clone(),
            buffer_depth: self.buffer.depth(),
            churn: self.buffer.churn(),
            rows: self.replica.table().len() as u64,
            source,
            behind,
        };
        publish(self.ctx, &self.progress, &at);
    }

    /// Shows a source that cannot stream as this table's error (and the
    /// table as degraded) until it streams again.
    pub(super) fn reflect_source(&mut self, state: &SourceState) {
        let streaming = state.connection == ConnectionState::Streaming;
        match &state.last_error {
            Some(error) if !streaming => {
                self.progress
                    .error_at(ErrorScope::Source, &error.message, error.at);
                if matches!(self.progress.state, TableState::Live | TableState::Syncing) {
                    self.progress.state = TableState::Degraded;
                }
            }
            _ if streaming => {
                self.progress.clear_error(ErrorScope::Source);
                if self.progress.state == TableState::Degraded && self.progress.last_error.is_none()
                {
                    self.progress.state = if self.progress.ready {
                        TableState::Live
                    } else {
                        TableState::Syncing
                    };
                }
            }
            _ => {}
        }
    }
}
