//! The connection's observable state, for `/status` and metrics.

use std::sync::{Arc, Mutex, PoisonError};

use laredo_proto::replication::v1::SyncMode;

use super::Cursor;
use crate::config::SourceProtocol;
use crate::metrics::TableMetrics;

/// What the connection task is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Connecting, or waiting for the handshake.
    Connecting,
    /// A stream is open.
    Streaming,
    /// Waiting before the next attempt.
    Backoff,
    /// The task ended (the handle or the replica was dropped).
    Stopped,
}

/// An error with the time it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedError {
    /// The error, as logged.
    pub message: String,
    /// When.
    pub at: jiff::Timestamp,
}

/// A snapshot of the source's state.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceState {
    /// `http://host:port` of the server.
    pub server: String,
    /// The wire protocol.
    pub protocol: SourceProtocol,
    /// What the connection task is doing.
    pub connection: ConnectionState,
    /// Sync mode of the current (or last) stream.
    pub mode: Option<SyncMode>,
    /// Whether the current stream has caught up with the server.
    pub live: bool,
    /// Streams ended and reopened since start (GoAway handoffs included).
    pub reconnects: u64,
    /// The most recent stream failure; kept after recovery, with its time.
    pub last_error: Option<ReportedError>,
}

impl SourceState {
    /// The `source` object of `GET /status`, with the replica's cursor.
    pub fn to_status(&self, cursor: &Cursor) -> crate::status::SourceStatus {
        crate::status::SourceStatus {
            server: self.server.clone(),
            connected: self.connection == ConnectionState::Streaming,
            mode: self.mode.map(|m| mode_name(m).to_owned()),
            sequence: cursor.sequence,
            position: cursor.position.clone(),
            reconnects: self.reconnects,
        }
    }
}

/// A sync mode as `/status` spells it.
pub fn mode_name(mode: SyncMode) -> &'static str {
    match mode {
        SyncMode::Unspecified => "unspecified",
        SyncMode::FullSnapshot => "full_snapshot",
        SyncMode::Delta => "delta",
        SyncMode::DeltaFromSnapshot => "delta_from_snapshot",
        SyncMode::ReplayArchive => "replay_archive",
    }
}

/// A cloneable reader of a source's state, for tasks that do not own the
/// [`Source`](super::Source) (e.g. the HTTP `/status` handler).
#[derive(Debug, Clone)]
pub struct StatusHandle(pub(crate) SharedState);

impl StatusHandle {
    /// The connection's state now.
    pub fn get(&self) -> SourceState {
        self.0.get()
    }
}

/// The state shared by the connection task (writer) and the handles (readers).
#[derive(Debug, Clone)]
pub(crate) struct SharedState {
    state: Arc<Mutex<SourceState>>,
    metrics: TableMetrics,
}

impl SharedState {
    pub fn new(server: String, protocol: SourceProtocol, metrics: TableMetrics) -> Self {
        let state = SourceState {
            server,
            protocol,
            connection: ConnectionState::Connecting,
            mode: None,
            live: false,
            reconnects: 0,
            last_error: None,
        };
        Self {
            state: Arc::new(Mutex::new(state)),
            metrics,
        }
    }

    pub fn get(&self) -> SourceState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut SourceState)) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut state);
        self.metrics
            .source_connected
            .set(i64::from(state.connection == ConnectionState::Streaming));
    }

    pub fn set_connection(&self, connection: ConnectionState) {
        self.update(|s| {
            s.connection = connection;
            if connection != ConnectionState::Streaming {
                s.live = false;
            }
        });
    }

    pub fn streaming(&self, mode: SyncMode) {
        self.update(|s| {
            s.connection = ConnectionState::Streaming;
            s.mode = Some(mode);
        });
    }

    pub fn set_live(&self) {
        self.update(|s| s.live = true);
    }

    pub fn reconnecting(&self, error: Option<String>) {
        self.metrics.source_reconnects.inc();
        self.update(|s| {
            s.reconnects += 1;
            if let Some(message) = error {
                s.last_error = Some(ReportedError {
                    message,
                    at: jiff::Timestamp::now(),
                });
            }
        });
    }
}
