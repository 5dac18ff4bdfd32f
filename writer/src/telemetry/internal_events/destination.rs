//! Failed destination operations, each counted in
//! `snapshotter_destination_errors_total{dest}` (the alert on destination
//! errors fires on it). Those whose error goes on to the caller are only
//! counted ([`DestinationFailed`]): the caller reports the error where it
//! handles it; those the archive handles itself are also logged here.

use std::error::Error;

use crate::archive::ArchiveError;
use crate::archive::retention::Deletion;
use crate::metrics::TableMetrics;
use crate::telemetry::with_causes;

use super::InternalEvent;

/// A destination (or the spool directory, `spool:<dir>`) failed and the
/// error is returned to the caller, which reports it: counted only.
pub struct DestinationFailed<'a> {
    /// The destination's name (the `dest` label).
    pub dest: &'a str,
}

impl InternalEvent for DestinationFailed<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.destination_error(self.dest);
    }
}

/// An artifact object could not be put on a destination.
pub struct ArtifactUploadFailed<'a> {
    /// The destination's name.
    pub dest: &'a str,
    /// The object's key.
    pub key: &'a str,
    /// Why.
    pub error: &'a (dyn Error + 'static),
}

impl InternalEvent for ArtifactUploadFailed<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.destination_error(self.dest);
        tracing::warn!(dest = %self.dest, key = %self.key, error = %with_causes(self.error), "artifact upload failed");
    }
}

/// The manifest could not be written to a destination (it is retried on the
/// next attempt).
pub struct ManifestWriteFailed<'a> {
    /// The destination's name.
    pub dest: &'a str,
    /// Why.
    pub error: &'a ArchiveError,
}

impl InternalEvent for ManifestWriteFailed<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.destination_error(self.dest);
        tracing::warn!(dest = %self.dest, error = %with_causes(self.error), "manifest write failed; retried on the next attempt");
    }
}

/// What retention dropped could not be deleted (retried after the next
/// commit).
pub struct RetentionDeleteFailed<'a> {
    /// The destination's name.
    pub dest: &'a str,
    /// The deletion that failed.
    pub deletion: &'a Deletion,
    /// Why.
    pub error: &'a (dyn Error + 'static),
}

impl InternalEvent for RetentionDeleteFailed<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.destination_error(self.dest);
        tracing::warn!(dest = %self.dest, deletion = ?self.deletion, error = %with_causes(self.error), "retention delete failed; retried after the next commit");
    }
}

/// The epochs a killed writer left could not be deleted (retried at the
/// next start).
pub struct RetiredEpochsDeleteFailed<'a> {
    /// The destination's name.
    pub dest: &'a str,
    /// Why.
    pub error: &'a (dyn Error + 'static),
}

impl InternalEvent for RetiredEpochsDeleteFailed<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.destination_error(self.dest);
        tracing::warn!(dest = %self.dest, error = %with_causes(self.error), "could not delete retired epochs; retried at the next start");
    }
}
