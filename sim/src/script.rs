//! Scripted changes: a JSON Lines file, one change per line,
//! `{"action":"INSERT|UPDATE|DELETE|TRUNCATE","row":{...}}`. DELETE needs
//! only the key columns in `row`; TRUNCATE needs no row. Blank lines and
//! lines starting with `#` are skipped.

use serde::Deserialize;

use laredo_wire::{Action, json_value};

use crate::Row;
use crate::store::Write;

/// One scripted change.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptChange {
    line: usize,
    action: Action,
    row: Option<Row>,
}

/// A script line that cannot be parsed or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("script line {line}: {reason}")]
pub struct ScriptError {
    /// 1-based line number (0 for changes built in code).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl ScriptChange {
    /// Inserts `row`.
    pub fn insert(row: Row) -> Self {
        Self {
            line: 0,
            action: Action::Insert,
            row: Some(row),
        }
    }

    /// Replaces the row with `row`'s key (the journal's old row is the held one).
    pub fn update(row: Row) -> Self {
        Self {
            line: 0,
            action: Action::Update,
            row: Some(row),
        }
    }

    /// Deletes the row with `row`'s key.
    pub fn delete(row: Row) -> Self {
        Self {
            line: 0,
            action: Action::Delete,
            row: Some(row),
        }
    }

    /// Removes every row.
    pub fn truncate() -> Self {
        Self {
            line: 0,
            action: Action::Truncate,
            row: None,
        }
    }

    pub(crate) fn into_write(self) -> (usize, Write) {
        let write = match (self.action, self.row) {
            (Action::Truncate, _) | (_, None) => Write::Truncate,
            (Action::Insert, Some(row)) => Write::Insert(row),
            (Action::Update, Some(row)) => Write::Update(row),
            (Action::Delete, Some(row)) => Write::Delete(row),
        };
        (self.line, write)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    action: String,
    #[serde(default)]
    row: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Parses a script; the error names the line.
pub fn parse_script(text: &str) -> Result<Vec<ScriptChange>, ScriptError> {
    let mut changes = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let error = |reason: String| ScriptError {
            line: number,
            reason,
        };
        let parsed: Line = serde_json::from_str(trimmed).map_err(|e| error(e.to_string()))?;
        let action = Action::parse(&parsed.action).ok_or_else(|| {
            error(format!(
                "unknown action {:?} (INSERT, UPDATE, DELETE, TRUNCATE)",
                parsed.action
            ))
        })?;
        let row = parsed.row.map(|fields| {
            let value = json_value(&serde_json::Value::Object(fields));
            match value.kind {
                Some(laredo_proto::prost_types::value::Kind::StructValue(s)) => {
                    Row::from_struct(&s)
                }
                _ => Row::from_encoded(bytes::Bytes::new()),
            }
        });
        if action != Action::Truncate && row.is_none() {
            return Err(error(format!("{} needs a \"row\"", action.as_str())));
        }
        changes.push(ScriptChange {
            line: number,
            action,
            row,
        });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_errors_name_the_line() {
        let script = "# seed\n{\"action\":\"INSERT\",\"row\":{\"id\":1,\"name\":\"a\"}}\n\n{\"action\":\"TRUNCATE\"}\n";
        let changes = parse_script(script).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].line, 2);
        assert_eq!(changes[1].action, Action::Truncate);
        let error = parse_script("{\"action\":\"INSERT\"}").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.to_string().contains("needs a \"row\""), "{error}");
        let error = parse_script("\n{\"action\":\"UPSERT\",\"row\":{}}").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("script line 2: unknown action"),
            "{error}"
        );
        assert!(parse_script("{not json").is_err());
    }
}
