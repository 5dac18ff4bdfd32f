//! Rows into column builders, and rows into key order.

use std::cmp::Ordering;

use arrow_array::ArrayRef;

use super::convert::{ColumnBuilder, ConvertError};
use super::types::ParquetSchema;
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
    scratch: Vec<u8>,
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
            scratch: Vec::new(),
        }
    }

    /// Rows added so far.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, ColumnBuilder::len)
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds an encoded `Struct` row; `key_only` keeps only the key columns
    /// (a diff's delete). After an error the batch is unusable: an artifact
    /// with a value that does not convert is not written at all.
    pub fn push(&mut self, row: &[u8], key_only: bool) -> Result<(), RowError> {
        self.slots.fill(None);
        let base = row.as_ptr().addr();
        for entry in RawStructEntries::new(row) {
            let (name, value) = entry?;
            let Some(index) = self.schema.index_of(name) else {
                return Err(RowError::UnknownColumn(utf8(name)?.to_owned()));
            };
            // Protobuf map semantics: a name given twice, the last wins.
            self.slots[index] = Some((value.as_ptr().addr() - base, value.len()));
        }
        let columns = self.schema.columns();
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

/// A key value's rank among JSON kinds, for ordering keys of mixed kinds.
fn rank(value: &ValueRef<'_>) -> u8 {
    match value {
        ValueRef::Null => 0,
        ValueRef::Bool(_) => 1,
        ValueRef::Number(_) => 2,
        ValueRef::String(_) => 3,
        ValueRef::Struct(_) => 4,
        ValueRef::List(_) => 5,
    }
}

/// Orders two key values as their typed columns order: numbers by value,
/// text by bytes (which orders dates, UUIDs and same-form timestamps too).
fn compare_values(a: &ValueRef<'_>, b: &ValueRef<'_>) -> Ordering {
    match (a, b) {
        (ValueRef::Number(a), ValueRef::Number(b)) => a.total_cmp(b),
        (ValueRef::String(a), ValueRef::String(b)) => a.as_bytes().cmp(b.as_bytes()),
        (ValueRef::Bool(a), ValueRef::Bool(b)) => a.cmp(b),
        (ValueRef::Struct(a), ValueRef::Struct(b)) | (ValueRef::List(a), ValueRef::List(b)) => {
            a.cmp(b)
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// A number's bits, mapped so that unsigned order is the numbers' total
/// order.
fn ordered_bits(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The values of the key columns of `row` (`Null` for a missing one).
fn key_values<'a>(row: &'a [u8], schema: &ParquetSchema) -> Result<Vec<ValueRef<'a>>, WireError> {
    let key = schema.key_columns();
    let mut values = vec![ValueRef::Null; key.len()];
    for entry in RawStructEntries::new(row) {
        let (name, value) = entry?;
        if let Some(index) = schema.index_of(name)
            && let Some(slot) = key.iter().position(|k| *k == index)
        {
            values[slot] = ValueRef::parse(value)?;
        }
    }
    Ok(values)
}

/// Sorts `rows` by their key columns (typed order, module docs) on
/// `workers` threads. A row that does not decode is an error.
pub fn sort_by_key<'a>(
    rows: Vec<&'a [u8]>,
    schema: &ParquetSchema,
    workers: usize,
) -> Result<Vec<&'a [u8]>, WireError> {
    let keyed = rows
        .iter()
        .map(|row| key_values(row, schema).map(|values| (values, *row)))
        .collect::<Result<Vec<_>, _>>()?;
    // One numeric key, the common case: sort integers, not values.
    if keyed
        .iter()
        .all(|(values, _)| matches!(values.as_slice(), [ValueRef::Number(_)]))
    {
        let mut numbered: Vec<(u64, &'a [u8])> = keyed
            .into_iter()
            .map(|(values, row)| match values.as_slice() {
                [ValueRef::Number(n)] => (ordered_bits(*n), row),
                _ => (0, row),
            })
            .collect();
        parallel_sort(&mut numbered, workers, |a, b| a.0.cmp(&b.0));
        return Ok(numbered.into_iter().map(|(_, row)| row).collect());
    }
    let mut keyed = keyed;
    parallel_sort(&mut keyed, workers, |a, b| {
        a.0.iter()
            .zip(&b.0)
            .map(|(x, y)| compare_values(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    Ok(keyed.into_iter().map(|(_, row)| row).collect())
}

/// Sorts `items` in `workers` parts at once, then merges the parts.
fn parallel_sort<T: Send + Clone>(
    items: &mut [T],
    workers: usize,
    compare: impl Fn(&T, &T) -> Ordering + Sync,
) {
    let part = items.len().div_ceil(workers.max(1)).max(1 << 14);
    if part >= items.len() {
        items.sort_unstable_by(&compare);
        return;
    }
    std::thread::scope(|scope| {
        for chunk in items.chunks_mut(part) {
            let compare = &compare;
            scope.spawn(move || chunk.sort_unstable_by(compare));
        }
    });
    // Merge sorted runs pairwise until one is left.
    let mut run = part;
    let mut merged: Vec<T> = Vec::with_capacity(items.len());
    while run < items.len() {
        merged.clear();
        for pair in items.chunks(run * 2) {
            let (left, right) = pair.split_at(run.min(pair.len()));
            let (mut i, mut j) = (0, 0);
            while i < left.len() && j < right.len() {
                if compare(&right[j], &left[i]).is_lt() {
                    merged.push(right[j].clone());
                    j += 1;
                } else {
                    merged.push(left[i].clone());
                    i += 1;
                }
            }
            merged.extend_from_slice(&left[i..]);
            merged.extend_from_slice(&right[j..]);
        }
        items.clone_from_slice(&merged);
        run *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_sort_sorts_like_sort() {
        let mut state = 7u64;
        let mut numbers: Vec<u64> = (0..100_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state % 1000
            })
            .collect();
        let mut expected = numbers.clone();
        expected.sort_unstable();
        parallel_sort(&mut numbers, 3, |a, b| a.cmp(b));
        assert_eq!(numbers, expected);
    }

    #[test]
    fn ordered_bits_order_numbers() {
        let numbers = [-1e300, -2.5, -0.0, 0.0, 1e-300, 3.0, 1e300];
        for pair in numbers.windows(2) {
            assert!(ordered_bits(pair[0]) < ordered_bits(pair[1]), "{pair:?}");
        }
    }
}
