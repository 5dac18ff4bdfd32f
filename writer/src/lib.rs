//! The snapshot writer: subscribes to tables on a laredo fan-out server, holds
//! them in memory, and keeps them on durable storage as a base snapshot plus a
//! chain of diffs indexed by `manifest.json`. Also the reader that rebuilds a
//! table from such an archive.
//!
//! See `ARCHITECTURE.md` at the repository root for how the modules fit.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod archive;
pub mod aws;
pub mod blocking;
pub mod cli;
pub mod config;
pub mod dest;
pub mod events;
pub mod http;
pub mod metrics;
pub mod pg_type;
pub mod service;
pub mod source;
/// The `GET /status` document: the contract the operator reads.
pub use snapshot_contract::status;
pub mod table;
pub mod telemetry;
