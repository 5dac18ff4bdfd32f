//! Checks what the types cannot: references, ranges, non-empty lists, key
//! prefixes that stay inside their destination, and that no two tables
//! write the same place. Every problem is collected, so one `check-config`
//! run names them all.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use super::path::ConfigPath;
use super::{ConfigError, TableCheck, location};
use crate::config::{
    CredentialProfile, DestinationConfig, Format, TableConfig, WriterConfig, server_origin,
};
use crate::rules::{
    BACKOFF_ORDER, DESTINATION_PROFILE_UNDEFINED, FILTER_ONE_KIND, MIN_OVER_MAX,
    SINK_PROFILE_UNDEFINED,
};

/// Shortest `diff.interval` accepted. Each flush encodes, uploads and
/// commits a manifest; below this the loop spins (`1ns` ran at 26 % CPU
/// with nothing to write) and no store keeps up anyway.
pub const MIN_DIFF_INTERVAL: Duration = Duration::from_millis(100);

/// Smallest `source.max_message_size` accepted, in bytes: a handshake alone
/// is larger.
pub const MIN_MESSAGE_SIZE: u64 = 1024;

/// What the checks need to know beyond the config: how the document was
/// written and which of its parts were read whole.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    /// The one table is inline at the root (its paths have no `tables[i].`).
    pub inline: bool,
    /// Where each of `config.tables` was in the document.
    pub tables: Vec<TableScope>,
    /// Every credential profile name the document defines, including those
    /// whose body did not parse (a reference to one is not a second problem).
    pub declared: BTreeSet<String>,
    /// `tables:` is an empty list.
    pub no_tables: bool,
}

/// Where a table was in the document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableScope {
    /// Its position in `tables:`.
    pub index: usize,
    /// Whether it was read whole: a table that lost a list entry or a
    /// required key is not checked further, its other problems would be
    /// guesses.
    pub checked: bool,
}

/// Validates a config built in code (the operator renders one), as if it
/// were written with a `tables:` list; every problem is reported, one per
/// entry of [`ConfigError::Several`] (or the single one).
pub fn validate(config: &WriterConfig) -> Result<(), ConfigError> {
    let scope = Scope {
        inline: false,
        tables: (0..config.tables.len())
            .map(|index| TableScope {
                index,
                checked: true,
            })
            .collect(),
        declared: config.credentials.keys().cloned().collect(),
        no_tables: config.tables.is_empty(),
    };
    ConfigError::from_problems(check(config, &scope, &|_| Vec::new()))
}

/// The problems found so far.
#[derive(Default)]
struct Problems(Vec<ConfigError>);

impl Problems {
    fn add(&mut self, path: ConfigPath, message: impl Into<String>) {
        self.0.push(ConfigError::invalid(path, message));
    }
}

/// Every problem of `config`, read as `scope` says, plus those `extra`
/// finds in each table.
pub(crate) fn check(
    config: &WriterConfig,
    scope: &Scope,
    extra: TableCheck<'_>,
) -> Vec<ConfigError> {
    let mut problems = Problems::default();
    let root = ConfigPath::root();
    if scope.no_tables {
        problems.add(root.key("tables"), "at least one table is required");
    }
    for (name, profile) in &config.credentials {
        if let CredentialProfile::AssumeRole {
            role_arn,
            external_id,
            session_name,
            ..
        } = profile
        {
            let at = root.key("credentials").key(name);
            if !role_arn.starts_with("arn:") {
                problems.add(at.key("role_arn"), format!("invalid role ARN {role_arn:?}"));
            } else {
                no_nul(&mut problems, at.key("role_arn"), role_arn);
            }
            for (key, value) in [("external_id", external_id), ("session_name", session_name)] {
                if let Some(value) = value {
                    no_nul(&mut problems, at.key(key), value);
                }
            }
        }
    }
    let mut claimed: HashMap<String, ConfigPath> = HashMap::new();
    for (table, place) in config.tables.iter().zip(&scope.tables) {
        if !place.checked {
            continue;
        }
        let base = if scope.inline {
            root.clone()
        } else {
            root.key("tables").index(place.index)
        };
        check_table(scope, table, &base, &mut problems);
        for (relative, message) in extra(table) {
            problems.add(base.join(&relative), message);
        }
        let prefix = table.effective_key_prefix();
        for (d, destination) in table.destinations.iter().enumerate() {
            let place = location::identity(destination, &prefix);
            let path = base.key("destinations").index(d);
            if let Some(other) = claimed.get(&place) {
                problems.0.push(ConfigError::SamePlace {
                    path,
                    place,
                    other: other.clone(),
                });
            } else {
                claimed.insert(place, path);
            }
        }
    }
    problems.0
}

/// A string that may not hold a NUL byte (no file system, URL or object
/// store takes one; at run time it fails with a misleading error).
fn no_nul(problems: &mut Problems, path: ConfigPath, value: &str) {
    if value.contains('\0') {
        problems.add(path, format!("{value:?} contains a NUL byte"));
    }
}

/// The key prefix must stay inside every destination: relative, no `..`
/// segment, no NUL. `path` names the key that set it (`key_prefix`, or
/// `source.table` for the default `<table>/`).
fn check_key_prefix(problems: &mut Problems, path: ConfigPath, prefix: &str, from_table: bool) {
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

fn check_table(scope: &Scope, table: &TableConfig, base: &ConfigPath, problems: &mut Problems) {
    let at = |key: &str| base.join(key);
    check_source(table, base, problems);
    match &table.key_prefix {
        Some(prefix) => check_key_prefix(problems, at("key_prefix"), prefix, false),
        None => check_key_prefix(
            problems,
            at("source.table"),
            &table.effective_key_prefix(),
            true,
        ),
    }
    if table.key_fields.is_empty() || table.key_fields.iter().any(|f| f.is_empty()) {
        problems.add(at("key_fields"), "needs at least one non-empty column name");
    }
    for (i, field) in table.key_fields.iter().enumerate() {
        no_nul(problems, at("key_fields").index(i), field);
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
                at("snapshot").key(key),
                format!("must be a number greater than 0, not {value}"),
            );
        }
    }
    if let (Some(min), Some(max)) = (snapshot.min_interval, snapshot.max_interval)
        && min > max
    {
        problems.add(
            at("snapshot.min_interval"),
            format!("{MIN_OVER_MAX} ({min} > {max})"),
        );
    }
    if table.destinations.is_empty() {
        problems.add(at("destinations"), "at least one destination is required");
    }
    for (kind, formats) in [
        ("snapshot", &table.formats.snapshot),
        ("diff", &table.formats.diff),
    ] {
        let path = at("formats").key(kind);
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
    // A Parquet diff is written with the schema of its epoch's Parquet
    // snapshot; without one, no reader could read the diffs alone.
    if table.formats.diff.contains(&Format::Parquet)
        && !table.formats.snapshot.contains(&Format::Parquet)
    {
        problems.add(
            at("formats").key("diff"),
            "parquet diffs need parquet snapshots: add parquet to formats.snapshot",
        );
    }
    for (d, destination) in table.destinations.iter().enumerate() {
        let path = at("destinations").index(d);
        check_destination(problems, &path, destination);
        check_profile(
            scope,
            problems,
            path.key("credentials"),
            destination.credentials(),
            DESTINATION_PROFILE_UNDEFINED,
        );
    }
    for (e, sink) in table.events.iter().enumerate() {
        let path = at("events").index(e);
        let target = sink.target();
        check_profile(
            scope,
            problems,
            path.key("credentials"),
            target.credentials,
            SINK_PROFILE_UNDEFINED,
        );
        if target.value.is_empty() {
            problems.add(path.key(target.key), "must not be empty");
        }
        no_nul(problems, path.key(target.key), target.value);
        if let Some(url) = target.endpoint {
            check_endpoint(problems, path.key("endpoint"), url);
        }
    }
}

/// `source:` of one table.
fn check_source(table: &TableConfig, base: &ConfigPath, problems: &mut Problems) {
    let at = |key: &str| base.key("source").join(key);
    let source = &table.source;
    for (key, value) in [
        ("server", &source.server),
        ("schema", &source.schema),
        ("table", &source.table),
    ] {
        if value.trim().is_empty() {
            problems.add(at(key), "must not be empty");
        }
        no_nul(problems, at(key), value);
    }
    if !source.server.trim().is_empty()
        && !source.server.contains('\0')
        && let Err(error) = server_origin(&source.server)
    {
        problems.add(at("server"), error.to_string());
    }
    if let Some(client_id) = &source.client_id {
        no_nul(problems, at("client_id"), client_id);
    }
    for (i, filter) in source.filters.iter().enumerate() {
        let set = [
            filter.equals.is_some(),
            filter.prefix.is_some(),
            filter.one_of.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            problems.add(
                at("filters").index(i),
                format!("{FILTER_ONE_KIND} (the filter on {:?})", filter.field),
            );
        }
    }
    if source.heartbeat_timeout.0.is_zero() {
        problems.add(at("heartbeat_timeout"), "must be greater than 0");
    }
    if source.connect_timeout.0.is_zero() {
        problems.add(at("connect_timeout"), "must be greater than 0");
    }
    if source.max_message_size.0 < MIN_MESSAGE_SIZE {
        problems.add(
            at("max_message_size"),
            format!("{} is too small; at least 1KiB", source.max_message_size),
        );
    }
    let reconnect = &source.reconnect;
    if reconnect.initial_backoff.0.is_zero() {
        problems.add(at("reconnect.initial_backoff"), "must be greater than 0");
    } else if reconnect.initial_backoff > reconnect.max_backoff {
        problems.add(
            at("reconnect.initial_backoff"),
            format!(
                "{BACKOFF_ORDER} ({} > {})",
                reconnect.initial_backoff, reconnect.max_backoff
            ),
        );
    }
}

fn check_destination(problems: &mut Problems, path: &ConfigPath, destination: &DestinationConfig) {
    match destination {
        DestinationConfig::Local { path: dir } => {
            if dir.as_os_str().is_empty() {
                problems.add(path.key("path"), "must not be empty");
            }
            no_nul(problems, path.key("path"), &dir.to_string_lossy());
        }
        DestinationConfig::S3 {
            bucket,
            prefix,
            endpoint,
            ..
        } => {
            if bucket.is_empty() {
                problems.add(path.key("bucket"), "must not be empty");
            }
            no_nul(problems, path.key("bucket"), bucket);
            no_nul(problems, path.key("prefix"), prefix);
            if let Some(url) = endpoint {
                check_endpoint(problems, path.key("endpoint"), url);
            }
        }
    }
}

/// A named profile must be defined; `rule` says which kind of reference
/// names an undefined one.
fn check_profile(
    scope: &Scope,
    problems: &mut Problems,
    path: ConfigPath,
    name: Option<&str>,
    rule: &str,
) {
    if let Some(name) = name
        && !scope.declared.contains(name)
    {
        let known: Vec<&str> = scope.declared.iter().map(String::as_str).collect();
        let known = if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        };
        problems.add(path, format!("{rule}: {name:?} (defined: {known})"));
    }
}

fn check_endpoint(problems: &mut Problems, path: ConfigPath, url: &str) {
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
