//! Integration tests of the `snapshot-writer` binary as a process: its HTTP
//! API, shutdown and crash behaviour, multi-table isolation and its command
//! line, against the fan-out simulator over real sockets.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../support/mod.rs"]
mod support;

mod api;
mod churn;
mod command_line;
mod harness;
mod lifecycle;
mod logs;
