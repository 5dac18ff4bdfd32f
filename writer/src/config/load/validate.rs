//! Checks what the types cannot: references, ranges, non-empty lists, key
//! prefixes that stay inside their destination, and that no two tables
//! write the same place. Every problem is collected, so one `check-config`
//! run names them all.

use std::collections::HashMap;
use std::time::Duration;

use super::{ConfigError, join, location};
use crate::config::{
    CredentialProfile, DestinationConfig, EventSinkConfig, TableConfig, WriterConfig,
};

/// Shortest `diff.interval` accepted. Each flush encodes, uploads and
/// commits a manifest; below this the loop spins (`1ns` ran at 26 % CPU
/// with nothing to write) and no store keeps up anyway.
pub const MIN_DIFF_INTERVAL: Duration = Duration::from_millis(100);

/// The problems found so far.
#[derive(Default)]
struct Problems(Vec<ConfigError>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::invalid(path, message));
    }
}

/// Validates a parsed config; every problem is reported, one per entry of
/// [`ConfigError::Several`] (or the single one).
pub fn validate(config: &WriterConfig, inline: bool) -> Result<(), ConfigError> {
    let mut problems = Problems::default();
    if config.tables.is_empty() {
        problems.add("tables", "at least one table is required");
    }
    for (name, profile) in &config.credentials {
        if let CredentialProfile::AssumeRole {
            role_arn,
            external_id,
            session_name,
            ..
        } = profile
        {
            if !role_arn.starts_with("arn:") {
                problems.add(
                    format!("credentials.{name}.role_arn"),
                    format!("invalid role ARN {role_arn:?}"),
                );
            } else {
                no_nul(
                    &mut problems,
                    &format!("credentials.{name}.role_arn"),
                    role_arn,
                );
            }
            for (key, value) in [("external_id", external_id), ("session_name", session_name)] {
                if let Some(value) = value {
                    no_nul(&mut problems, &format!("credentials.{name}.{key}"), value);
                }
            }
        }
    }
    let mut claimed: HashMap<String, String> = HashMap::new();
    for (index, table) in config.tables.iter().enumerate() {
        let at = |key: &str| {
            if inline {
                key.to_owned()
            } else {
                join(&format!("tables[{index}]"), key)
            }
        };
        validate_table(config, table, &at, &mut problems);
        let prefix = table.effective_key_prefix();
        for (d, destination) in table.destinations.iter().enumerate() {
            let place = location::identity(destination, &prefix);
            let path = at(&format!("destinations[{d}]"));
            if let Some(other) = claimed.get(&place) {
                problems.add(
                    &path,
                    format!(
                        "writes its manifest at {place}, where {other} already writes; one table per place (give each table its own key_prefix or destination)"
                    ),
                );
            } else {
                claimed.insert(place, path);
            }
        }
    }
    match problems.0.len() {
        0 => Ok(()),
        1 => Err(problems.0.remove(0)),
        _ => Err(ConfigError::Several(problems.0)),
    }
}

/// A string that may not hold a NUL byte (no file system, URL or object
/// store takes one; at run time it fails with a misleading error).
fn no_nul(problems: &mut Problems, path: &str, value: &str) {
    if value.contains('\0') {
        problems.add(path, format!("{value:?} contains a NUL byte"));
    }
}

/// The key prefix must stay inside every destination: relative, no `..`
/// segment, no NUL. `path` names the key that set it (`key_prefix`, or
/// `source.table` for the default `<table>/`).
fn check_key_prefix(problems: &mut Problems, path: &str, prefix: &str, from_table: bool) {
    let what = if from_table {
        format!("the table name makes the default key_prefix {prefix:?}, which")
    } else {
        format!("{prefix:?}")
    };
    if prefix.contains('\0') {
        problems.add(path, format!("{what} contains a NUL byte"));
    } else if prefix.starts_with('/') {
        problems.add(
            path,
            format!("{what} is absolute; a key prefix is relative to each destination"),
        );
    } else if prefix.split('/').any(|segment| segment == "..") {
        problems.add(
            path,
            format!("{what} has a `..` segment, which would leave the destination"),
        );
    }
}

fn validate_table(
    config: &WriterConfig,
    table: &TableConfig,
    at: &dyn Fn(&str) -> String,
    problems: &mut Problems,
) {
    let source = &table.source;
    for (key, value) in [
        ("server", &source.server),
        ("schema", &source.schema),
        ("table", &source.table),
    ] {
        if value.trim().is_empty() {
            problems.add(at(&format!("source.{key}")), "must not be empty");
        }
        no_nul(problems, &at(&format!("source.{key}")), value);
    }
    if !source.server.trim().is_empty()
        && !source.server.contains('\0')
        && let Err(error) = crate::source::server_origin(&source.server)
    {
        let message = match error {
            crate::source::SourceError::InvalidServer { server, reason } => {
                format!("{server:?}: {reason}")
            }
            other => other.to_string(),
        };
        problems.add(at("source.server"), message);
    }
    if let Some(ca_file) = &source.tls.ca_file
        && let Err(error) = crate::source::tls::read_ca_file(ca_file)
    {
        problems.add(at("source.tls.ca_file"), error.to_string());
    }
    if let Some(client_id) = &source.client_id {
        no_nul(problems, &at("source.client_id"), client_id);
    }
    match &table.key_prefix {
        Some(prefix) => check_key_prefix(problems, &at("key_prefix"), prefix, false),
        None => check_key_prefix(
            problems,
            &at("source.table"),
            &table.effective_key_prefix(),
            true,
        ),
    }
    for (i, filter) in source.filters.iter().enumerate() {
        let set = [
            filter.equals.is_some(),
            filter.prefix.is_some(),
            filter.one_of.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            problems.add(
                at(&format!("source.filters[{i}]")),
                format!(
                    "filter on {:?} needs exactly one of `equals`, `prefix`, `in`",
                    filter.field
                ),
            );
        }
    }
    if source.heartbeat_timeout.0.is_zero() {
        problems.add(at("source.heartbeat_timeout"), "must be greater than 0");
    }
    if source.connect_timeout.0.is_zero() {
        problems.add(at("source.connect_timeout"), "must be greater than 0");
    }
    if source.max_message_size.0 < 1024 {
        problems.add(
            at("source.max_message_size"),
            format!("{} is too small; at least 1KiB", source.max_message_size),
        );
    }
    let reconnect = &source.reconnect;
    if reconnect.initial_backoff.0.is_zero() || reconnect.initial_backoff > reconnect.max_backoff {
        problems.add(
            at("source.reconnect"),
            format!(
                "initial_backoff ({}) must be greater than 0 and at most max_backoff ({})",
                reconnect.initial_backoff, reconnect.max_backoff
            ),
        );
    }
    if table.key_fields.is_empty() || table.key_fields.iter().any(|f| f.is_empty()) {
        problems.add(at("key_fields"), "needs at least one non-empty column name");
    }
    for (i, field) in table.key_fields.iter().enumerate() {
        no_nul(problems, &at(&format!("key_fields[{i}]")), field);
    }
    if table.diff.interval.0 < MIN_DIFF_INTERVAL {
        problems.add(
            at("diff.interval"),
            format!(
                "{} is below the minimum of {}ms",
                table.diff.interval,
                MIN_DIFF_INTERVAL.as_millis()
            ),
        );
    }
    let snapshot = &table.snapshot;
    for (key, fraction) in [
        ("max_diff_fraction", snapshot.max_diff_fraction),
        ("max_churn_fraction", snapshot.max_churn_fraction),
    ] {
        if let Some(value) = fraction
            && !(value.is_finite() && value > 0.0)
        {
            problems.add(
                at(&format!("snapshot.{key}")),
                format!("must be a number greater than 0, not {value}"),
            );
        }
    }
    if let (Some(min), Some(max)) = (snapshot.min_interval, snapshot.max_interval)
        && min > max
    {
        problems.add(
            at("snapshot.min_interval"),
            format!("{min} is longer than snapshot.max_interval ({max})"),
        );
    }
    if table.destinations.is_empty() {
        problems.add(at("destinations"), "at least one destination is required");
    }
    for (kind, formats) in [
        ("snapshot", &table.formats.snapshot),
        ("diff", &table.formats.diff),
    ] {
        let path = at(&format!("formats.{kind}"));
        if formats.is_empty() {
            problems.add(path, "at least one format is required");
            continue;
        }
        let mut seen = formats.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != formats.len() {
            problems.add(path, "a format is listed twice");
        }
    }
    for (d, destination) in table.destinations.iter().enumerate() {
        let path = at(&format!("destinations[{d}]"));
        check_destination(problems, &path, destination);
        check_profile(
            config,
            problems,
            &join(&path, "credentials"),
            destination.credentials(),
        );
    }
    for (e, sink) in table.events.iter().enumerate() {
        let path = at(&format!("events[{e}]"));
        check_profile(
            config,
            problems,
            &join(&path, "credentials"),
            sink.credentials(),
        );
        let (key, value, endpoint) = match sink {
            EventSinkConfig::Sns {
                topic_arn,
                endpoint,
                ..
            } => ("topic_arn", topic_arn, endpoint),
            EventSinkConfig::Sqs {
                queue_url,
                endpoint,
                ..
            } => ("queue_url", queue_url, endpoint),
            EventSinkConfig::Kinesis {
                stream, endpoint, ..
            } => ("stream", stream, endpoint),
        };
        if value.is_empty() {
            problems.add(join(&path, key), "must not be empty");
        }
        no_nul(problems, &join(&path, key), value);
        if let Some(url) = endpoint {
            check_endpoint(problems, &join(&path, "endpoint"), url);
        }
    }
}

fn check_destination(problems: &mut Problems, path: &str, destination: &DestinationConfig) {
    match destination {
        DestinationConfig::Local { path: dir } => {
            if dir.as_os_str().is_empty() {
                problems.add(join(path, "path"), "must not be empty");
            }
            no_nul(problems, &join(path, "path"), &dir.to_string_lossy());
        }
        DestinationConfig::S3 {
            bucket,
            prefix,
            endpoint,
            ..
        } => {
            if bucket.is_empty() {
                problems.add(join(path, "bucket"), "must not be empty");
            }
            no_nul(problems, &join(path, "bucket"), bucket);
            no_nul(problems, &join(path, "prefix"), prefix);
            if let Some(url) = endpoint {
                check_endpoint(problems, &join(path, "endpoint"), url);
            }
        }
    }
}

fn check_profile(config: &WriterConfig, problems: &mut Problems, path: &str, name: Option<&str>) {
    if let Some(name) = name
        && !config.credentials.contains_key(name)
    {
        let known: Vec<&str> = config.credentials.keys().map(String::as_str).collect();
        let known = if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        };
        problems.add(
            path,
            format!("unknown credential profile {name:?} (defined: {known})"),
        );
    }
}

fn check_endpoint(problems: &mut Problems, path: &str, url: &str) {
    let valid = ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('\0'))
    });
    if !valid {
        problems.add(
            path,
            format!("invalid endpoint {url:?}: expected http(s)://host[:port]"),
        );
    }
}
