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

/// The number of a row's only key column, as [`ordered_bits`]; `None`
/// when it is not a number (or missing).
fn numeric_key(row: &[u8], name: &[u8]) -> Result<Option<u64>, WireError> {
    let mut key = None;
    // Protobuf map semantics: a name given twice, the last wins.
    for entry in RawStructEntries::new(row) {
        let (entry_name, value) = entry?;
        if entry_name == name {
            key = Some(value);
        }
    }
    Ok(match key.map(ValueRef::parse).transpose()? {
        Some(ValueRef::Number(n)) => Some(ordered_bits(n)),
        _ => None,
    })
}

/// Rows given in `count` ranges, `fill(i, rows)` putting the rows of range
/// `i` into `rows`: ranges of addresses, each read in the order it lies in
/// memory (`table::memory_order`).
pub trait RowRanges<'a>: Sync {
    /// How many ranges.
    fn count(&self) -> usize;
    /// Puts the rows of range `index` into `rows`.
    fn fill(&self, index: usize, rows: &mut Vec<&'a [u8]>);
}

impl<'a> RowRanges<'a> for crate::table::AddressRanges<'a> {
    fn count(&self) -> usize {
        self.len()
    }

    fn fill(&self, index: usize, rows: &mut Vec<&'a [u8]>) {
        self.sorted_into(index, rows);
    }
}

/// Rows in one range, as they are.
impl<'a> RowRanges<'a> for [&'a [u8]] {
    fn count(&self) -> usize {
        1
    }

    fn fill(&self, _: usize, rows: &mut Vec<&'a [u8]>) {
        rows.extend_from_slice(self);
    }
}

/// `f` of every row of every range, on `workers` threads (ranges taken in
/// turn), one run per worker.
fn map_ranges<'a, T: Send>(
    ranges: &(impl RowRanges<'a> + ?Sized),
    workers: usize,
    f: impl Fn(&'a [u8]) -> Result<T, WireError> + Sync,
) -> Result<Vec<T>, WireError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let runs: Vec<Result<Vec<T>, WireError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.clamp(1, ranges.count().max(1)))
            .map(|_| {
                let (f, next) = (&f, &next);
                scope.spawn(move || {
                    let (mut out, mut rows) = (Vec::new(), Vec::new());
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if index >= ranges.count() {
                            return Ok(out);
                        }
                        rows.clear();
                        ranges.fill(index, &mut rows);
                        for row in &rows {
                            out.push(f(row)?);
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let runs = runs.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(runs.iter().map(Vec::len).sum());
    for run in runs {
        out.extend(run);
    }
    Ok(out)
}

/// Every row of `ranges` sorted by its key columns (typed order, module
/// docs), keys read and rows sorted on `workers` threads. A row that does
/// not decode is an error.
pub fn sort_by_key<'a>(
    ranges: &(impl RowRanges<'a> + ?Sized),
    schema: &ParquetSchema,
    workers: usize,
) -> Result<Vec<&'a [u8]>, WireError> {
    // One numeric key column, the common case: sort integers, not values.
    if let [column] = schema.key_columns() {
        let name = schema.columns()[*column].name.as_bytes();
        let numbered = map_ranges(ranges, workers, |row| {
            numeric_key(row, name).map(|key| (key, row))
        })?;
        if numbered.iter().all(|(key, _)| key.is_some()) {
            let mut numbered: Vec<(u64, &'a [u8])> = numbered
                .into_iter()
                .map(|(key, row)| (key.unwrap_or(0), row))
                .collect();
            parallel_sort(&mut numbered, workers, |a, b| a.0.cmp(&b.0));
            return Ok(numbered.into_iter().map(|(_, row)| row).collect());
        }
    }
    let mut keyed = map_ranges(ranges, workers, |row| {
        key_values(row, schema).map(|values| (values, row))
    })?;
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
