//! The handle through which the HTTP API (and the demo) sees and drives one
//! table's writer task: its latest status, and forced snapshots.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::{mpsc, oneshot, watch};

use crate::archive::ArchiveError;
use crate::status::{ArtifactStatus, TableStatus};

/// A request from outside the table task.
#[derive(Debug)]
pub enum TableCommand {
    /// Write a new base snapshot now (new epoch), regardless of thresholds,
    /// and answer once it is committed on every destination.
    ForceSnapshot {
        /// Receives the committed snapshot or why there is none.
        reply: oneshot::Sender<Result<ArtifactStatus, SnapshotFailure>>,
    },
}

/// Why the table task did not write a forced snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotFailure {
    /// The archive could not be opened yet.
    #[error("the archive is not open yet (destination unavailable)")]
    NotOpen,
    /// Another writer owns the prefix.
    #[error("this writer is fenced: another writer owns the prefix")]
    Fenced,
    /// The table has not caught up with the source.
    #[error("the table is still syncing with the source; retry once /health/ready is 200")]
    Syncing,
    /// The snapshot was attempted and failed.
    #[error(transparent)]
    Failed(#[from] ArchiveError),
}

/// Why a forced snapshot did not complete.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SnapshotRequestError {
    /// The table task has stopped.
    #[error("the writer for this table has stopped")]
    Stopped,
    /// The snapshot was not committed in time.
    #[error("the snapshot did not complete within {0:?}")]
    TimedOut(Duration),
    /// The table task refused it or it failed (shared by every request that
    /// joined it).
    #[error(transparent)]
    Failed(Arc<SnapshotFailure>),
}

type SnapshotResult = Result<ArtifactStatus, SnapshotRequestError>;

/// The forced snapshot in progress, which later requests join.
type InFlight = Shared<BoxFuture<'static, SnapshotResult>>;

/// A cloneable handle on one table's writer task.
#[derive(Clone)]
pub struct TableHandle {
    name: Arc<str>,
    status: watch::Receiver<TableStatus>,
    commands: mpsc::Sender<TableCommand>,
    /// Shared by every clone: 200 concurrent `POST /snapshot` make one
    /// snapshot (one epoch), not 200.
    in_flight: Arc<Mutex<Option<InFlight>>>,
}

impl std::fmt::Debug for TableHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableHandle")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TableHandle {
    /// A handle over a task's status channel and command queue.
    pub fn new(
        name: impl Into<Arc<str>>,
        status: watch::Receiver<TableStatus>,
        commands: mpsc::Sender<TableCommand>,
    ) -> Self {
        Self {
            name: name.into(),
            status,
            commands,
            in_flight: Arc::default(),
        }
    }

    /// `schema.table`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The latest published status.
    pub fn status(&self) -> TableStatus {
        self.status.borrow().clone()
    }

    /// A receiver that changes whenever the status does.
    pub fn watch_status(&self) -> watch::Receiver<TableStatus> {
        self.status.clone()
    }

    /// Asks the task for a snapshot and waits up to `timeout` for it to be
    /// committed. A request made while another one's snapshot is still
    /// running joins it and gets its answer, instead of queueing one more
    /// snapshot (and epoch) behind it.
    pub async fn force_snapshot(&self, timeout: Duration) -> SnapshotResult {
        let request = self.join_or_start();
        match tokio::time::timeout(timeout, request).await {
            Err(_) => Err(SnapshotRequestError::TimedOut(timeout)),
            Ok(result) => result,
        }
    }

    fn join_or_start(&self) -> InFlight {
        let mut slot = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = slot.as_ref() {
            return running.clone();
        }
        let commands = self.commands.clone();
        let in_flight = Arc::clone(&self.in_flight);
        let request = async move {
            let result = request_snapshot(&commands).await;
            // Cleared under the lock as the answer is published: a request
            // after this starts a new snapshot.
            *in_flight.lock().unwrap_or_else(PoisonError::into_inner) = None;
            result
        }
        .boxed()
        .shared();
        *slot = Some(request.clone());
        // Driven to the end even if every caller times out, so the slot is
        // always cleared.
        tokio::spawn(request.clone());
        request
    }
}

async fn request_snapshot(commands: &mpsc::Sender<TableCommand>) -> SnapshotResult {
    let (reply, answer) = oneshot::channel();
    commands
        .send(TableCommand::ForceSnapshot { reply })
        .await
        .map_err(|_| SnapshotRequestError::Stopped)?;
    match answer.await {
        Err(_) => Err(SnapshotRequestError::Stopped),
        Ok(result) => result.map_err(|failure| SnapshotRequestError::Failed(Arc::new(failure))),
    }
}
