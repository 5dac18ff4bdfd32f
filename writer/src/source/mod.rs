//! The fan-out client: a `Sync` subscription to one table on a laredo
//! fan-out server, kept alive across disconnects, feeding a [`Replica`].
//!
//! ```text
//! socket ─ transport (connect | grpc_web | grpc) ─ session ─ batches ─▶ Replica::apply ─▶ Update
//!          laredo_wire::frame, decode.rs           reconnect,   bounded     Table::apply     Change, Replaced,
//!                                                  backoff,     channel                      Synced, Rejected,
//!                                                  GoAway                                    Columns
//! ```
//!
//! Use:
//! ```no_run
//! # async fn run(config: snapshot_writer::config::SourceConfig) -> Result<(), snapshot_writer::source::SourceError> {
//! use snapshot_writer::source::{Cursor, Replica, Source, Update};
//! use snapshot_writer::table::{KeySpec, Table};
//! use snapshot_writer::metrics::TableMetrics;
//!
//! let mut replica = Replica::new(Table::new(KeySpec::default()), Cursor::default());
//! let mut source = Source::spawn(&config, &replica, TableMetrics::detached("public.t"))?;
//! while let Some(batch) = source.recv().await {
//!     replica.apply(batch, &mut |update| match update {
//!         Update::Change(change) => { /* buffer it for the next diff */ }
//!         Update::Replaced(replaced) => { /* the table was replaced: re-base */ }
//!         Update::Columns(_) => { /* the table's schema: record it in the manifest */ }
//!         Update::Synced(_) | Update::Rejected(_) => {}
//!     });
//!     let _cursor = replica.cursor(); // where the table stands now
//! }
//! # Ok(()) }
//! ```
//!
//! The connection task reads at most a few batches ahead (a bounded channel);
//! when the consumer is slow, reading stops and TCP pushes back on the server.
//! Before every reconnect it waits until the consumer has applied every batch
//! it was given, so it resumes from exactly the applied cursor.

mod backoff;
mod checked;
mod connect;
mod cursor;
mod decode;
mod entry;
mod error;
mod event;
mod grpc;
mod replica;
mod session;
mod state;
pub mod tls;
mod transport;

use tokio::sync::mpsc;

pub use backoff::Backoff;
pub use connect::CONTENT_TYPE_CONNECT;
pub use cursor::{CatchUp, Cursor};
pub use decode::{ServerMessage, decode_response};
pub use entry::JournalEntry;
pub use error::SourceError;
pub use event::{Batch, Event};
pub use replica::{Rejection, Replacement, Replica, ReplicaStats, Update};
pub use state::{ConnectionState, ReportedError, SourceState, StatusHandle, mode_name};
/// Checks a `source.server` value as the transports will (`check-config`
/// uses it), returning the `http://host:port` origin.
pub use transport::origin as server_origin;

use crate::config::SourceConfig;
use crate::metrics::TableMetrics;

/// Batches buffered between the connection task and the consumer.
const CHANNEL_BATCHES: usize = 8;

/// A running subscription: the connection task and the receiving end of its
/// batches. Dropping it stops the task.
#[derive(Debug)]
pub struct Source {
    batches: mpsc::Receiver<Batch>,
    state: state::SharedState,
    task: tokio::task::JoinHandle<()>,
}

impl Source {
    /// Starts the connection task for `replica`, resuming from its cursor.
    /// Needs a Tokio runtime. Fails only on an invalid `server` or filter.
    pub fn spawn(
        config: &SourceConfig,
        replica: &Replica,
        metrics: TableMetrics,
    ) -> Result<Self, SourceError> {
        let transport = transport::Transport::new(config)?;
        let template = transport::RequestTemplate::new(config)?;
        let state =
            state::SharedState::new(transport.origin().to_owned(), config.protocol, metrics);
        let (sender, batches) = mpsc::channel(CHANNEL_BATCHES);
        let applied = replica.watch_applied();
        let last_batch = applied.borrow().batch;
        let session = session::Session {
            transport,
            template,
            heartbeat_timeout: config.heartbeat_timeout.0,
            connect_timeout: config.connect_timeout.0,
            backoff: Backoff::new(
                config.reconnect.initial_backoff.0,
                config.reconnect.max_backoff.0,
            ),
            state: state.clone(),
            batches: sender,
            applied,
            last_batch,
            resync: false,
        };
        // In the caller's span (the table's), like its own log lines.
        let task = tokio::spawn(tracing::Instrument::in_current_span(session.run()));
        Ok(Self {
            batches,
            state,
            task,
        })
    }

    /// The next batch; `None` once the connection task has stopped (only
    /// when the replica was dropped).
    pub async fn recv(&mut self) -> Option<Batch> {
        self.batches.recv().await
    }

    /// The connection's state now.
    pub fn state(&self) -> SourceState {
        self.state.get()
    }

    /// A reader of the state for other tasks.
    pub fn status_handle(&self) -> StatusHandle {
        StatusHandle(self.state.clone())
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        self.task.abort();
    }
}
