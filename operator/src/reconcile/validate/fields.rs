//! Checks of the table's own fields: the source subscription, the cadence
//! (diff, snapshot thresholds, retention) and the formats.

use std::collections::BTreeSet;
use std::time::Duration;

use super::Errors;
use crate::crd::rules::{BACKOFF_ORDER, FILTER_ONE_KIND, MIN_OVER_MAX};
use crate::crd::{SnapshotTableSpec, SourceSpec};

/// `spec.source`.
pub(super) fn check_source(source: &SourceSpec, errors: &mut Errors) {
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
                format!("{FILTER_ONE_KIND} (the filter on {:?})", filter.field),
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
                format!("{BACKOFF_ORDER} ({initial:?} > {max:?})"),
            );
        }
    }
}

/// `spec.keyFields`, `keyPrefix`, `diff`, `snapshot`, `retention`, `formats`.
pub(super) fn check_cadence(spec: &SnapshotTableSpec, errors: &mut Errors) {
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
                format!("{MIN_OVER_MAX} ({min:?} > {max:?})"),
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
}

fn is_scalar(value: &serde_json::Value) -> bool {
    matches!(
        value,
        serde_json::Value::String(_) | serde_json::Value::Number(_) | serde_json::Value::Bool(_)
    )
}
