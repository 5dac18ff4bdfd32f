//! Step 1 (pure): check a SnapshotTable's spec and derive what the later steps
//! need, above all the writer config it stands for. Every problem is
//! reported with its field path; all problems are listed at once, so one
//! `kubectl apply` round fixes them all.
//!
//! The spec is mapped to the writer's config ([`mapping`]) and that config
//! is checked by the writer's own validation (`snapshot_contract`), its
//! problems told at their spec paths ([`paths`]): the operator accepts
//! exactly the configs the writer runs (a pod in a crash loop is a worse
//! error message than a status condition). What only a SnapshotTable has
//! (one kind per entry, `irsa`, storage, names, immutable fields) is checked
//! here. The CRD's CEL rules and patterns catch most of this at admission;
//! this step also covers clusters where CEL is off.

use std::fmt;
use std::time::Duration;

use kube::ResourceExt;
use snapshot_contract::config::{ConfigError, ConfigPath, WriterConfig, default_key_prefix};

use crate::crd::rules::NAME_TOO_LONG;
use crate::crd::{MAX_NAME_LENGTH, SnapshotTable};

mod credentials;
mod fields;
mod immutable;
mod mapping;
mod paths;
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
    /// The data volume, when there is a local destination.
    pub data_volume: Option<DataVolume>,
    /// Where this resource's archive lives, one entry per destination that
    /// another SnapshotTable could also write (see [`crate::reconcile::claims`]).
    pub locations: Vec<String>,
    /// The writer's config, checked by the writer's own validation; its
    /// shutdown deadline is [`SHUTDOWN_MARGIN_SECONDS`] inside the pod's
    /// grace period.
    pub config: WriterConfig,
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
    let grace_period_seconds = check_writer(table, &mut errors);
    let shutdown_seconds =
        u64::try_from(grace_period_seconds - SHUTDOWN_MARGIN_SECONDS).unwrap_or(0);
    let mapped = mapping::map(spec, Duration::from_secs(shutdown_seconds), &mut errors);
    fields::check_spec_only(spec, &mut errors);
    let irsa = credentials::check_credentials(table, &mut errors);
    credentials::check_events(table, &mut errors);
    let data_volume = storage::data_volume(table, &mut errors);
    let key_prefix = spec
        .key_prefix
        .clone()
        .unwrap_or_else(|| default_key_prefix(&spec.source.table));
    let locations =
        storage::check_destinations(table, data_volume.as_ref(), &key_prefix, &mut errors);
    immutable::check_unchanged(table, &mut errors);
    if let Err(invalid) = snapshot_contract::config::validate(&mapped.config) {
        // A destination left out of the config for its own problem (no
        // kind, or two) does not also leave the list empty.
        let left_out = mapped.destinations.len() < spec.destinations.len();
        let destinations = ConfigPath::root().join("tables[0].destinations");
        for problem in invalid.problems() {
            if left_out
                && matches!(problem, ConfigError::Invalid { path, .. } if *path == destinations)
            {
                continue;
            }
            errors.0.push(paths::field_error(problem, spec, &mapped));
        }
    }

    errors.finish()?;
    Ok(ValidatedSpec {
        table: table.qualified_table(),
        key_prefix,
        irsa,
        grace_period_seconds,
        data_volume,
        locations,
        config: mapped.config,
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
