//! Rows into column builders.

use arrow_array::ArrayRef;
use arrow_schema::ArrowError;

use super::builder::ColumnBuilder;
use super::convert::{AppendError, ConvertError};
use super::schema::ParquetSchema;
use crate::archive::format::jsonl::ColumnCache;
use laredo_wire::{WireError, utf8};

/// Why a row does not fit the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// A value does not convert to its column's type.
    #[error("column {column:?}")]
    Value {
        /// The column.
        column: String,
        /// What is wrong with the value.
        #[source]
        source: ConvertError,
    },
    /// The row has a column the schema lacks.
    #[error(
        "column {0:?} is not among the columns of the table's schema (a column the source did not announce: a schema change starts a new epoch)"
    )]
    UnknownColumn(String),
    /// The row is not a well-formed `Struct`.
    #[error("the row does not decode")]
    Wire(#[from] WireError),
}

/// Builds the columns of a batch of rows.
#[derive(Debug)]
pub struct RowBatch<'s> {
    schema: &'s ParquetSchema,
    columns: Vec<ColumnBuilder>,
    /// Where each column's value lies in each row being added (column by
    /// column): a range of the row.
    slots: Vec<Option<(usize, usize)>>,
    /// The rows' member layout, as the JSONL encoder remembers it: one
    /// comparison per member finds where its value is.
    layout: ColumnCache,
    /// The schema's index of each column of `layout`.
    to_schema: Vec<Option<usize>>,
    scratch: Vec<u8>,
}

/// Rows located before they are converted: few enough that their bytes
/// stay in cache between the two passes.
const CHUNK_ROWS: usize = 256;

impl<'s> RowBatch<'s> {
    /// An empty batch for about `rows` rows.
    pub fn new(schema: &'s ParquetSchema, rows: usize) -> Self {
        Self {
            schema,
            columns: schema
                .columns()
                .iter()
                .map(|c| ColumnBuilder::new(c.ty, rows))
                .collect(),
            slots: Vec::new(),
            layout: ColumnCache::default(),
            to_schema: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Adds an encoded `Struct` row; `key_only` keeps only the key columns
    /// (a diff's delete). After an error the batch is unusable: an artifact
    /// with a value that does not convert is not written at all.
    pub fn push(&mut self, row: &[u8], key_only: bool) -> Result<(), RowError> {
        self.slots.clear();
        self.slots.resize(self.columns.len(), None);
        self.locate(row, 0, 1)?;
        if key_only {
            for (slot, column) in self.slots.iter_mut().zip(self.schema.columns()) {
                if !column.key {
                    *slot = None;
                }
            }
        }
        self.convert(&[row]).map_err(|(_, error)| error)
    }

    /// Adds encoded `Struct` rows, a chunk at a time: the values of a chunk
    /// are located row by row, then converted column by column (the
    /// chunk's rows stay in cache between the two passes). On an error, the
    /// index of the row at fault; the batch is then unusable.
    pub fn push_rows(&mut self, rows: &[&[u8]]) -> Result<(), (usize, RowError)> {
        for (chunk_index, chunk) in rows.chunks(CHUNK_ROWS).enumerate() {
            let first = chunk_index * CHUNK_ROWS;
            self.slots.clear();
            self.slots.resize(self.columns.len() * chunk.len(), None);
            for (at, row) in chunk.iter().enumerate() {
                self.locate(row, at, chunk.len())
                    .map_err(|error| (first + at, error))?;
            }
            self.convert(chunk)
                .map_err(|(at, error)| (first + at, error))?;
        }
        Ok(())
    }

    /// Converts the values [`locate`](Self::locate) found in `rows`, a
    /// column at a time.
    fn convert(&mut self, rows: &[&[u8]]) -> Result<(), (usize, RowError)> {
        let columns = self.schema.columns();
        let slots = self.slots.chunks_exact(rows.len());
        for ((builder, slots), column) in self.columns.iter_mut().zip(slots).zip(columns) {
            let values = rows
                .iter()
                .zip(slots)
                .map(|(row, slot)| slot.map(|(start, len)| &row[start..start + len]));
            builder
                .append_all(values, &mut self.scratch)
                .map_err(|(at, error)| {
                    let error = match error {
                        AppendError::Wire(error) => RowError::Wire(error),
                        AppendError::Convert(source) => RowError::Value {
                            column: column.name.clone(),
                            source,
                        },
                    };
                    (at, error)
                })?;
        }
        Ok(())
    }

    /// Finds where each column's value lies in `row`, the `at`th of a chunk
    /// of `rows`: `slots` holds the chunk column by column.
    fn locate(&mut self, row: &[u8], at: usize, rows: usize) -> Result<(), RowError> {
        if self.layout.locate(row)? {
            self.to_schema = self
                .layout
                .located()
                .map(|(name, _)| self.schema.index_of(name))
                .collect();
        }
        for ((name, (start, end)), index) in self.layout.located().zip(&self.to_schema) {
            let Some(index) = index else {
                return Err(RowError::UnknownColumn(utf8(name)?.to_owned()));
            };
            // Protobuf map semantics: a name given twice, the last wins.
            self.slots[index * rows + at] = Some((start, end - start));
        }
        Ok(())
    }

    /// Adds a row of nulls (a diff's truncate).
    pub fn push_nulls(&mut self) {
        for builder in &mut self.columns {
            builder.append_null();
        }
    }

    /// The columns of the rows added; the batch starts again empty.
    pub fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        self.columns.iter_mut().map(ColumnBuilder::finish).collect()
    }
}
