//! What the simulator can do wrong on request, for the client's fault
//! handling to be tested against.

/// Wrong bytes to send on every open stream ([`Sim::inject`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes that are no envelope (an HTML page) inside the stream.
    Garbage,
    /// An envelope whose payload is not a `SyncResponse`.
    MalformedMessage,
    /// A `SyncResponse` holding only a field this protocol version lacks.
    UnknownVariant,
    /// An envelope header announcing this many bytes, then a few bytes.
    Oversized(u32),
    /// Half an envelope, then the end of the response.
    TruncatedFrame,
    /// An end-of-stream message that is not the protocol's (bad JSON for
    /// Connect, garbage trailers for gRPC-Web, a non-numeric `grpc-status`).
    BadEndStream,
    /// A journal entry whose row is not a `Struct` (the stream stays valid).
    MalformedRow,
    /// A journal entry whose `action`, a string field, is not UTF-8.
    ActionNotText,
}

/// A fault for the next stream that sends a full snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotFault {
    /// Cut the connection after this many rows.
    DropAfterRows(usize),
    /// Go silent after this many rows (and signal [`Sim::wait_stalled`]).
    StallAfterRows(usize),
}

/// A wrong answer to the next HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFault {
    /// `200 OK` with an HTML page, as a misconfigured proxy.
    Html,
    /// This HTTP status with a plain-text body.
    Status(u16),
}
