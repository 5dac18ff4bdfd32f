//! Reading, parsing and validating the YAML config. Every problem is
//! reported with the path of its key, all of them in one run: a value that
//! does not parse is recorded and left out, and the rest is read and checked
//! without it ([`collect`]).

mod collect;
pub mod location;
pub mod path;
pub mod prescan;
pub mod validate;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_yaml::{Mapping, Value};

use super::{CredentialProfile, HttpConfig, ShutdownConfig, TableConfig, WriterConfig};
use collect::Part;
use path::ConfigPath;
use validate::{Scope, TableScope};

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
    Syntax(#[source] serde_yaml::Error),
    /// A key is unknown, missing or has a bad value.
    #[error("{path}: {message}")]
    Invalid {
        /// Path of the key, e.g. `tables[1].snapshot.max_interval`.
        path: ConfigPath,
        /// What is wrong with it, naming the value.
        message: String,
    },
    /// Two destinations would write their table's manifest at one place.
    #[error(
        "{path}: writes its manifest at {place}, where {other} already writes; one table per place (give each table its own key_prefix or destination)"
    )]
    SamePlace {
        /// The destination that comes second.
        path: ConfigPath,
        /// The place, as [`location::identity`] spells it.
        place: String,
        /// The destination that claimed it first.
        other: ConfigPath,
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
    pub(crate) fn invalid(path: ConfigPath, message: impl Into<String>) -> Self {
        Self::Invalid {
            path,
            message: message.into(),
        }
    }

    /// Each problem this error stands for: the entries of
    /// [`ConfigError::Several`], or the error itself.
    pub fn problems(&self) -> &[ConfigError] {
        match self {
            ConfigError::Several(problems) => problems,
            single => std::slice::from_ref(single),
        }
    }

    /// `Ok` without problems, the one problem, or [`ConfigError::Several`].
    pub(crate) fn from_problems(mut problems: Vec<ConfigError>) -> Result<(), ConfigError> {
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            _ => Err(ConfigError::Several(problems)),
        }
    }
}

/// A check the caller adds to the contract's own, run on every table that
/// parsed: the problems it finds, each as a path relative to the table
/// (`source.tls.ca_file`) and a message. The writer checks its CA files
/// this way; the operator cannot read them.
pub type TableCheck<'a> = &'a dyn Fn(&TableConfig) -> Vec<(String, String)>;

/// Keys that live at the root whether the table is inline or listed.
const ROOT_KEYS: [&str; 3] = ["http", "credentials", "shutdown"];

/// Reads and validates a config file, reading at most
/// [`prescan::MAX_CONFIG_BYTES`] of it.
pub fn load_file(path: &Path) -> Result<WriterConfig, ConfigError> {
    load_file_with(path, &|_| Vec::new())
}

/// [`load_file`] with the caller's own `check` of each table.
pub fn load_file_with(path: &Path, check: TableCheck<'_>) -> Result<WriterConfig, ConfigError> {
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
    parse_str_with(&text, check)
}

/// Parses and validates config text (at most [`prescan::MAX_CONFIG_BYTES`],
/// nested at most [`prescan::MAX_NESTING`] levels).
pub fn parse_str(text: &str) -> Result<WriterConfig, ConfigError> {
    parse_str_with(text, &|_| Vec::new())
}

/// [`parse_str`] with the caller's own `check` of each table.
pub fn parse_str_with(text: &str, check: TableCheck<'_>) -> Result<WriterConfig, ConfigError> {
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
    let root: Value = serde_yaml::from_str(text).map_err(ConfigError::Syntax)?;
    let Value::Mapping(root) = root else {
        return Err(ConfigError::invalid(
            ConfigPath::root(),
            "expected a mapping with one table inline (`source:` …) or `tables: [...]`",
        ));
    };
    let mut problems = Vec::new();
    let (config, scope) = read_document(root, &mut problems)?;
    problems.extend(validate::check(&config, &scope, check));
    ConfigError::from_problems(problems)?;
    Ok(config)
}

/// The keys of the root, read part by part: the root keys, then each table.
/// A part that cannot be read at all is left out (its problems are in
/// `problems`); the scope says where each table that was read came from.
fn read_document(
    mut root: Mapping,
    problems: &mut Vec<ConfigError>,
) -> Result<(WriterConfig, Scope), ConfigError> {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RootParts {
        #[serde(default)]
        http: HttpConfig,
        #[serde(default)]
        credentials: std::collections::BTreeMap<String, CredentialProfile>,
        #[serde(default)]
        shutdown: ShutdownConfig,
        #[serde(default)]
        #[allow(dead_code, reason = "read part by part, below")]
        tables: Option<IgnoredAny>,
    }

    let inline = !root.contains_key("tables");
    if !inline && root.contains_key("source") {
        return Err(ConfigError::invalid(
            ConfigPath::root().key("source"),
            "a table is given inline and `tables` is also set; use one or the other",
        ));
    }
    let root_part = if inline {
        let mut root_only = Mapping::new();
        for key in ROOT_KEYS {
            if let Some(value) = root.remove(key) {
                root_only.insert(key.into(), value);
            }
        }
        root_only
    } else {
        let mut rest = root.clone();
        rest.remove("tables");
        rest
    };
    let declared: BTreeSet<String> = match root_part.get("credentials") {
        Some(Value::Mapping(profiles)) => profiles
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        _ => BTreeSet::new(),
    };
    let root_path = ConfigPath::root();
    let parts: RootParts = collect::part(&root_path, Value::Mapping(root_part), problems)
        .value
        .unwrap_or_default();

    let mut tables = Vec::new();
    let mut scopes = Vec::new();
    let mut push = |part: Part<TableConfig>, index: usize| {
        if let Some(table) = part.value {
            tables.push(table);
            scopes.push(TableScope {
                index,
                checked: !part.damaged,
            });
        }
    };
    let mut no_tables = false;
    if inline {
        push(collect::part(&root_path, Value::Mapping(root), problems), 0);
    } else {
        let list_path = root_path.key("tables");
        match root.remove("tables") {
            Some(Value::Sequence(items)) => {
                no_tables = items.is_empty();
                for (index, item) in items.into_iter().enumerate() {
                    push(
                        collect::part(&list_path.index(index), item, problems),
                        index,
                    );
                }
            }
            Some(other) => {
                // Only for serde's message ("invalid type: …, expected a sequence").
                let _: Part<Vec<IgnoredAny>> = collect::part(&list_path, other, problems);
            }
            None => {}
        }
    }
    let config = WriterConfig {
        http: parts.http,
        credentials: parts.credentials,
        shutdown: parts.shutdown,
        tables,
    };
    let scope = Scope {
        inline,
        tables: scopes,
        declared,
        no_tables,
    };
    Ok((config, scope))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hardening_tests;

#[cfg(test)]
mod collect_tests;
