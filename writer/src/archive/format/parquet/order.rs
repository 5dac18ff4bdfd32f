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
use super::types::{ParquetSchema, Scalar};
use crate::table::KeyedRows;
use laredo_wire::{RawStructEntries, ValueRef, WireError, find_field};

/// Keys sampled per bucket to place the bucket boundaries: with 1,024, a
/// bucket's size is within a few percent of the goal.
const SAMPLES_PER_BUCKET: usize = 1024;

/// A snapshot's rows, read by index on every core.
pub trait SnapshotRows<'a>: Sync {
    /// How many rows.
    fn len(&self) -> usize;
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::archive::manifest::ManifestColumn;
    use laredo_wire::{encode_scalar, write_struct_entry};

    fn schema(columns: &[(&str, &str)], key: &[&str]) -> ParquetSchema {
        let columns: Vec<ManifestColumn> = columns
            .iter()
            .map(|(name, data_type)| ManifestColumn {
                name: (*name).into(),
                data_type: (*data_type).into(),
                ..ManifestColumn::default()
            })
            .collect();
        let key: Vec<String> = key.iter().map(|k| (*k).to_owned()).collect();
        ParquetSchema::new(&columns, &key).unwrap()
    }

    fn row(values: &[(&str, ValueRef<'_>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in values {
            write_struct_entry(&mut out, name, &encode_scalar(value));
        }
        out
    }

    /// Every bucket's rows, bucket after bucket.
    fn in_order<'a>(order: &KeyOrder<'a>) -> Vec<&'a [u8]> {
        let (mut scratch, mut rows, mut all) = (SortScratch::default(), Vec::new(), Vec::new());
        for index in 0..order.len() {
            order.sorted_into(index, &mut scratch, &mut rows);
            all.extend_from_slice(&rows);
        }
        all
    }

    /// Scrambled 0..count.
    fn scrambled(count: usize) -> impl Iterator<Item = usize> {
        (0..count).map(move |i| (i * 7919) % count)
    }

    #[test]
    fn integer_keys_given_as_text_order_as_integers() {
        let schema = schema(&[("id", "bigint")], &["id"]);
        let texts: Vec<String> = scrambled(5000)
            .map(|i| (i as i64 - 2500).to_string())
            .collect();
        let rows: Vec<Vec<u8>> = texts
            .iter()
            .map(|t| row(&[("id", ValueRef::String(t))]))
            .collect();
        let refs: Vec<&[u8]> = rows.iter().map(Vec::as_slice).collect();
        let order = KeyOrder::new(refs.as_slice(), &schema, 3, 8).unwrap();
        assert_eq!(order.len(), 8);
        let ids: Vec<i64> = in_order(&order)
            .iter()
            .map(|row| match find_field(row, "id").unwrap() {
                Some(ValueRef::String(t)) => t.parse().unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, (-2500..2500).collect::<Vec<_>>());
    }

    #[test]
    fn a_tables_formatted_keys_order_as_their_values() {
        let schema = schema(&[("id", "bigint"), ("v", "text")], &["id"]);
        let mut table = crate::table::Table::new(crate::table::KeySpec::default());
        // Go prints 1e6 as "1e+06"; PostgreSQL-text keys are digits.
        let numbers = [1e6, -3.0, 42.0, 7e15];
        let texts = ["9", "10", "-12", "1000001"];
        for n in numbers {
            table
                .upsert_encoded(&row(&[("id", ValueRef::Number(n))]))
                .unwrap();
        }
        for t in texts {
            table
                .upsert_encoded(&row(&[
                    ("id", ValueRef::String(t)),
                    ("v", ValueRef::String(t)),
                ]))
                .unwrap();
        }
        let rows = table.keyed_rows();
        let order = KeyOrder::new(&rows, &schema, 2, 3).unwrap();
        let ids: Vec<i64> = in_order(&order)
            .iter()
            .map(|row| match find_field(row, "id").unwrap() {
                Some(ValueRef::Number(n)) => n as i64,
                Some(ValueRef::String(t)) => t.parse().unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            ids,
            [
                -12,
                -3,
                9,
                10,
                42,
                1_000_000,
                1_000_001,
                7_000_000_000_000_000
            ]
        );
    }

    #[test]
    fn keys_of_several_columns_order_column_by_column() {
        let schema = schema(&[("region", "text"), ("n", "bigint")], &["region", "n"]);
        let regions = ["eu", "ap", "us"];
        let rows: Vec<Vec<u8>> = scrambled(3000)
            .map(|i| {
                row(&[
                    ("n", ValueRef::Number((i / 3) as f64)),
                    ("region", ValueRef::String(regions[i % 3])),
                ])
            })
            .collect();
        let refs: Vec<&[u8]> = rows.iter().map(Vec::as_slice).collect();
        let order = KeyOrder::new(refs.as_slice(), &schema, 2, 8).unwrap();
        let keys: Vec<(String, f64)> = in_order(&order)
            .iter()
            .map(|row| {
                let key = key_values(row, &schema).unwrap().0;
                match key.as_slice() {
                    [ValueRef::String(r), ValueRef::Number(n)] => ((*r).to_owned(), *n),
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        let mut expected = keys.clone();
        expected.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        assert_eq!(keys.len(), 3000);
        assert_eq!(keys, expected);
    }

    #[test]
    fn a_value_that_is_not_an_integer_orders_by_values_and_loses_no_row() {
        let schema = schema(&[("id", "integer")], &["id"]);
        let mut rows: Vec<Vec<u8>> = (0..100)
            .map(|i| row(&[("id", ValueRef::Number(f64::from(i)))]))
            .collect();
        rows.push(row(&[("id", ValueRef::String("not a number"))]));
        let refs: Vec<&[u8]> = rows.iter().rev().map(Vec::as_slice).collect();
        let order = KeyOrder::new(refs.as_slice(), &schema, 2, 4).unwrap();
        let sorted = in_order(&order);
        assert_eq!(sorted.len(), 101);
        assert_eq!(sorted.first(), Some(&rows[0].as_slice()));
        assert_eq!(sorted.last(), Some(&rows[100].as_slice()));
    }

    #[test]
    fn an_empty_table_has_one_empty_bucket() {
        let schema = schema(&[("id", "bigint")], &["id"]);
        let none: [&[u8]; 0] = [];
        let order = KeyOrder::new(none.as_slice(), &schema, 2, 1).unwrap();
        assert_eq!(order.len(), 1);
        assert!(in_order(&order).is_empty());
    }

    #[test]
    fn ordered_floats_order_numbers() {
        let numbers = [-1e300, -2.5, -0.0, 0.0, 1e-300, 3.0, 1e300];
        for pair in numbers.windows(2) {
            assert!(ordered_float(pair[0]) < ordered_float(pair[1]), "{pair:?}");
        }
    }

    #[test]
    fn ordered_integers_order_integers() {
        let numbers = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for pair in numbers.windows(2) {
            assert!(
                ordered_integer(pair[0]) < ordered_integer(pair[1]),
                "{pair:?}"
            );
        }
    }
}
