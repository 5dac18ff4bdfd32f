//! Running tables: one task per table (source → table → archive), isolated
//! from each other, with the handles the HTTP API uses, and shutdown.
//!
//! A table whose source or destinations fail keeps retrying on its own and
//! shows it in `/status`; a bug that panics inside a table task restarts that
//! table from its archive, never the process or the other tables.

mod freshness;
pub mod handle;
mod progress;
mod table_task;
mod wiring;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::aws::CredentialResolver;
use crate::config::WriterConfig;
use crate::metrics::Metrics;
use crate::status::{TableState, TableStatus};
use crate::telemetry::internal_events::TaskPanicked;
use handle::{TableCommand, TableHandle};
use table_task::TableContext;

/// The running tables of one process.
#[derive(Debug)]
pub struct Service {
    handles: Vec<TableHandle>,
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

impl Service {
    /// Starts one task per table. Needs a Tokio runtime.
    pub fn start(config: &WriterConfig, metrics: &Metrics, identity: &str) -> Self {
        let resolver = Arc::new(CredentialResolver::new(config.credentials.clone()));
        Self::start_with(config, metrics, identity, resolver)
    }

    /// [`start`](Self::start) with the credential profiles resolved by
    /// `resolver` instead of one over the SDK default chain: for embedding,
    /// and for tests whose ambient identity must not come from the
    /// environment. `resolver` should define `config.credentials`.
    pub fn start_with(
        config: &WriterConfig,
        metrics: &Metrics,
        identity: &str,
        resolver: Arc<CredentialResolver>,
    ) -> Self {
        let shutdown = CancellationToken::new();
        let grace = config.shutdown.grace_period.0;
        let mut handles = Vec::with_capacity(config.tables.len());
        let mut tasks = JoinSet::new();
        for table in &config.tables {
            let name = table.qualified_name();
            let (status, status_rx) =
                watch::channel(TableStatus::starting(&name, &table.source.server));
            let (commands, inbox) = mpsc::channel(16);
            handles.push(TableHandle::new(name.clone(), status_rx, commands));
            let context = TableContext {
                config: table.clone(),
                identity: identity.to_owned(),
                resolver: Arc::clone(&resolver),
                metrics: metrics.table(&name),
                status,
                shutdown: shutdown.clone(),
                grace,
            };
            tasks.spawn(supervise(context, inbox).instrument(table_task::span(table)));
        }
        Self {
            handles,
            tasks,
            shutdown,
        }
    }

    /// One handle per table, in config order.
    pub fn handles(&self) -> Vec<TableHandle> {
        self.handles.clone()
    }

    /// Asks every table to flush and stop, and waits for them (each bounds
    /// its own flush by the grace period).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Runs a table task, restarting it (from its archive) after a panic.
async fn supervise(context: TableContext, mut inbox: mpsc::Receiver<TableCommand>) {
    let mut delay = Duration::from_secs(1);
    loop {
        let run = AssertUnwindSafe(Box::pin(table_task::run(&context, &mut inbox))).catch_unwind();
        match run.await {
            Ok(()) => return,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                context.metrics.emit(TaskPanicked {
                    message: &message,
                    restart_in: delay,
                });
                context.status.send_modify(|s| {
                    s.state = TableState::Degraded;
                    s.ready = false;
                });
                tokio::select! {
                    () = context.shutdown.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// A writer identity unique to this process run: the host (the pod name in
/// Kubernetes), the process id and a random suffix. Recorded in every
/// manifest this process commits; compare-and-swap conflicts with another
/// identity fence this writer.
pub fn writer_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}/{}/{}", std::process::id(), &suffix[..8])
}
