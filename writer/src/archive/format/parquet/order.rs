//! A snapshot's rows in key order, without one global sort: each row's key
//! is read once (range by range in memory order, on every core), sampled
//! keys cut the key space into buckets of about a row group each, and each
//! bucket is sorted by the worker that encodes it, right before it does.
//! No thread waits for a merge of the whole table, and the sort of a
//! bucket (~120k keys) stays in cache.
//!
//! Keys order as their typed columns do: a single integer or float key
//! column (the common case) as one machine integer per row, converted the
//! way its values are (so a PostgreSQL-text `"10"` sorts after `"9"`);
//! anything else as its values, numbers by value and text by bytes (which
//! orders dates, UUIDs and same-form timestamps too).

use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use super::convert::{float, integer};
use super::schema::ParquetSchema;
use super::types::Scalar;
use crate::table::KeyedRows;
use laredo_wire::{RawStructEntries, ValueRef, WireError, find_field};

/// Keys sampled per bucket to place the bucket boundaries: with 1,024, a
/// bucket's size is within a few percent of the goal.
const SAMPLES_PER_BUCKET: usize = 1024;

/// A snapshot's rows, read by index on every core.
pub trait SnapshotRows<'a>: Sync {
    /// How many rows.
    fn len(&self) -> usize;
    /// The rows' bytes in all (an upper bound: the table's counts its keys).
    fn bytes(&self) -> usize;
    /// Whether there is no row.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Row `index`'s encoded `Struct`, and the key its table formatted for
    /// it (Go `%v` text of [`key_columns`](Self::key_columns)) where known.
    fn row(&self, index: usize) -> (Option<&'a [u8]>, &'a [u8]);
    /// The columns the formatted keys are made of, where known.
    fn key_columns(&self) -> Option<&[String]>;
}

/// A table's rows: a single-column key is read from the formatted key in
/// front of each row (one cache line) instead of from the row's values.
impl<'a> SnapshotRows<'a> for KeyedRows<'a> {
    fn len(&self) -> usize {
        KeyedRows::len(self)
    }

    fn bytes(&self) -> usize {
        KeyedRows::bytes(self)
    }

    fn row(&self, index: usize) -> (Option<&'a [u8]>, &'a [u8]) {
        self.get(index)
            .map_or((None, &[][..]), |(key, row)| (Some(key), row))
    }

    fn key_columns(&self) -> Option<&[String]> {
        Some(self.key_spec().fields())
    }
}

/// Rows without their keys.
impl<'a> SnapshotRows<'a> for [&'a [u8]] {
    fn len(&self) -> usize {
        <[&[u8]]>::len(self)
    }

    fn bytes(&self) -> usize {
        self.iter().map(|row| row.len()).sum()
    }

    fn row(&self, index: usize) -> (Option<&'a [u8]>, &'a [u8]) {
        (None, self.get(index).copied().unwrap_or_default())
    }

    fn key_columns(&self) -> Option<&[String]> {
        None
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

/// Orders two key values: numbers by value, text by bytes.
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

/// A row's key columns' values, ordered value by value.
#[derive(Debug, Clone)]
struct ValuesKey<'a>(Vec<ValueRef<'a>>);

impl Ord for ValuesKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| compare_values(a, b))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for ValuesKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ValuesKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for ValuesKey<'_> {}

/// A float's bits, mapped so that unsigned order is the floats' total
/// order.
fn ordered_float(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// An integer's bits, mapped so that unsigned order is the integers' order.
fn ordered_integer(value: i64) -> u64 {
    (value as u64) ^ 1 << 63
}

/// The values of the key columns of `row` (`Null` for a missing one).
fn key_values<'a>(row: &'a [u8], schema: &ParquetSchema) -> Result<ValuesKey<'a>, WireError> {
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
    Ok(ValuesKey(values))
}

/// Rows handed to a worker at a time.
const ROWS_PER_TASK: usize = 16 * 1024;

/// `f` of every row, on `workers` threads (rows taken a task at a time in
/// turn), one run per worker.
fn map_rows<'a, T: Send>(
    rows: &(impl SnapshotRows<'a> + ?Sized),
    workers: usize,
    f: impl Fn(Option<&'a [u8]>, &'a [u8]) -> Result<T, WireError> + Sync,
) -> Result<Vec<Vec<T>>, WireError> {
    let next = AtomicUsize::new(0);
    let count = rows.len();
    let tasks = count.div_ceil(ROWS_PER_TASK);
    crate::blocking::on_threads(0..workers.clamp(1, tasks.max(1)), |_| {
        let mut out = Vec::with_capacity(count / workers.max(1) + ROWS_PER_TASK);
        loop {
            let task = next.fetch_add(1, AtomicOrdering::Relaxed);
            if task >= tasks {
                return Ok(out);
            }
            for index in task * ROWS_PER_TASK..((task + 1) * ROWS_PER_TASK).min(count) {
                let (key, row) = rows.row(index);
                out.push(f(key, row)?);
            }
        }
    })
    // A worker's panic goes on in the caller (a snapshot reports it).
    .unwrap_or_else(|message| panic!("{message}"))
    .into_iter()
    .collect()
}

/// Rows with their keys, as one worker read them or as one bucket holds
/// them.
type Run<'a, K> = Vec<(K, &'a [u8])>;

/// Keyed rows cut into buckets of consecutive key ranges.
#[derive(Debug)]
struct Buckets<'a, K> {
    /// `parts[w][b]`: the rows of bucket `b` that worker `w` keyed.
    parts: Vec<Vec<Run<'a, K>>>,
    buckets: usize,
}

impl<'a, K: Ord + Clone + Send + Sync> Buckets<'a, K> {
    /// Cuts `runs` into `buckets` buckets of about equal size at sampled
    /// keys, on as many threads as there are runs.
    fn cut(runs: Vec<Run<'a, K>>, buckets: usize) -> Self {
        let total: usize = runs.iter().map(Vec::len).sum();
        let buckets = buckets.clamp(1, total.max(1));
        let mut sample: Vec<&K> = Vec::new();
        if buckets > 1 {
            let step = (total / (buckets * SAMPLES_PER_BUCKET)).max(1);
            sample.extend(runs.iter().flatten().step_by(step).map(|(key, _)| key));
            sample.sort_unstable();
        }
        let bounds: Vec<K> = (1..buckets)
            .map(|i| sample[i * sample.len() / buckets].clone())
            .collect();
        let parts = crate::blocking::on_threads(runs, |run| {
            let mut split: Vec<Run<'a, K>> = (0..buckets)
                .map(|_| Vec::with_capacity(run.len() / buckets + run.len() / buckets / 8 + 4))
                .collect();
            for (key, row) in run {
                split[bounds.partition_point(|bound| *bound <= key)].push((key, row));
            }
            split
        })
        .unwrap_or_else(|message| panic!("{message}"));
        Self { parts, buckets }
    }

    /// Puts the rows of bucket `index` into `rows`, in key order.
    fn sorted_into(&self, index: usize, keyed: &mut Run<'a, K>, rows: &mut Vec<&'a [u8]>) {
        keyed.clear();
        for part in &self.parts {
            keyed.extend_from_slice(&part[index]);
        }
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        rows.clear();
        rows.extend(keyed.iter().map(|(_, row)| *row));
    }
}

/// A table's rows cut into buckets of consecutive key ranges of about a
/// row group each, to be sorted one by one ([`KeyOrder::sorted_into`]) by
/// whoever encodes them.
#[derive(Debug)]
pub struct KeyOrder<'a>(Cut<'a>);

#[derive(Debug)]
enum Cut<'a> {
    /// One integer or float key column.
    Number(Buckets<'a, u64>),
    /// Any other key.
    Values(Buckets<'a, ValuesKey<'a>>),
}

/// The sort scratch of one worker.
#[derive(Debug, Default)]
pub struct SortScratch<'a> {
    numbers: Run<'a, u64>,
    values: Run<'a, ValuesKey<'a>>,
}

impl<'a> KeyOrder<'a> {
    /// Reads the key of every row on `workers` threads and cuts the rows
    /// into `buckets` buckets of about equal size (fewer for fewer rows).
    /// A row that does not decode is an error.
    pub fn new(
        rows: &(impl SnapshotRows<'a> + ?Sized),
        schema: &ParquetSchema,
        workers: usize,
        buckets: usize,
    ) -> Result<Self, WireError> {
        if let Some(runs) = number_keys(rows, schema, workers)? {
            return Ok(Self(Cut::Number(Buckets::cut(runs, buckets))));
        }
        let runs = map_rows(rows, workers, |_, row| {
            key_values(row, schema).map(|key| (key, row))
        })?;
        Ok(Self(Cut::Values(Buckets::cut(runs, buckets))))
    }

    /// How many buckets.
    pub fn len(&self) -> usize {
        match &self.0 {
            Cut::Number(buckets) => buckets.buckets,
            Cut::Values(buckets) => buckets.buckets,
        }
    }

    /// Whether there is no bucket (never: an empty table has one, empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts the rows of bucket `index` into `rows`, in key order; every row
    /// of bucket `i` orders before every row of bucket `i + 1`.
    pub fn sorted_into(
        &self,
        index: usize,
        scratch: &mut SortScratch<'a>,
        rows: &mut Vec<&'a [u8]>,
    ) {
        match &self.0 {
            Cut::Number(buckets) => buckets.sorted_into(index, &mut scratch.numbers, rows),
            Cut::Values(buckets) => buckets.sorted_into(index, &mut scratch.values, rows),
        }
    }
}

/// Each row's key as one ordered integer, when the key is one integer or
/// float column and every row's value converts to its type; `None`
/// otherwise (the rows are then ordered by their values, and a value that
/// does not convert fails the encoding, where it is named).
fn number_keys<'a>(
    rows: &(impl SnapshotRows<'a> + ?Sized),
    schema: &ParquetSchema,
    workers: usize,
) -> Result<Option<Vec<Run<'a, u64>>>, WireError> {
    let [column] = schema.key_columns() else {
        return Ok(None);
    };
    let column = &schema.columns()[*column];
    type FromValue = fn(&ValueRef<'_>) -> Option<u64>;
    type FromText = fn(&str) -> Option<u64>;
    let (convert, parse): (FromValue, FromText) = match column.ty.scalar() {
        Scalar::Int16 | Scalar::Int32 | Scalar::Int64 => (
            |value| integer(value, i64::MIN, i64::MAX).map(ordered_integer),
            |text| integer_text(text).map(ordered_integer),
        ),
        Scalar::Float32 | Scalar::Float64 => (
            |value| float(value).map(ordered_float),
            |text| text.parse().ok().map(ordered_float),
        ),
        _ => return Ok(None),
    };
    // The formatted key holds the column's value when the key is that one
    // column: reading it touches the row's first cache line only.
    let formatted = rows.key_columns() == Some(std::slice::from_ref(&column.name));
    let keyed = map_rows(rows, workers, |key, row| {
        let from_key = key
            .filter(|_| formatted)
            .and_then(|key| std::str::from_utf8(key).ok())
            .and_then(parse);
        let key = match from_key {
            Some(key) => Some(key),
            None => find_field(row, &column.name)?.as_ref().and_then(convert),
        };
        Ok(key.map(|key| (key, row)))
    })?;
    let mut runs = Vec::with_capacity(keyed.len());
    for run in keyed {
        match run.into_iter().collect::<Option<Vec<_>>>() {
            Some(run) => runs.push(run),
            None => return Ok(None),
        }
    }
    Ok(Some(runs))
}

/// An integer from a formatted key: as PostgreSQL text, or as Go prints a
/// JSON number (`1e+06`), which must then be whole.
fn integer_text(text: &str) -> Option<i64> {
    text.parse()
        .ok()
        .or_else(|| integer(&ValueRef::Number(text.parse().ok()?), i64::MIN, i64::MAX))
}

#[cfg(test)]
mod tests;
