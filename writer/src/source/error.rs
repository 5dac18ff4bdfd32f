//! Why a stream from the fan-out server failed. Every variant leads to a
//! reconnect; the message names what was wrong.

use std::time::Duration;

use laredo_wire::frame::FrameError;

/// A failed connection attempt or stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// `source.server` is not `host:port` or `http://host:port`.
    #[error("source.server {server:?}: {reason}")]
    InvalidServer {
        /// The configured value.
        server: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS settings for an `https://` server cannot be used (a bad
    /// `source.tls.ca_file`, no root certificates).
    #[error("{0}")]
    Tls(String),
    /// A filter in `source.filters` cannot be sent.
    #[error("source.filters[{index}]: {reason}")]
    InvalidFilter {
        /// Position in the list.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The TCP connection or HTTP exchange failed, or the connection was cut.
    #[error("connection to {origin} failed: {reason}")]
    Connection {
        /// `http://host:port`.
        origin: String,
        /// The underlying error.
        reason: String,
    },
    /// No handshake within `connect_timeout`.
    #[error("no handshake from {origin} within {timeout:?}")]
    HandshakeTimeout {
        /// `http://host:port`.
        origin: String,
        /// `source.connect_timeout`.
        timeout: Duration,
    },
    /// Nothing (not even a heartbeat) arrived within `heartbeat_timeout`.
    #[error("stream silent for {0:?} (heartbeat_timeout): treating the connection as dead")]
    Silent(Duration),
    /// The response is not a replication stream (wrong status or content type).
    #[error("{origin} is not a laredo replication endpoint: {reason}")]
    NotAReplicationServer {
        /// `http://host:port`.
        origin: String,
        /// What the peer answered.
        reason: String,
    },
    /// The response body is not a sequence of protocol envelopes.
    #[error("malformed frame: {0}")]
    Frame(#[from] FrameError),
    /// A frame's payload is not a `SyncResponse`.
    #[error("malformed SyncResponse")]
    Decode(#[source] prost::DecodeError),
    /// A `SyncResponse` with no variant this client knows (a newer server?).
    #[error("SyncResponse with no known message variant (fields 1-8 absent)")]
    UnknownVariant,
    /// The server's history is not the one this replica follows (a
    /// different or reset source behind the same address): the replica
    /// resyncs from a full snapshot, which starts a new epoch.
    #[error("the source's history differs from this table's: {0}; resyncing from a full snapshot")]
    Diverged(String),
    /// Messages in an order the protocol does not allow.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// Connect's end-of-stream envelope is not the JSON the protocol defines.
    #[error("malformed end-of-stream message: {0}")]
    EndStream(String),
    /// The server ended the Connect stream with an error.
    #[error("server error {code}: {message}")]
    Status {
        /// The Connect/gRPC code in snake case (`not_found`, `internal`, …).
        code: String,
        /// The server's message.
        message: String,
    },
    /// A gRPC or gRPC-Web stream failed with this status, sent by the server
    /// or raised by tonic while decoding (tonic does not tell them apart).
    #[error("gRPC stream failed ({code}): {message}")]
    Grpc {
        /// The gRPC code in snake case.
        code: String,
        /// The status message.
        message: String,
    },
}
