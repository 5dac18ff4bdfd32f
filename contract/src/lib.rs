//! What the snapshot writer and the SnapshotTable operator agree on, in one
//! place both depend on:
//!
//! - [`config`]: the writer's YAML config (types, defaults, the loader and
//!   its validation, which reports every problem with its path);
//! - [`units`]: the duration (`30s`) and size (`32MiB`) grammar of that
//!   config;
//! - [`status`]: the document `GET /status` serves, read by the operator;
//! - [`snapshot`]: the answer of `POST /snapshot` (the snapshot it made);
//! - [`names`]: the writer's port, HTTP paths and config file location;
//! - [`rules`]: the validation messages the operator's CRD rules repeat;
//! - [`causes`]: an error with its causes as one line of text, as both
//!   sides log and report errors.
//!
//! No AWS SDK, no async runtime, no Kubernetes client: the operator links
//! this crate without linking the writer.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod causes;
pub mod config;
pub mod names;
pub mod rules;
pub mod snapshot;
pub mod status;
pub mod units;

pub use config::{ConfigError, WriterConfig, load_file, parse_str};
pub use units::{ByteSize, GoDuration};
