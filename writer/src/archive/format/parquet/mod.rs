//! The `parquet` format: snapshots and diffs as Apache Parquet files that
//! DuckDB, Athena, Spark, Trino and pandas read directly, written and read
//! with arrow-rs.
//!
//! - Columns and their types come from the columns the source announces
//!   ([`types`]: PostgreSQL types to Arrow types); values a source sends as
//!   PostgreSQL text (`"42"`, `"t"`) are converted ([`convert`]), a
//!   column at a time ([`builder`]), and a
//!   value that does not convert fails the artifact with an error naming
//!   the table, the key and the column, never a wrong cell.
//! - A snapshot holds the table's rows in key order, zstd-compressed, in
//!   row groups of [`ROW_GROUP_ROWS`] with column statistics, so a
//!   key-range query skips row groups ([`write`]).
//! - A diff holds one row per net change, in the other formats' order:
//!   `_op` (`INSERT`, `UPDATE`, `DELETE`, `TRUNCATE`), `_position` (the
//!   diff's position) and `_lsn` (the same as a number in LSN order), then
//!   the new row's columns (only the key columns for a delete, none for a
//!   truncate).
//! - Read back ([`read`]), every row becomes an encoded `Struct` again, its
//!   values in the text forms of [`text`].

pub mod builder;
pub mod convert;
pub mod order;
pub mod read;
pub mod rows;
pub mod schema;
pub mod text;
pub mod types;
pub mod write;

pub use order::SnapshotRows;
pub use read::{DecodedRow, KeyWriter, SnapshotPart, diff_records, snapshot_parts, snapshot_rows};
pub use rows::RowError;
pub use schema::{ParquetSchema, SchemaError};
pub use types::{ColumnType, Scalar};
pub use write::{Naming, ROW_GROUP_ROWS, write_diff, write_snapshot};

/// File metadata key naming the table (`schema.table`).
pub const TABLE_METADATA: &str = "laredo.table";

/// Why a Parquet object could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    /// A row of the table does not fit the schema: names the table, the
    /// row's key and (in `error`) the column.
    #[error("table {table}, key {key:?}")]
    Row {
        /// `schema.table`.
        table: String,
        /// The row's key.
        key: String,
        /// What is wrong with it.
        #[source]
        error: RowError,
    },
    /// The schema cannot be built from the announced columns.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The Parquet encoder failed (or the sink it writes to).
    #[error("the Parquet encoder failed")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The Arrow arrays do not fit the schema (a bug, reported as such).
    #[error("the Arrow arrays do not fit the schema")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A broken invariant of this encoder.
    #[error("parquet encoder: {0}")]
    Internal(String),
}

impl ParquetError {
    /// Whether the error is about the data (a value or a column of a row)
    /// rather than about writing.
    pub fn is_data(&self) -> bool {
        matches!(self, ParquetError::Row { .. } | ParquetError::Schema(_))
    }
}

#[cfg(test)]
mod tests;
