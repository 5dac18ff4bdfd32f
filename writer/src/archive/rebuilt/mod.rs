//! A table rebuilt from an archive: its rows ([`rows`]: keys in one text
//! buffer, rows as ranges of the fetched objects) and the parallel load of
//! its base snapshot ([`load`]).

mod load;
mod rows;

use bytes::Bytes;

use super::format::jsonl::ColumnCache;
use super::format::{DiffRecord, FormatError, StoredRow};
use crate::config::Format;
use crate::table::Action;

pub(super) use load::load_snapshot;
pub use rows::RebuiltRows;
use rows::RowKind;

/// A rebuilt table.
#[derive(Debug, Default)]
pub struct RebuiltTable {
    /// Rows by key, as stored in the artifacts.
    pub rows: RebuiltRows,
    /// The position the table is at (last artifact applied).
    pub position: String,
    /// The epoch read.
    pub epoch: u64,
    /// Artifacts read (1 snapshot + diffs).
    pub artifacts_read: usize,
}

impl RebuiltTable {
    /// Writes every row as a JSONL line, sorted by key. Every line written
    /// is JSON: a JSON row is parsed before it is copied out, since the
    /// rebuild scanned it only up to its key columns where its checksum
    /// matched, and a checksum can be forged.
    pub fn write_jsonl(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut rows: Vec<(&str, StoredRow)> = self.rows.iter().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut buffer = Vec::with_capacity(1 << 20);
        let mut columns = ColumnCache::default();
        for (key, row) in rows {
            let bad = |error: String| {
                std::io::Error::other(format!("the row of key {key:?} does not decode: {error}"))
            };
            if let StoredRow::Json(line) = &row {
                serde_json::from_slice::<serde::de::IgnoredAny>(line)
                    .map_err(|error| bad(error.to_string()))?;
            }
            row.write_json_line(&mut columns, &mut buffer)
                .map_err(|error| bad(error.to_string()))?;
            if buffer.len() >= 1 << 20 {
                out.write_all(&buffer)?;
                buffer.clear();
            }
        }
        out.write_all(&buffer)
    }

    /// Applies the records of one diff object, in order; their rows are
    /// ranges of `object`.
    pub(super) fn apply_diff(
        &mut self,
        format: Format,
        object: Bytes,
        records: Vec<DiffRecord>,
    ) -> Result<(), FormatError> {
        // Held only when rows stay in it: a diff of deletes is dropped.
        if records.iter().any(|record| record.new.is_some()) {
            self.rows.hold(object, RowKind::of(format));
        }
        for (number, record) in records.into_iter().enumerate() {
            match record.action {
                Action::Truncate => self.rows.clear(),
                Action::Delete => {
                    self.rows.remove(&record.key);
                }
                Action::Insert | Action::Update => {
                    if let Some(new) = record.new {
                        self.rows
                            .insert(&record.key, new)
                            .map_err(|error| FormatError::at(number + 1, error.message))?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
