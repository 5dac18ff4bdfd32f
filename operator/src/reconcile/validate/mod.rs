//! Step 1 (pure): check a SnapshotTable's spec and derive what the later steps
//! need. Every problem is reported with its field path; all problems are
//! listed at once, so one `kubectl apply` round fixes them all.
//!
//! The CRD's CEL rules and patterns catch most of this at admission; this
//! step repeats the checks that matter for the rendered writer config (the
//! writer rejects what it cannot run, and a pod in a crash loop is a worse
//! error message than a status condition) and covers clusters where CEL is
//! off.

use std::fmt;
use std::time::Duration;

use kube::ResourceExt;

use crate::crd::rules::NAME_TOO_LONG;
use crate::crd::{MAX_NAME_LENGTH, SnapshotTable};
use crate::units::{parse_duration, parse_size};

mod credentials;
mod fields;
mod immutable;
mod storage;

pub use immutable::bound_identity;

/// Termination grace period of the writer pod when the spec sets none.
pub const DEFAULT_GRACE_PERIOD_SECONDS: i64 = 60;
/// How much sooner than the pod's grace period the writer's own shutdown
/// deadline falls, so the final flush ends before the kubelet's SIGKILL.
pub const SHUTDOWN_MARGIN_SECONDS: i64 = 5;
/// Where the data volume is mounted when `writer.storage.mountPath` is unset.
pub const DEFAULT_MOUNT_PATH: &str = "/data";
/// Size of the claim requested for local destinations by default.
pub const DEFAULT_STORAGE_SIZE: &str = "10Gi";

/// One problem in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path from the resource root, e.g. `spec.snapshot.maxInterval`.
    pub path: String,
    /// What is wrong, naming the value.
    pub message: String,
}

/// Every problem found in a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidSpec(pub Vec<FieldError>);

impl fmt::Display for InvalidSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", error.path, error.message)?;
        }
        Ok(())
    }
}

/// The IAM role of an `irsa` profile, for the writer's ServiceAccount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrsaRole {
    /// Name of the profile in `spec.credentials`.
    pub profile: String,
    /// The role ARN.
    pub role_arn: String,
}

/// The data volume local destinations live on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataVolume {
    /// Mount path in the writer container.
    pub mount_path: String,
    /// Claim size when the operator creates the claim.
    pub size: String,
    /// Storage class of a created claim.
    pub storage_class_name: Option<String>,
    /// An existing claim to mount instead.
    pub existing_claim: Option<String>,
}

/// A spec that passed validation, with what the build and claim steps derive
/// from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedSpec {
    /// `schema.table`, the writer's name for the table.
    pub table: String,
    /// The key prefix in effect (`keyPrefix` or `<table>/`).
    pub key_prefix: String,
    /// The role for the writer's ServiceAccount, from the `irsa` profile.
    pub irsa: Option<IrsaRole>,
    /// The pod's termination grace period.
    pub grace_period_seconds: i64,
    /// The writer's shutdown deadline (`shutdown.grace_period`).
    pub writer_shutdown: Duration,
    /// The data volume, when there is a local destination.
    pub data_volume: Option<DataVolume>,
    /// Where this resource's archive lives, one entry per destination that
    /// another SnapshotTable could also write (see [`crate::reconcile::claims`]).
    pub locations: Vec<String>,
}

/// Checks `table` and derives the build inputs.
pub fn validate(table: &SnapshotTable) -> Result<ValidatedSpec, InvalidSpec> {
    let mut errors = Errors::default();
    let spec = &table.spec;
    let name = table.name_any();
    if name.len() > MAX_NAME_LENGTH {
        errors.push(
            "metadata.name",
            format!("{NAME_TOO_LONG} ({name:?} has {} characters)", name.len()),
        );
    }
    fields::check_source(&spec.source, &mut errors);
    fields::check_cadence(spec, &mut errors);
    let irsa = credentials::check_credentials(table, &mut errors);
    let data_volume = storage::data_volume(table, &mut errors);
    let key_prefix = spec
        .key_prefix
        .clone()
        .unwrap_or_else(|| format!("{}/", spec.source.table));
    let locations =
        storage::check_destinations(table, data_volume.as_ref(), &key_prefix, &mut errors);
    credentials::check_events(table, &mut errors);
    immutable::check_unchanged(table, &mut errors);
    let grace_period_seconds = check_writer(table, &mut errors);

    errors.finish()?;
    let shutdown_seconds =
        u64::try_from(grace_period_seconds - SHUTDOWN_MARGIN_SECONDS).unwrap_or(0);
    Ok(ValidatedSpec {
        table: table.qualified_table(),
        key_prefix,
        irsa,
        grace_period_seconds,
        writer_shutdown: Duration::from_secs(shutdown_seconds),
        data_volume,
        locations,
    })
}

/// Checks `spec.writer`; returns the pod's termination grace period.
fn check_writer(table: &SnapshotTable, errors: &mut Errors) -> i64 {
    let spec = &table.spec;
    let grace_period_seconds = spec
        .writer
        .as_ref()
        .and_then(|w| w.termination_grace_period_seconds)
        .unwrap_or(DEFAULT_GRACE_PERIOD_SECONDS);
    if grace_period_seconds < 2 * SHUTDOWN_MARGIN_SECONDS {
        errors.push(
            "spec.writer.terminationGracePeriodSeconds",
            format!(
                "{grace_period_seconds} leaves no time for the final flush; at least {}",
                2 * SHUTDOWN_MARGIN_SECONDS
            ),
        );
    }
    if let Some(policy) = spec
        .writer
        .as_ref()
        .and_then(|w| w.image_pull_policy.as_deref())
        && !matches!(policy, "Always" | "IfNotPresent" | "Never")
    {
        errors.push(
            "spec.writer.imagePullPolicy",
            format!("{policy:?} is not one of Always, IfNotPresent, Never"),
        );
    }
    grace_period_seconds
}

fn check_endpoint(errors: &mut Errors, path: &str, endpoint: Option<&str>) {
    if let Some(url) = endpoint {
        let valid = ["http://", "https://"].iter().any(|scheme| {
            url.strip_prefix(scheme)
                .is_some_and(|rest| !rest.is_empty())
        });
        if !valid {
            errors.push(
                path,
                format!("invalid endpoint {url:?}: expected http(s)://host[:port]"),
            );
        }
    }
}

/// Collects field errors.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    fn duration(&mut self, path: &str, text: Option<&str>) -> Option<Duration> {
        match parse_duration(text?) {
            Ok(duration) => Some(duration),
            Err(message) => {
                self.push(path, message);
                None
            }
        }
    }

    fn positive_duration(&mut self, path: &str, text: Option<&str>) -> Option<Duration> {
        let duration = self.duration(path, text)?;
        if duration.is_zero() {
            self.push(path, "must be greater than 0");
            return None;
        }
        Some(duration)
    }

    fn size(&mut self, path: &str, text: Option<&str>) -> Option<u64> {
        match parse_size(text?) {
            Ok(size) => Some(size),
            Err(message) => {
                self.push(path, message);
                None
            }
        }
    }

    fn finish(self) -> Result<(), InvalidSpec> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(InvalidSpec(self.0))
        }
    }
}

#[cfg(test)]
mod tests;
