//! The archive writer: the API the per-table service loop drives.
//!
//! ```text
//! open(destinations, settings, identity)   load and reconcile the manifests
//! restore()                                 table + source mark at the head, to continue the chain
//! loop {
//!     table.apply(…, |change| buffer.record(change))
//!     on timer (next_tick_in): tick(&table, &mut buffer, &mark)   policy → diff, snapshot or nothing
//!     on POST /snapshot: write_snapshot(&table, &mut buffer, &mark, Trigger::Forced)
//! }
//! ```
//!
//! A failed write never loses changes: before the objects are on every
//! destination the buffer is untouched (retried next time); once they are, the
//! buffer is drained into the manifest candidate, which is retried unchanged
//! until a destination stores it. [`ArchiveError::Fenced`] means another
//! writer owns the prefix: stop calling.
//!
//! The identity passed to [`ArchiveWriter::open`] must be unique per process
//! run (e.g. `host/pid/uuid`): a manifest written under the same identity is
//! taken as this writer's own.
//!
//! Here: opening and the writer's state. Continuing the chain after a
//! restart is in `restore.rs`, the policy's decision and the encoding of an
//! artifact in `tick.rs`, its commit in `artifact.rs` (objects put by
//! `upload.rs`), start-up cleaning in `cleanup.rs`.

mod artifact;
mod cleanup;
mod parquet;
mod restore;
mod settings;
mod tick;
mod upload;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

pub use settings::{ArchiveSettings, Committed, Restored, TickOutcome};

use super::ArchiveError;
use super::commit::ManifestStore;
use super::manifest::{Manifest, ManifestColumn};
use super::policy;
use super::spool::Spool;
use crate::dest::Destination;
use crate::metrics::TableMetrics;
use crate::telemetry::internal_events::ArchiveOpened;
use crate::telemetry::with_causes;

/// Writes one table's archive (module docs).
#[derive(Debug)]
pub struct ArchiveWriter {
    settings: ArchiveSettings,
    store: ManifestStore,
    spool: Spool,
    metrics: TableMetrics,
    identity: String,
}

impl ArchiveWriter {
    /// Opens the archive on every destination: reads each manifest, takes the
    /// most advanced, and brings lagging destinations up to date (copying
    /// artifacts they lack). Fails if a destination cannot be read.
    pub async fn open(
        dests: Vec<Arc<dyn Destination>>,
        settings: ArchiveSettings,
        identity: String,
        metrics: TableMetrics,
    ) -> Result<Self, ArchiveError> {
        let spool_dir = dests
            .iter()
            .find_map(|d| d.spool_dir())
            .unwrap_or_else(|| std::env::temp_dir().join("snapshot-writer-spool"));
        let spool = Spool::new(spool_dir)?;
        let store = ManifestStore::open(
            dests,
            &settings.key_prefix,
            &settings.table,
            identity.clone(),
            metrics.clone(),
        )
        .await?;
        let mut writer = Self {
            settings,
            store,
            spool,
            metrics,
            identity,
        };
        if !writer.store.lagging().is_empty() && !writer.store.committed().artifacts.is_empty() {
            if let Err(error) = writer.repair_lagging().await {
                tracing::warn!(error = %with_causes(&error), "could not copy artifacts to a lagging destination; retried on the next write");
            } else if let Err(error) = writer.store.sync().await {
                if error.is_fenced() {
                    return Err(error);
                }
                tracing::warn!(error = %with_causes(&error), "could not bring a lagging destination up to date");
            }
        }
        writer.clean_up_after_kill().await;
        writer.metrics.emit(ArchiveOpened {
            identity: &writer.identity,
            manifest: writer.store.committed(),
        });
        Ok(writer)
    }

    /// The settings it writes with.
    pub fn settings(&self) -> &ArchiveSettings {
        &self.settings
    }

    /// The newest manifest stored on at least one destination.
    pub fn manifest(&self) -> &Manifest {
        self.store.committed()
    }

    /// Destinations that do not hold the newest manifest yet.
    pub fn lagging_destinations(&self) -> Vec<String> {
        self.store.lagging()
    }

    /// Whether another writer owns the prefix (every write now fails).
    pub fn is_fenced(&self) -> bool {
        self.store.fenced_error().is_some()
    }

    /// Sets the table's columns (from the source's handshake), recorded in
    /// `manifest.json` from the next commit on; until then, and while none
    /// are set, the manifest keeps the columns it has.
    pub fn set_columns(&mut self, columns: Vec<ManifestColumn>) {
        self.settings.columns = columns;
    }

    /// How long to sleep before the next [`tick`](Self::tick), given the
    /// time since the last one.
    pub fn next_tick_in(&self, since_last_tick: Duration) -> Duration {
        let since_snapshot = self.since_last_snapshot(Timestamp::now());
        policy::next_tick_in(
            &self.settings.policy,
            self.settings.diff_interval,
            since_last_tick,
            since_snapshot,
        )
    }

    fn since_last_snapshot(&self, now: Timestamp) -> Option<Duration> {
        let snapshot = self.store.target().last_snapshot()?;
        // An unreadable time (hand-edited manifest) never forces a re-base.
        let at: Timestamp = snapshot.created_at.parse().ok().unwrap_or(now);
        Some(Duration::try_from(now.duration_since(at)).unwrap_or(Duration::ZERO))
    }
}

/// A new artifact id: a UUIDv7 (time-ordered, unique).
fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
