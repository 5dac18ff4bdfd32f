//! Rows into column builders.

use arrow_array::ArrayRef;

use super::convert::{ColumnBuilder, ConvertError};
use super::schema::ParquetSchema;
use laredo_wire::{RawStructEntries, ValueRef, WireError, utf8};

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
    /// The value of each column in the row being added: a range of it.
    slots: Vec<Option<(usize, usize)>>,
    /// The column of each entry of the row before, by position: rows of
    /// one table mostly list their columns in one order, and a name
    /// compared with the one expected costs less than a lookup.
    layout: Vec<usize>,
    scratch: Vec<u8>,
}

/// Whether two short names are equal (a byte loop: a call to `memcmp`
/// per value costs more than the comparison).
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

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
            slots: vec![None; schema.columns().len()],
            layout: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Adds an encoded `Struct` row; `key_only` keeps only the key columns
    /// (a diff's delete). After an error the batch is unusable: an artifact
    /// with a value that does not convert is not written at all.
    pub fn push(&mut self, row: &[u8], key_only: bool) -> Result<(), RowError> {
        self.slots.fill(None);
        let base = row.as_ptr().addr();
        let columns = self.schema.columns();
        for (position, entry) in RawStructEntries::new(row).enumerate() {
            let (name, value) = entry?;
            let index = match self.layout.get(position) {
                Some(&index) if same_name(columns[index].name.as_bytes(), name) => index,
                _ => {
                    let Some(index) = self.schema.index_of(name) else {
                        return Err(RowError::UnknownColumn(utf8(name)?.to_owned()));
                    };
                    if position >= self.layout.len() {
                        self.layout.resize(position + 1, index);
                    }
                    self.layout[position] = index;
                    index
                }
            };
            // Protobuf map semantics: a name given twice, the last wins.
            self.slots[index] = Some((value.as_ptr().addr() - base, value.len()));
        }
        for (index, (builder, slot)) in self.columns.iter_mut().zip(&self.slots).enumerate() {
            match slot {
                Some((start, len)) if !key_only || columns[index].key => {
                    let value = ValueRef::parse(&row[*start..start + len])?;
                    builder
                        .append(&value, &mut self.scratch)
                        .map_err(|source| RowError::Value {
                            column: columns[index].name.clone(),
                            source,
                        })?;
                }
                _ => builder.append_null(),
            }
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
    pub fn finish(&mut self) -> Vec<ArrayRef> {
        self.columns.iter_mut().map(ColumnBuilder::finish).collect()
    }
}
