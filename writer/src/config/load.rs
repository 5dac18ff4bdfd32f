//! Reading, parsing and validating the YAML config, with errors that name the
//! path of the offending key.

mod location;
pub mod prescan;
pub mod validate;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

use super::{CredentialProfile, HttpConfig, ShutdownConfig, TableConfig, WriterConfig};

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
    /// The path is not a regular file (a FIFO or a device would block or
    /// never end).
    #[error("cannot read config {}: not a regular file", path.display())]
    NotAFile {
        /// The file that was asked for.
        path: PathBuf,
    },
    /// The file is larger than [`prescan::MAX_CONFIG_BYTES`].
    #[error(
        "config {} is larger than {limit} bytes (the limit); is it the right file?",
        path.display()
    )]
    TooLarge {
        /// The file that was asked for (empty for text).
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The text nests deeper than [`prescan::MAX_NESTING`] levels.
    #[error(
        "config nests {depth} levels deep at line {line}; at most {limit} are accepted (a writer config needs fewer than 10)"
    )]
    TooDeep {
        /// 1-based line where the limit was passed.
        line: usize,
        /// The depth reached there.
        depth: usize,
        /// The limit.
        limit: usize,
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
    /// More than one problem; displayed on one line, `; `-separated.
    #[error("{} problems: {}", .0.len(), join_problems(.0))]
    Several(Vec<ConfigError>),
}

fn join_problems(problems: &[ConfigError]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
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

/// Reads and validates a config file, reading at most
/// [`prescan::MAX_CONFIG_BYTES`] of it.
pub fn load_file(path: &Path) -> Result<WriterConfig, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    // Checked before opening: opening a FIFO for reading blocks until a
    // writer appears, and a device may never end.
    if !std::fs::metadata(path).map_err(read_error)?.is_file() {
        return Err(ConfigError::NotAFile {
            path: path.to_owned(),
        });
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(ConfigError::NotAFile {
            path: path.to_owned(),
        });
    }
    let too_large = || ConfigError::TooLarge {
        path: path.to_owned(),
        limit: prescan::MAX_CONFIG_BYTES,
    };
    if metadata.len() > prescan::MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    // The file may grow between the check and the read: read one byte past
    // the limit at most.
    let mut text = String::new();
    file.take(prescan::MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if text.len() as u64 > prescan::MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    parse_str(&text)
}

/// Parses and validates config text (at most [`prescan::MAX_CONFIG_BYTES`],
/// nested at most [`prescan::MAX_NESTING`] levels).
pub fn parse_str(text: &str) -> Result<WriterConfig, ConfigError> {
    if text.len() as u64 > prescan::MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: PathBuf::from("(text)"),
            limit: prescan::MAX_CONFIG_BYTES,
        });
    }
    prescan::check_nesting(text).map_err(|deep| ConfigError::TooDeep {
        line: deep.line,
        depth: deep.depth,
        limit: prescan::MAX_NESTING,
    })?;
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
    validate::validate(&config, inline)?;
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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hardening_tests;
