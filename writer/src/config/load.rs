//! Reading, parsing and validating the YAML config, with errors that name the
//! path of the offending key.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

use super::{
    CredentialProfile, DestinationConfig, HttpConfig, ShutdownConfig, TableConfig, WriterConfig,
};

/// Why a config could not be used. Displays as one line naming the path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("config is not valid YAML: {0}")]
    Syntax(String),
    /// A key is unknown, missing or has a bad value.
    #[error("{path}: {message}")]
    Invalid {
        /// Dotted path of the key, e.g. `tables[1].snapshot.max_interval`.
        path: String,
        /// What is wrong with it, naming the value.
        message: String,
    },
}

impl ConfigError {
    fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Keys that live at the root whether the table is inline or listed.
const ROOT_KEYS: [&str; 3] = ["http", "credentials", "shutdown"];

/// Reads and validates a config file.
pub fn load_file(path: &Path) -> Result<WriterConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_str(&text)
}

/// Parses and validates config text.
pub fn parse_str(text: &str) -> Result<WriterConfig, ConfigError> {
    let root: Value = serde_yaml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
    let Value::Mapping(mut root) = root else {
        return Err(ConfigError::invalid(
            "(root)",
            "expected a mapping with one table inline (`source:` …) or `tables: [...]`",
        ));
    };
    let inline = !root.contains_key("tables");
    let config = if inline {
        let mut root_only = Mapping::new();
        for key in ROOT_KEYS {
            if let Some(value) = root.remove(key) {
                root_only.insert(key.into(), value);
            }
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RootOnly {
            #[serde(default)]
            http: HttpConfig,
            #[serde(default)]
            credentials: BTreeMap<String, CredentialProfile>,
            #[serde(default)]
            shutdown: ShutdownConfig,
        }
        let parts: RootOnly = deserialize_at("", Value::Mapping(root_only))?;
        let table: TableConfig = deserialize_at("", Value::Mapping(root))?;
        WriterConfig {
            http: parts.http,
            credentials: parts.credentials,
            shutdown: parts.shutdown,
            tables: vec![table],
        }
    } else {
        if root.contains_key("source") {
            return Err(ConfigError::invalid(
                "source",
                "a table is given inline and `tables` is also set; use one or the other",
            ));
        }
        deserialize_at("", Value::Mapping(root))?
    };
    validate(&config, inline)?;
    Ok(config)
}

/// Deserializes `value`, reporting errors with the path inside it.
fn deserialize_at<T: DeserializeOwned>(prefix: &str, value: Value) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let inner = error.inner().to_string();
        let mut path = error.path().to_string();
        if path == "." {
            path.clear();
        }
        let mut path = join(prefix, &path);
        // serde reports a missing field at its parent; name the field itself.
        let message = match inner
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            Some(field) => {
                path = join(&path, field);
                "required key is missing".to_owned()
            }
            None => inner,
        };
        ConfigError::invalid(
            if path.is_empty() {
                "(root)".into()
            } else {
                path
            },
            message,
        )
    })
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{rest}"),
    }
}

/// Checks what the types cannot: references, ranges, non-empty lists, and
/// that no two tables write the same prefix of the same destination.
fn validate(config: &WriterConfig, inline: bool) -> Result<(), ConfigError> {
    if config.tables.is_empty() {
        return Err(ConfigError::invalid(
            "tables",
            "at least one table is required",
        ));
    }
    for (name, profile) in &config.credentials {
        if let CredentialProfile::AssumeRole { role_arn, .. } = profile
            && !role_arn.starts_with("arn:")
        {
            return Err(ConfigError::invalid(
                format!("credentials.{name}.role_arn"),
                format!("invalid role ARN {role_arn:?}"),
            ));
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
        validate_table(config, table, &at)?;
        for (d, destination) in table.destinations.iter().enumerate() {
            let location = format!(
                "{}{}",
                destination_root(destination),
                table.effective_key_prefix()
            );
            let path = at(&format!("destinations[{d}]"));
            if let Some(other) = claimed.insert(location.clone(), path.clone()) {
                return Err(ConfigError::invalid(
                    path,
                    format!(
                        "writes {location}, which {other} already writes; one writer per prefix"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn validate_table(
    config: &WriterConfig,
    table: &TableConfig,
    at: &dyn Fn(&str) -> String,
) -> Result<(), ConfigError> {
    let source = &table.source;
    for (key, value) in [
        ("server", &source.server),
        ("schema", &source.schema),
        ("table", &source.table),
    ] {
        if value.trim().is_empty() {
            return Err(ConfigError::invalid(
                at(&format!("source.{key}")),
                "must not be empty",
            ));
        }
    }
    for (i, filter) in source.filters.iter().enumerate() {
        let set = [
            filter.equals.is_some(),
            filter.prefix.is_some(),
            filter.one_of.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(ConfigError::invalid(
                at(&format!("source.filters[{i}]")),
                format!(
                    "filter on {:?} needs exactly one of `equals`, `prefix`, `in`",
                    filter.field
                ),
            ));
        }
    }
    if source.heartbeat_timeout.0.is_zero() {
        return Err(ConfigError::invalid(
            at("source.heartbeat_timeout"),
            "must be greater than 0",
        ));
    }
    if source.connect_timeout.0.is_zero() {
        return Err(ConfigError::invalid(
            at("source.connect_timeout"),
            "must be greater than 0",
        ));
    }
    if source.max_message_size.0 < 1024 {
        return Err(ConfigError::invalid(
            at("source.max_message_size"),
            format!("{} is too small; at least 1KiB", source.max_message_size),
        ));
    }
    let reconnect = &source.reconnect;
    if reconnect.initial_backoff.0.is_zero() || reconnect.initial_backoff > reconnect.max_backoff {
        return Err(ConfigError::invalid(
            at("source.reconnect"),
            format!(
                "initial_backoff ({}) must be greater than 0 and at most max_backoff ({})",
                reconnect.initial_backoff, reconnect.max_backoff
            ),
        ));
    }
    if table.key_fields.is_empty() || table.key_fields.iter().any(|f| f.is_empty()) {
        return Err(ConfigError::invalid(
            at("key_fields"),
            "needs at least one non-empty column name",
        ));
    }
    if table.diff.interval.0.is_zero() {
        return Err(ConfigError::invalid(
            at("diff.interval"),
            "must be greater than 0",
        ));
    }
    let snapshot = &table.snapshot;
    for (key, fraction) in [
        ("max_diff_fraction", snapshot.max_diff_fraction),
        ("max_churn_fraction", snapshot.max_churn_fraction),
    ] {
        if let Some(value) = fraction
            && !(value.is_finite() && value > 0.0)
        {
            return Err(ConfigError::invalid(
                at(&format!("snapshot.{key}")),
                format!("must be a number greater than 0, not {value}"),
            ));
        }
    }
    if let (Some(min), Some(max)) = (snapshot.min_interval, snapshot.max_interval)
        && min > max
    {
        return Err(ConfigError::invalid(
            at("snapshot.min_interval"),
            format!("{min} is longer than snapshot.max_interval ({max})"),
        ));
    }
    if table.destinations.is_empty() {
        return Err(ConfigError::invalid(
            at("destinations"),
            "at least one destination is required",
        ));
    }
    for (kind, formats) in [
        ("snapshot", &table.formats.snapshot),
        ("diff", &table.formats.diff),
    ] {
        let path = at(&format!("formats.{kind}"));
        if formats.is_empty() {
            return Err(ConfigError::invalid(
                path,
                "at least one format is required",
            ));
        }
        let mut seen = formats.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != formats.len() {
            return Err(ConfigError::invalid(path, "a format is listed twice"));
        }
    }
    for (d, destination) in table.destinations.iter().enumerate() {
        let path = at(&format!("destinations[{d}]"));
        match destination {
            DestinationConfig::Local { path: dir } if dir.as_os_str().is_empty() => {
                return Err(ConfigError::invalid(
                    join(&path, "path"),
                    "must not be empty",
                ));
            }
            DestinationConfig::S3 {
                bucket, endpoint, ..
            } => {
                if bucket.is_empty() {
                    return Err(ConfigError::invalid(
                        join(&path, "bucket"),
                        "must not be empty",
                    ));
                }
                if let Some(url) = endpoint {
                    check_endpoint(&join(&path, "endpoint"), url)?;
                }
            }
            DestinationConfig::Local { .. } => {}
        }
        check_profile(
            config,
            &join(&path, "credentials"),
            destination.credentials(),
        )?;
    }
    for (e, sink) in table.events.iter().enumerate() {
        let path = at(&format!("events[{e}]"));
        check_profile(config, &join(&path, "credentials"), sink.credentials())?;
        let (key, value, endpoint) = match sink {
            super::EventSinkConfig::Sns {
                topic_arn,
                endpoint,
                ..
            } => ("topic_arn", topic_arn, endpoint),
            super::EventSinkConfig::Sqs {
                queue_url,
                endpoint,
                ..
            } => ("queue_url", queue_url, endpoint),
            super::EventSinkConfig::Kinesis {
                stream, endpoint, ..
            } => ("stream", stream, endpoint),
        };
        if value.is_empty() {
            return Err(ConfigError::invalid(join(&path, key), "must not be empty"));
        }
        if let Some(url) = endpoint {
            check_endpoint(&join(&path, "endpoint"), url)?;
        }
    }
    Ok(())
}

fn check_profile(config: &WriterConfig, path: &str, name: Option<&str>) -> Result<(), ConfigError> {
    match name {
        Some(name) if !config.credentials.contains_key(name) => {
            let known: Vec<&str> = config.credentials.keys().map(String::as_str).collect();
            let known = if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            };
            Err(ConfigError::invalid(
                path,
                format!("unknown credential profile {name:?} (defined: {known})"),
            ))
        }
        _ => Ok(()),
    }
}

fn check_endpoint(path: &str, url: &str) -> Result<(), ConfigError> {
    let valid = ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    });
    if valid {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            path,
            format!("invalid endpoint {url:?}: expected http(s)://host[:port]"),
        ))
    }
}

/// Where a destination's keys start, for detecting two writers on one prefix.
fn destination_root(destination: &DestinationConfig) -> String {
    match destination {
        DestinationConfig::Local { path } => {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            format!("{}/", absolute.display())
        }
        DestinationConfig::S3 {
            bucket,
            prefix,
            endpoint,
            ..
        } => {
            format!(
                "{}s3://{bucket}/{prefix}",
                endpoint.as_deref().unwrap_or("")
            )
        }
    }
}

#[cfg(test)]
mod tests;
