//! The handle through which the HTTP API (and the demo) sees and drives one
//! table's writer task: its latest status, and forced snapshots.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::status::{ArtifactStatus, TableStatus};

/// A request from outside the table task.
#[derive(Debug)]
pub enum TableCommand {
    /// Write a new base snapshot now (new epoch), regardless of thresholds,
    /// and answer once it is committed on every destination.
    ForceSnapshot {
        /// Receives the committed snapshot or why it failed.
        reply: oneshot::Sender<Result<ArtifactStatus, String>>,
    },
}

/// Why a forced snapshot did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotRequestError {
    /// The table task has stopped.
    #[error("the writer for this table has stopped")]
    Stopped,
    /// The snapshot was not committed in time.
    #[error("the snapshot did not complete within {0:?}")]
    TimedOut(Duration),
    /// The snapshot was attempted and failed.
    #[error("{0}")]
    Failed(String),
}

/// A cloneable handle on one table's writer task.
#[derive(Debug, Clone)]
pub struct TableHandle {
    name: Arc<str>,
    status: watch::Receiver<TableStatus>,
    commands: mpsc::Sender<TableCommand>,
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

    /// Asks the task for a snapshot and waits for it to be committed.
    pub async fn force_snapshot(
        &self,
        timeout: Duration,
    ) -> Result<ArtifactStatus, SnapshotRequestError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(TableCommand::ForceSnapshot { reply })
            .await
            .map_err(|_| SnapshotRequestError::Stopped)?;
        match tokio::time::timeout(timeout, answer).await {
            Err(_) => Err(SnapshotRequestError::TimedOut(timeout)),
            Ok(Err(_)) => Err(SnapshotRequestError::Stopped),
            Ok(Ok(result)) => result.map_err(SnapshotRequestError::Failed),
        }
    }
}
