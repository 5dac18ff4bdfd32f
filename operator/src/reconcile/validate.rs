//! Step 1 (pure): check a SnapshotTable's spec and derive what the later steps
//! need. Every problem is reported with its field path; all problems are
//! listed at once, so one `kubectl apply` round fixes them all.
//!
//! The CRD's CEL rules and patterns catch most of this at admission; this
//! step repeats the checks that matter for the rendered writer config (the
//! writer rejects what it cannot run, and a pod in a crash loop is a worse
//! error message than a status condition) and covers clusters where CEL is
//! off.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use kube::ResourceExt;

use crate::crd::{
    CredentialProfileSpec, DestinationSpec, EventSinkSpec, MAX_NAME_LENGTH, SnapshotTable,
};
use crate::units::{parse_duration, parse_size};

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
            format!("{name:?} is longer than {MAX_NAME_LENGTH} characters"),
        );
    }
    let source = &spec.source;
    for (key, value) in [
        ("server", &source.server),
        ("schema", &source.schema),
        ("table", &source.table),
    ] {
        if value.trim().is_empty() {
            errors.push(format!("spec.source.{key}"), "must not be empty");
        }
    }
    for (i, filter) in source.filters.iter().flatten().enumerate() {
        let path = format!("spec.source.filters[{i}]");
        let set = [
            filter.equals.is_some(),
            filter.prefix.is_some(),
            filter.one_of.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            errors.push(
                &path,
                format!(
                    "filter on {:?} needs exactly one of equals, prefix, in",
                    filter.field
                ),
            );
        }
        if let Some(value) = &filter.equals
            && !is_scalar(value)
        {
            errors.push(
                format!("{path}.equals"),
                format!("must be a string, number or boolean, not {value}"),
            );
        }
        if let Some(values) = &filter.one_of {
            if values.is_empty() {
                errors.push(format!("{path}.in"), "must list at least one value");
            }
            for (j, value) in values.iter().enumerate().filter(|(_, v)| !is_scalar(v)) {
                errors.push(
                    format!("{path}.in[{j}]"),
                    format!("must be a string, number or boolean, not {value}"),
                );
            }
        }
    }
    errors.positive_duration(
        "spec.source.heartbeatTimeout",
        source.heartbeat_timeout.as_deref(),
    );
    errors.positive_duration(
        "spec.source.connectTimeout",
        source.connect_timeout.as_deref(),
    );
    if let Some(size) = errors.size(
        "spec.source.maxMessageSize",
        source.max_message_size.as_deref(),
    ) && size < 1024
    {
        errors.push(
            "spec.source.maxMessageSize",
            format!("{size} bytes is too small; at least 1KiB"),
        );
    }
    if let Some(reconnect) = &source.reconnect {
        let initial = errors.positive_duration(
            "spec.source.reconnect.initialBackoff",
            reconnect.initial_backoff.as_deref(),
        );
        let max = errors.positive_duration(
            "spec.source.reconnect.maxBackoff",
            reconnect.max_backoff.as_deref(),
        );
        let initial = initial.unwrap_or(Duration::from_secs(1));
        let max = max.unwrap_or(Duration::from_secs(30));
        if initial > max {
            errors.push(
                "spec.source.reconnect.initialBackoff",
                format!("{initial:?} is longer than maxBackoff ({max:?})"),
            );
        }
    }
    if let Some(fields) = &spec.key_fields
        && (fields.is_empty() || fields.iter().any(|f| f.trim().is_empty()))
    {
        errors.push("spec.keyFields", "needs at least one non-empty column name");
    }
    if spec.key_prefix.as_deref().is_some_and(str::is_empty) {
        errors.push(
            "spec.keyPrefix",
            "must not be empty (omit it for the default `<table>/`)",
        );
    }
    if let Some(diff) = &spec.diff {
        errors.positive_duration("spec.diff.interval", diff.interval.as_deref());
    }
    if let Some(snapshot) = &spec.snapshot {
        let min = errors.duration(
            "spec.snapshot.minInterval",
            snapshot.min_interval.as_deref(),
        );
        let max = errors.duration(
            "spec.snapshot.maxInterval",
            snapshot.max_interval.as_deref(),
        );
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            errors.push(
                "spec.snapshot.minInterval",
                format!("{min:?} is longer than maxInterval ({max:?})"),
            );
        }
        errors.size(
            "spec.snapshot.maxDiffBytes",
            snapshot.max_diff_bytes.as_deref(),
        );
        for (key, fraction) in [
            ("maxDiffFraction", snapshot.max_diff_fraction),
            ("maxChurnFraction", snapshot.max_churn_fraction),
        ] {
            if let Some(value) = fraction
                && !(value.is_finite() && value > 0.0)
            {
                errors.push(
                    format!("spec.snapshot.{key}"),
                    format!("must be a number greater than 0, not {value}"),
                );
            }
        }
        if let Some(records) = snapshot.max_churn_records
            && records < 1
        {
            errors.push(
                "spec.snapshot.maxChurnRecords",
                format!("must be at least 1, not {records}"),
            );
        }
    }
    if let Some(keep) = spec.retention.as_ref().and_then(|r| r.keep_epochs)
        && keep < 0
    {
        errors.push(
            "spec.retention.keepEpochs",
            format!("must not be negative, not {keep}"),
        );
    }
    if let Some(formats) = &spec.formats {
        for (kind, list) in [("snapshot", &formats.snapshot), ("diff", &formats.diff)] {
            let Some(list) = list else { continue };
            let unique: BTreeSet<_> = list.iter().collect();
            if list.is_empty() {
                errors.push(
                    format!("spec.formats.{kind}"),
                    "at least one format is required",
                );
            } else if unique.len() != list.len() {
                errors.push(format!("spec.formats.{kind}"), "a format is listed twice");
            }
        }
    }

    let irsa = check_credentials(table, &mut errors);
    let data_volume = data_volume(table, &mut errors);
    let key_prefix = spec
        .key_prefix
        .clone()
        .unwrap_or_else(|| format!("{}/", source.table));
    let locations = check_destinations(table, data_volume.as_ref(), &key_prefix, &mut errors);
    check_events(table, &mut errors);

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

fn is_scalar(value: &serde_json::Value) -> bool {
    matches!(
        value,
        serde_json::Value::String(_) | serde_json::Value::Number(_) | serde_json::Value::Bool(_)
    )
}

/// Checks the profiles and returns the `irsa` role, if any.
fn check_credentials(table: &SnapshotTable, errors: &mut Errors) -> Option<IrsaRole> {
    let mut irsa: Vec<IrsaRole> = Vec::new();
    for (name, profile) in table.spec.credentials.iter().flatten() {
        let path = format!("spec.credentials.{name}");
        let CredentialProfileSpec {
            irsa: pod_identity,
            assume_role,
            ambient,
        } = profile;
        let kinds = [
            pod_identity.is_some(),
            assume_role.is_some(),
            ambient.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            errors.push(&path, "needs exactly one of irsa, assumeRole, ambient");
        }
        if let Some(role) = pod_identity {
            if !is_role_arn(&role.role_arn) {
                errors.push(
                    format!("{path}.irsa.roleArn"),
                    format!("invalid IAM role ARN {:?}", role.role_arn),
                );
            }
            irsa.push(IrsaRole {
                profile: name.clone(),
                role_arn: role.role_arn.clone(),
            });
        }
        if let Some(role) = assume_role
            && !role.role_arn.starts_with("arn:")
        {
            errors.push(
                format!("{path}.assumeRole.roleArn"),
                format!("invalid role ARN {:?}", role.role_arn),
            );
        }
    }
    if irsa.len() > 1 {
        let names: Vec<&str> = irsa.iter().map(|r| r.profile.as_str()).collect();
        errors.push(
            "spec.credentials",
            format!("at most one irsa profile (a pod has one ServiceAccount, hence one web identity); found {}", names.join(", ")),
        );
    }
    let overridden = table
        .spec
        .writer
        .as_ref()
        .and_then(|w| w.service_account_name.as_deref());
    if let (Some(role), Some(account)) = (irsa.first(), overridden) {
        errors.push(
            format!("spec.credentials.{}.irsa", role.profile),
            format!("writer.serviceAccountName is {account:?}, which the operator does not manage; annotate it yourself and use an ambient profile, or remove the override"),
        );
    }
    irsa.into_iter().next()
}

/// `arn:<partition>:iam::<12-digit account>:role/<name>`.
fn is_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let fields: Vec<&str> = parts.by_ref().collect();
    matches!(fields.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|r| !r.is_empty()))
}

/// The data volume, when a local destination needs one.
fn data_volume(table: &SnapshotTable, errors: &mut Errors) -> Option<DataVolume> {
    let has_local = table.spec.destinations.iter().any(|d| d.local.is_some());
    if !has_local {
        return None;
    }
    let storage = table
        .spec
        .writer
        .as_ref()
        .and_then(|w| w.storage.clone())
        .unwrap_or_default();
    let mount_path = storage
        .mount_path
        .unwrap_or_else(|| DEFAULT_MOUNT_PATH.to_owned());
    if !mount_path.starts_with('/') || mount_path.len() < 2 {
        errors.push(
            "spec.writer.storage.mountPath",
            format!("{mount_path:?} must be an absolute path below /"),
        );
    }
    let size = storage
        .size
        .unwrap_or_else(|| DEFAULT_STORAGE_SIZE.to_owned());
    if !is_quantity(&size) {
        errors.push(
            "spec.writer.storage.size",
            format!("{size:?} is not a quantity such as 10Gi"),
        );
    }
    Some(DataVolume {
        mount_path: mount_path.trim_end_matches('/').to_owned(),
        size,
        storage_class_name: storage.storage_class_name,
        existing_claim: storage.existing_claim,
    })
}

/// A plain Kubernetes quantity: digits, an optional fraction, a binary or
/// decimal suffix.
fn is_quantity(text: &str) -> bool {
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_len);
    !number.is_empty()
        && number.parse::<f64>().is_ok()
        && matches!(
            suffix,
            "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "k" | "M" | "G" | "T" | "P" | "E"
        )
}

/// Checks the destinations and returns their shareable locations.
fn check_destinations(
    table: &SnapshotTable,
    volume: Option<&DataVolume>,
    key_prefix: &str,
    errors: &mut Errors,
) -> Vec<String> {
    let spec = &table.spec;
    if spec.destinations.is_empty() {
        errors.push("spec.destinations", "at least one destination is required");
    }
    let mut locations = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, destination) in spec.destinations.iter().enumerate() {
        let path = format!("spec.destinations[{i}]");
        let DestinationSpec { local, s3 } = destination;
        if local.is_some() == s3.is_some() {
            errors.push(&path, "needs exactly one of local, s3");
            continue;
        }
        let (location, shareable) = if let Some(s3) = s3 {
            if s3.bucket.is_empty() {
                errors.push(format!("{path}.s3.bucket"), "must not be empty");
            }
            check_endpoint(
                errors,
                &format!("{path}.s3.endpoint"),
                s3.endpoint.as_deref(),
            );
            check_profile_reference(
                table,
                errors,
                &format!("{path}.s3.credentials"),
                s3.credentials.as_deref(),
            );
            // The writer's own notion of a destination root, so that the
            // operator and the writer agree on what "the same prefix" is.
            let root = format!(
                "{}s3://{}/{}",
                s3.endpoint.as_deref().unwrap_or(""),
                s3.bucket,
                s3.prefix.as_deref().unwrap_or("")
            );
            (format!("{root}{key_prefix}"), true)
        } else {
            let Some(local) = local else { continue };
            let Some(volume) = volume else { continue };
            let relative = local
                .path
                .strip_prefix(&volume.mount_path)
                .filter(|r| r.is_empty() || r.starts_with('/'));
            let escapes = local
                .path
                .split('/')
                .any(|part| part == ".." || part == ".");
            let Some(relative) = relative.filter(|_| !escapes) else {
                errors.push(
                    format!("{path}.local.path"),
                    format!("{:?} must be an absolute path under the data volume's mount path {:?} (writer.storage.mountPath)", local.path, volume.mount_path),
                );
                continue;
            };
            let relative = relative.trim_matches('/');
            match &volume.existing_claim {
                // A shared claim can hold several archives: the location is
                // the claim plus the path inside it.
                Some(claim) => (
                    format!(
                        "pvc://{}/{claim}/{relative}{}{key_prefix}",
                        table.namespace().unwrap_or_default(),
                        if relative.is_empty() { "" } else { "/" }
                    ),
                    true,
                ),
                // A claim from the StatefulSet's template belongs to this
                // resource alone: nobody else can write there.
                None => (
                    format!("{}/{key_prefix}", local.path.trim_end_matches('/')),
                    false,
                ),
            }
        };
        if !seen.insert(location.clone()) {
            errors.push(
                &path,
                format!(
                    "writes {location}, which another destination of this resource already writes"
                ),
            );
        }
        if shareable {
            locations.push(location);
        }
    }
    locations
}

fn check_events(table: &SnapshotTable, errors: &mut Errors) {
    for (i, sink) in table.spec.events.iter().flatten().enumerate() {
        let path = format!("spec.events[{i}]");
        let EventSinkSpec { sns, sqs, kinesis } = sink;
        let kinds = [sns.is_some(), sqs.is_some(), kinesis.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            errors.push(&path, "needs exactly one of sns, sqs, kinesis");
            continue;
        }
        let (kind, key, value, endpoint, credentials) = if let Some(s) = sns {
            ("sns", "topicArn", &s.topic_arn, &s.endpoint, &s.credentials)
        } else if let Some(s) = sqs {
            ("sqs", "queueUrl", &s.queue_url, &s.endpoint, &s.credentials)
        } else if let Some(s) = kinesis {
            ("kinesis", "stream", &s.stream, &s.endpoint, &s.credentials)
        } else {
            continue;
        };
        if value.is_empty() {
            errors.push(format!("{path}.{kind}.{key}"), "must not be empty");
        }
        check_endpoint(
            errors,
            &format!("{path}.{kind}.endpoint"),
            endpoint.as_deref(),
        );
        check_profile_reference(
            table,
            errors,
            &format!("{path}.{kind}.credentials"),
            credentials.as_deref(),
        );
    }
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

fn check_profile_reference(
    table: &SnapshotTable,
    errors: &mut Errors,
    path: &str,
    name: Option<&str>,
) {
    let Some(name) = name else { return };
    let profiles = table.spec.credentials.as_ref();
    if profiles.is_some_and(|p| p.contains_key(name)) {
        return;
    }
    let defined: Vec<&str> = profiles
        .into_iter()
        .flat_map(|p| p.keys())
        .map(String::as_str)
        .collect();
    let defined = if defined.is_empty() {
        "none".to_owned()
    } else {
        defined.join(", ")
    };
    errors.push(
        path,
        format!("unknown credential profile {name:?} (defined: {defined})"),
    );
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
#[path = "validate_tests.rs"]
mod tests;
