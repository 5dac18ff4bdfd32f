//! `fanout-sim`: a laredo fan-out server for tests and demos. It speaks the
//! real replication protocol over real sockets, on one port, in every
//! dialect the client supports: Connect and gRPC-Web over HTTP/1.1 (or
//! HTTP/2), and gRPC over HTTP/2 cleartext; the request's content type
//! selects.
//!
//! It serves one table from a seeded generator (rows of ~200 bytes, eight
//! typed columns, key `id`) or from scripted changes, with laredo-server's
//! semantics: handshake with column definitions, mode choice (position →
//! sequence → full snapshot), snapshot, journal catch-up, live entries,
//! heartbeats when idle, GoAway on drain, filters. And it misbehaves on
//! request: drops connections, stalls, re-snapshots, sends positions that
//! do not advance or are empty with text values (as a PostgreSQL-backed
//! server), malformed and oversized frames, HTML.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fanout_sim::{Sim, SimConfig};
//! let sim = Sim::new(SimConfig { rows: 1000, ..SimConfig::default() });
//! let server = sim.serve("127.0.0.1:0".parse().unwrap()).await?;
//! let _changes = sim.spawn_generator(100.0); // 100 changes/s until dropped
//! println!("listening on {}", server.local_addr());
//! server.stop().await; // the state survives; `serve` again to restart
//! # Ok(()) }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod fault;
mod filter;
mod http;
mod row;
pub mod rows;
mod script;
mod server;
mod store;
mod stream;

pub use config::{LiveValues, PositionMode, SimConfig};
pub use fault::{Fault, RequestFault, SnapshotFault};
pub use filter::Filter;
pub use row::Row;
pub use script::{ScriptChange, ScriptError, parse_script};
pub(crate) use server::{Command, Shared};
pub use server::{Generating, Sim, SimServer};
