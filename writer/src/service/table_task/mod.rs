//! One table's writer task: open the archive (retrying while destinations are
//! down), continue its chain or start a new one, subscribe to the source, and
//! then apply changes, tick the re-base policy, serve forced snapshots and
//! flush a final diff on shutdown.
//!
//! A table never writes a snapshot of a table that has not caught up with the
//! source; diffs are written whenever a base exists (a reconnect does not
//! make buffered changes wrong). A failed write keeps every buffered change
//! (the archive guarantees it) and is retried with backoff. A fenced writer
//! (another writer committed to the prefix) stops writing for good: it stays
//! up, reports `fenced`, and is not ready, until someone removes the other
//! writer and restarts this one.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::handle::{SnapshotFailure, TableCommand};
use super::progress::{Progress, Snapshot};
use super::wiring;
use crate::archive::{ArchiveError, ArchiveSettings, ArchiveWriter};
use crate::aws::{AwsError, CredentialResolver};
use crate::config::TableConfig;
use crate::dest::Destination;
use crate::metrics::TableMetrics;
use crate::source::{Backoff, Cursor};
use crate::status::{ErrorScope, TableState, TableStatus};
use crate::table::Table;
use crate::telemetry::internal_events::{DestinationFailed, TableRestored};
use crate::telemetry::with_causes;
use running::Running;

mod running;

/// How often `/status` is refreshed while changes stream in.
const STATUS_REFRESH: Duration = Duration::from_millis(250);

/// Everything a table task needs from the process.
#[derive(Debug, Clone)]
pub struct TableContext {
    /// The table's config.
    pub config: TableConfig,
    /// This process's writer identity, recorded in every manifest it commits.
    pub identity: String,
    /// Shared credential profiles.
    pub resolver: Arc<CredentialResolver>,
    /// The table's metrics.
    pub metrics: TableMetrics,
    /// Where the task publishes its status.
    pub status: watch::Sender<TableStatus>,
    /// Cancelled on SIGTERM/SIGINT.
    pub shutdown: CancellationToken,
    /// Time allowed for the final flush after `shutdown`.
    pub grace: Duration,
}

impl TableContext {
    fn name(&self) -> String {
        self.config.qualified_name()
    }
}

/// The span every log line of a table's task runs in, also from the work it
/// spawns (source session, event publishing, blocking file and encoding
/// work): the table (`schema.table`) and the key prefix it writes under,
/// which together name the archive.
pub fn span(config: &TableConfig) -> tracing::Span {
    tracing::info_span!(
        "table",
        table = %config.qualified_name(),
        key_prefix = %config.effective_key_prefix(),
    )
}

/// Why the archive could not be opened (retried with backoff).
#[derive(Debug, thiserror::Error)]
enum OpenError {
    /// A destination's client could not be set up.
    #[error(transparent)]
    Connect(#[from] AwsError),
    /// The manifests could not be read, or the spool directory made.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Runs the table until shutdown.
pub async fn run(ctx: &TableContext, commands: &mut mpsc::Receiver<TableCommand>) {
    let mut progress = Progress::starting(&ctx.name());
    publish(ctx, &progress, &Snapshot::default());
    let Some((archive, dests)) = open_archive(ctx, commands, &mut progress).await else {
        return stop(ctx, progress);
    };
    let mut task = Box::pin(Running::start(ctx, archive, &dests, progress)).await;
    task.run(commands).await;
}

/// Opens the archive, retrying with backoff until it succeeds or shutdown.
async fn open_archive(
    ctx: &TableContext,
    commands: &mut mpsc::Receiver<TableCommand>,
    progress: &mut Progress,
) -> Option<(ArchiveWriter, Vec<Arc<dyn Destination>>)> {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        let attempt = async {
            let dests = wiring::destinations(&ctx.config, &ctx.resolver).await?;
            for dest in &dests {
                ctx.metrics.track_destination(dest.name());
            }
            let settings = ArchiveSettings::from_table_config(&ctx.config);
            ArchiveWriter::open(
                dests.clone(),
                settings,
                ctx.identity.clone(),
                ctx.metrics.clone(),
            )
            .await
            .map(|archive| (archive, dests.clone()))
            .map_err(|error| {
                if matches!(error, ArchiveError::Spool { .. }) {
                    // The spool directory cannot be created (a full or
                    // read-only disk): counted like the running writes'.
                    ctx.metrics.emit(DestinationFailed {
                        dest: &running::spool_label(&dests),
                    });
                }
                OpenError::Archive(error)
            })
        };
        let error = match attempt.await {
            Ok(opened) => return Some(opened),
            Err(error) => error,
        };
        let delay = backoff.next_delay();
        let error = with_causes(&error).to_string();
        tracing::warn!(%error, retry_in = ?delay, "cannot open the archive; retrying");
        progress.state = TableState::Degraded;
        progress.error(
            ErrorScope::Destination,
            format_args!("opening the archive: {error}"),
        );
        publish(ctx, progress, &Snapshot::default());
        let wake = Instant::now() + delay;
        loop {
            tokio::select! {
                () = ctx.shutdown.cancelled() => return None,
                () = sleep_until(wake) => break,
                Some(command) = commands.recv() => refuse(command, SnapshotFailure::NotOpen),
            }
        }
    }
}

fn refuse(command: TableCommand, why: SnapshotFailure) {
    match command {
        TableCommand::ForceSnapshot { reply } => {
            let _ = reply.send(Err(why));
        }
    }
}

fn publish(ctx: &TableContext, progress: &Progress, at: &Snapshot<'_>) {
    ctx.status.send_replace(progress.to_status(at));
}

fn stop(ctx: &TableContext, mut progress: Progress) {
    progress.state = TableState::Stopped;
    progress.ready = false;
    publish(ctx, &progress, &Snapshot::default());
}

/// The table and cursor at the archive head, when the chain can continue.
async fn restore(ctx: &TableContext, archive: &ArchiveWriter) -> Option<(Table, Cursor)> {
    let manifest = archive.manifest();
    if !manifest.key_fields.is_empty() && manifest.key_fields != ctx.config.key_fields {
        tracing::warn!(archived = ?manifest.key_fields, configured = ?ctx.config.key_fields, "key fields changed; starting a new epoch from a full sync");
        return None;
    }
    match archive.restore().await {
        Ok(Some(restored)) => {
            ctx.metrics.emit(TableRestored {
                epoch: restored.epoch,
                head: &restored.position,
                rows: restored.table.len(),
            });
            let cursor = Cursor {
                sequence: restored.mark.sequence,
                position: restored.mark.position.clone(),
                position_is_exact: !restored.mark.position.is_empty(),
                snapshot_id: restored.mark.snapshot_id.clone(),
            };
            Some((restored.table, cursor))
        }
        Ok(None) => None,
        Err(error) => {
            tracing::error!(error = %with_causes(&error), "cannot rebuild the table from the archive; starting a new epoch from a full sync");
            None
        }
    }
}
