//! Deserialization that finds every problem, not just the first.
//!
//! serde stops at the first error. To report all of them, a part of the
//! document (the root keys, one table) is deserialized again and again: each
//! error is recorded with its path, the node it names is taken out of the
//! YAML value, and the next attempt reads the rest. A key removed that way
//! takes its default, so a bad duration in one place does not hide a bad
//! one in another. A required key that is missing (or was removed) cannot be
//! repaired: the node that needs it is removed in turn, and the part is
//! marked damaged so that the semantic checks skip it rather than guess.

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use super::ConfigError;
use super::path::{ConfigPath, Segment};

/// Attempts per part; each records one problem. A part with more problems
/// than this is not read further (the user has enough to fix).
const MAX_ROUNDS: usize = 64;

/// One part of the document, as far as it could be read.
pub(super) struct Part<T> {
    /// The value, unless the part could not be read at all.
    pub value: Option<T>,
    /// Whether a list entry or a required key was lost on the way: the
    /// value is not what the user wrote, only what could be read of it.
    pub damaged: bool,
}

/// Reads `value` (found at `base`) as `T`, recording every problem in
/// `problems`.
pub(super) fn part<T: DeserializeOwned>(
    base: &ConfigPath,
    mut value: Value,
    problems: &mut Vec<ConfigError>,
) -> Part<T> {
    let mut removed = Removed::default();
    let mut damaged = false;
    for _ in 0..MAX_ROUNDS {
        let error = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(read) => {
                return Part {
                    value: Some(read),
                    damaged,
                };
            }
            Err(error) => error,
        };
        let at = current_path(error.path());
        let inner = error.inner().to_string();
        let missing = inner
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'));
        let target = match missing {
            Some(field) => {
                let key = removed.original(&at).key(field);
                // A key taken out for its bad value is not missing twice.
                if !removed.keys.contains(&key) {
                    problems.push(ConfigError::invalid(
                        join(base, &key),
                        "required key is missing",
                    ));
                }
                damaged = true;
                at
            }
            None => {
                problems.push(ConfigError::invalid(
                    join(base, &removed.original(&at)),
                    inner,
                ));
                at
            }
        };
        if target.is_root() || !removed.take(&mut value, &target) {
            return Part {
                value: None,
                damaged: true,
            };
        }
        damaged |= matches!(target.segments().last(), Some(Segment::Index(_)));
    }
    problems.push(ConfigError::invalid(
        base.clone(),
        format!("more than {MAX_ROUNDS} problems here; fix these first"),
    ));
    Part {
        value: None,
        damaged: true,
    }
}

fn join(base: &ConfigPath, relative: &ConfigPath) -> ConfigPath {
    let mut segments = base.segments().to_vec();
    segments.extend_from_slice(relative.segments());
    ConfigPath::from_segments(segments)
}

/// serde's path as a [`ConfigPath`], in the value as it is now.
fn current_path(path: &serde_path_to_error::Path) -> ConfigPath {
    use serde_path_to_error::Segment as Step;
    ConfigPath::from_segments(
        path.iter()
            .map(|step| match step {
                Step::Seq { index } => Segment::Index(*index),
                Step::Map { key } => Segment::Key(key.clone()),
                Step::Enum { variant } => Segment::Key(variant.clone()),
                Step::Unknown => Segment::Key("?".to_owned()),
            })
            .collect(),
    )
}

/// What was taken out of a part so far, in the coordinates of the text as
/// written: removing a list entry moves the ones after it up, and their
/// problems must still name their original positions.
#[derive(Default)]
struct Removed {
    /// Keys taken out (paths as written).
    keys: Vec<ConfigPath>,
    /// List entries taken out: the list's path and the entry's position,
    /// both as written.
    entries: Vec<(ConfigPath, usize)>,
}

impl Removed {
    /// `current` (a path in the value as it is now) as written.
    fn original(&self, current: &ConfigPath) -> ConfigPath {
        let mut original = ConfigPath::root();
        for segment in current.segments() {
            original = match segment {
                Segment::Key(key) => original.key(key),
                Segment::Index(index) => {
                    let mut gone: Vec<usize> = self
                        .entries
                        .iter()
                        .filter(|(list, _)| *list == original)
                        .map(|(_, at)| *at)
                        .collect();
                    gone.sort_unstable();
                    let mut index = *index;
                    for at in gone {
                        if at <= index {
                            index += 1;
                        }
                    }
                    original.index(index)
                }
            };
        }
        original
    }

    /// Takes the node at `current` out of `value`; whether there was one.
    fn take(&mut self, value: &mut Value, current: &ConfigPath) -> bool {
        let original = self.original(current);
        let Some((last, parent)) = current.segments().split_last() else {
            return false;
        };
        let Some(container) = node(value, parent) else {
            return false;
        };
        match (last, untagged(container)) {
            (Segment::Key(key), Value::Mapping(map)) => {
                let found = map
                    .keys()
                    .find(|k| key_text(k).as_deref() == Some(key))
                    .cloned();
                let Some(found) = found else { return false };
                map.remove(&found);
                self.keys.push(original);
                true
            }
            (Segment::Index(index), Value::Sequence(items)) if *index < items.len() => {
                items.remove(*index);
                if let Some(Segment::Index(at)) = original.segments().last() {
                    self.entries.push((original.parent(), *at));
                }
                true
            }
            _ => false,
        }
    }
}

/// The node at `path` in `value`, looking through tags (`!tag value`)
/// as serde does.
fn node<'a>(value: &'a mut Value, path: &[Segment]) -> Option<&'a mut Value> {
    let value = untagged(value);
    let Some((first, rest)) = path.split_first() else {
        return Some(value);
    };
    match (first, value) {
        (Segment::Key(key), Value::Mapping(map)) => {
            let found = map
                .keys()
                .find(|k| key_text(k).as_deref() == Some(key))
                .cloned()?;
            node(map.get_mut(&found)?, rest)
        }
        (Segment::Index(index), Value::Sequence(items)) => node(items.get_mut(*index)?, rest),
        _ => None,
    }
}

/// The value under any tags.
fn untagged(mut value: &mut Value) -> &mut Value {
    while let Value::Tagged(tagged) = value {
        value = &mut tagged.value;
    }
    value
}

/// A mapping key as serde names it in a path.
fn key_text(key: &Value) -> Option<String> {
    match key {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}
