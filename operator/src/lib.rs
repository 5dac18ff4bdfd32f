//! The SnapshotTable operator library.
