//! The SnapshotTable operator: reconciles `SnapshotTable` resources
//! (`laredo.io/v1alpha1`) into one single-replica snapshot writer each.
//!
//! A reconcile runs a fixed pipeline, one module per step (see
//! [`reconcile`]): `validate` (pure: spec → [`reconcile::validate::ValidatedSpec`]),
//! `claims` (pure: who owns a destination prefix), `build` (pure: the child
//! objects), `apply` (server-side apply of the children), `rebase` (the
//! annotation → `POST /snapshot`), and `status` (the writer's `/status` →
//! the resource's status and conditions). [`controller`] wires the watches,
//! [`server`] serves `/metrics`, `/livez`, `/readyz`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cli;
pub mod controller;
pub mod crd;
mod error;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod server;
pub mod telemetry;
pub mod writer_client;

/// The repository root, for tests reading its files: from
/// `CARGO_MANIFEST_DIR` as cargo and nextest set it when they run a test,
/// else as it was at compile time (`tests/lib.rs` `repository()` says why).
#[cfg(test)]
pub(crate) fn repository() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        )
        .join("..")
}

#[cfg(test)]
mod fixtures;

pub use error::{Error, Result};

/// The field manager of every server-side apply the operator makes, and the
/// Events' reporting controller.
pub const MANAGER: &str = "snapshot-operator";
