//! Reading Parquet objects back into rows: every row becomes an encoded
//! `Struct` (values in the forms `read` prints, see [`super::text`]), so a
//! rebuild keys and holds them as it holds protobuf rows. Any Parquet file
//! of the types the writer writes is read; a file with other types, or
//! that does not decode, is an error (never a panic: archives are outside
//! input). Snapshots decode on every core (`snapshot.rs`), diffs here.

mod snapshot;

pub use snapshot::{DecodedRow, KeyWriter, SnapshotPart, snapshot_parts, snapshot_rows};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

use super::schema::{LSN_COLUMN, OP_COLUMN, POSITION_COLUMN, TYPE_METADATA};
use super::text;
use super::types::{ColumnType, Scalar};
use crate::archive::format::{DiffRecord, FormatError, StoredRow};
use crate::table::{Action, KeySpec};
use laredo_wire::{ValueRef, write_scalar, write_struct_entry};

/// Rows decoded per batch.
const BATCH_ROWS: usize = 8192;

/// How a column of `field` is read back (its type, `numeric` text told
/// by the type the column was announced with), or why it cannot be.
fn reading_of(field: &Field) -> Result<ColumnType, String> {
    let announced = field
        .metadata()
        .get(TYPE_METADATA)
        .map(|t| ColumnType::of_postgres(t));
    let numeric_text = announced == Some(ColumnType::Scalar(Scalar::NumericText));
    let unreadable = |data_type: &DataType| {
        format!(
            "column {:?} has type {data_type}, which this reader does not read",
            field.name()
        )
    };
    match field.data_type() {
        DataType::List(element) => match element.data_type() {
            DataType::List(_) => Err(format!("column {:?}: nested lists", field.name())),
            inner => Scalar::of_arrow(inner, false)
                .map(ColumnType::List)
                .ok_or_else(|| unreadable(inner)),
        },
        other => Scalar::of_arrow(other, numeric_text)
            .map(ColumnType::Scalar)
            .ok_or_else(|| unreadable(other)),
    }
}

/// A column of one batch, ready to read row by row.
struct Column<'a> {
    name: &'a str,
    array: &'a ArrayRef,
    /// Its type: how its values are printed.
    reading: ColumnType,
}

/// Appends the encoded `Value` of row `row` of `column` to `out`; `text`
/// is scratch space.
fn encode_value(column: &Column<'_>, row: usize, out: &mut Vec<u8>, text: &mut String) {
    write_scalar(out, &value_of(column, row, text));
}

/// The value of row `row` of `column`, in the form `read` prints; `text`
/// holds it where it is text made here. Inlined into [`encode_value`]: out
/// of line, the value went through memory and a rebuild measured 5–10 %
/// slower in alternating runs.
#[inline(always)]
fn value_of<'v>(column: &Column<'v>, row: usize, text: &'v mut String) -> ValueRef<'v> {
    let array = column.array;
    if array.is_null(row) {
        return ValueRef::Null;
    }
    text.clear();
    match column.reading {
        ColumnType::Scalar(Scalar::Int16) => {
            ValueRef::Number(f64::from(array.as_primitive::<Int16Type>().value(row)))
        }
        ColumnType::Scalar(Scalar::Int32) => {
            ValueRef::Number(f64::from(array.as_primitive::<Int32Type>().value(row)))
        }
        ColumnType::Scalar(Scalar::Int64) => {
            ValueRef::Number(array.as_primitive::<Int64Type>().value(row) as f64)
        }
        ColumnType::Scalar(Scalar::Float32) => {
            let value = array.as_primitive::<Float32Type>().value(row);
            float_value(
                f64::from(value),
                || {
                    ryu::Buffer::new()
                        .format(value)
                        .parse()
                        .unwrap_or(f64::from(value))
                },
                text,
            )
        }
        ColumnType::Scalar(Scalar::Float64) => {
            let value = array.as_primitive::<Float64Type>().value(row);
            float_value(value, || value, text)
        }
        ColumnType::Scalar(Scalar::Decimal { scale, .. }) => {
            let value = array.as_primitive::<Decimal128Type>().value(row);
            ValueRef::Number(decimal_value(value, scale, text))
        }
        ColumnType::Scalar(scalar @ (Scalar::Text | Scalar::NumericText)) => {
            let value = array.as_string::<i32>().value(row);
            match (scalar == Scalar::NumericText).then(|| value.parse::<f64>()) {
                Some(Ok(number)) if number.is_finite() => ValueRef::Number(number),
                _ => ValueRef::String(value),
            }
        }
        ColumnType::Scalar(Scalar::Bool) => ValueRef::Bool(array.as_boolean().value(row)),
        ColumnType::Scalar(scalar @ (Scalar::Timestamp | Scalar::TimestampTz)) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            text::format_timestamp(text, micros, scalar == Scalar::TimestampTz);
            ValueRef::String(text)
        }
        ColumnType::Scalar(Scalar::Date) => {
            text::format_date(text, array.as_primitive::<Date32Type>().value(row));
            ValueRef::String(text)
        }
        ColumnType::Scalar(Scalar::Uuid) => {
            text::format_uuid(text, array.as_fixed_size_binary().value(row));
            ValueRef::String(text)
        }
        ColumnType::Scalar(Scalar::Bytes) => {
            text::format_bytea(text, array.as_binary::<i32>().value(row));
            ValueRef::String(text)
        }
        ColumnType::List(scalar) => {
            let items = array.as_list::<i32>().value(row);
            let element = Column {
                name: column.name,
                array: &items,
                reading: ColumnType::Scalar(scalar),
            };
            let elements: Vec<Option<String>> = (0..items.len())
                .map(|index| element_text(&element, index))
                .collect();
            text::format_array(text, &elements);
            ValueRef::String(text)
        }
    }
}

/// Powers of ten that are exact as `f64`.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The `f64` nearest a decimal, as parsing its text gives: where the
/// unscaled value and the power of ten are both exact as `f64`, their
/// quotient is one correctly rounded division; else through the text.
fn decimal_value(unscaled: i128, scale: i8, text: &mut String) -> f64 {
    const EXACT: i128 = 1 << 53;
    if let Some(power) = usize::try_from(scale)
        .ok()
        .and_then(|s| EXACT_POWERS_OF_TEN.get(s))
        && (-EXACT..=EXACT).contains(&unscaled)
    {
        return unscaled as f64 / power;
    }
    text::format_decimal(text, unscaled, scale);
    text.parse().unwrap_or(f64::NAN)
}

/// A float's value: a number, or PostgreSQL's text of NaN and infinities
/// (JSON has no number for them).
fn float_value(value: f64, exact: impl FnOnce() -> f64, text: &mut String) -> ValueRef<'_> {
    if value.is_nan() {
        text.push_str("NaN");
    } else if value.is_infinite() {
        text.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        return ValueRef::Number(exact());
    }
    ValueRef::String(text)
}

/// The text of an array element, as PostgreSQL prints it inside `{…}`.
fn element_text(element: &Column<'_>, index: usize) -> Option<String> {
    let mut text = String::new();
    Some(match value_of(element, index, &mut text) {
        ValueRef::Null => return None,
        ValueRef::String(s) => s.to_owned(),
        ValueRef::Number(n) => {
            let mut out = Vec::new();
            crate::archive::format::jsonl::write_go_float(&mut out, n);
            String::from_utf8(out).unwrap_or_default()
        }
        ValueRef::Bool(b) => if b { "t" } else { "f" }.to_owned(),
        ValueRef::Struct(_) | ValueRef::List(_) => String::new(),
    })
}

/// The readings of a batch's columns, or why one cannot be read.
fn columns<'a>(batch: &'a RecordBatch, skip: usize) -> Result<Vec<Column<'a>>, String> {
    batch
        .schema_ref()
        .fields()
        .iter()
        .zip(batch.columns())
        .skip(skip)
        .map(|(field, array)| {
            Ok(Column {
                name: field.name(),
                array,
                reading: reading_of(field)?,
            })
        })
        .collect()
}

/// Appends row `row` of `columns` as an encoded `Struct`.
fn encode_row(
    columns: &[Column<'_>],
    row: usize,
    out: &mut Vec<u8>,
    value: &mut Vec<u8>,
    text: &mut String,
    mut written: impl FnMut((usize, usize)),
) {
    for column in columns {
        value.clear();
        encode_value(column, row, value, text);
        write_struct_entry(out, column.name, value);
        written((out.len() - value.len(), out.len()));
    }
}

fn parquet_error(error: impl std::fmt::Display) -> FormatError {
    FormatError::at(0, format!("not a readable Parquet file: {error}"))
}

/// The file's metadata, read once for every worker.
fn metadata(object: &Bytes) -> Result<ArrowReaderMetadata, FormatError> {
    ArrowReaderMetadata::load(object, ArrowReaderOptions::new()).map_err(parquet_error)
}

/// Decodes the row groups `groups` of `object`, calling `batch` with each
/// batch and the number of rows before it.
fn each_batch(
    object: &Bytes,
    metadata: &ArrowReaderMetadata,
    groups: Vec<usize>,
    mut batch: impl FnMut(&RecordBatch) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let reader =
        ParquetRecordBatchReaderBuilder::new_with_metadata(object.clone(), metadata.clone())
            .with_batch_size(BATCH_ROWS)
            .with_row_groups(groups)
            .build()
            .map_err(parquet_error)?;
    for decoded in reader {
        batch(&decoded.map_err(parquet_error)?)?;
    }
    Ok(())
}

/// Decodes a diff object: its records in file order, keyed by `key` (the
/// key columns of the new row, or of a delete's row), whose rows are
/// ranges of the returned buffer of encoded `Struct`s.
pub fn diff_records(
    object: &Bytes,
    key: &KeySpec,
) -> Result<(Bytes, Vec<DiffRecord>), FormatError> {
    let metadata = metadata(object)?;
    let fields = metadata.schema().fields();
    let leading: Vec<&str> = fields.iter().take(3).map(|f| f.name().as_str()).collect();
    if leading != [OP_COLUMN, POSITION_COLUMN, LSN_COLUMN] {
        return Err(FormatError::at(
            0,
            format!(
                "a Parquet diff starts with the columns {OP_COLUMN}, {POSITION_COLUMN}, {LSN_COLUMN}; this one with {leading:?}"
            ),
        ));
    }
    let groups = (0..metadata.metadata().num_row_groups()).collect();
    let mut rows = Vec::new();
    // (action, where its row is in `rows`, its key)
    let mut pending: Vec<(Action, std::ops::Range<usize>, String)> = Vec::new();
    let (mut value, mut text) = (Vec::new(), String::new());
    each_batch(object, &metadata, groups, |batch| {
        let ops = batch
            .column(0)
            .as_string_opt::<i32>()
            .ok_or_else(|| FormatError::at(0, "_op is not text"))?;
        let columns = columns(batch, 3).map_err(|m| FormatError::at(0, m))?;
        for index in 0..batch.num_rows() {
            let number = pending.len() + 1;
            let action = Action::parse(ops.value(index))
                .filter(|_| ops.is_valid(index))
                .ok_or_else(|| {
                    FormatError::at(number, format!("unknown _op {:?}", ops.value(index)))
                })?;
            let start = rows.len();
            let mut key_text = String::new();
            if action != Action::Truncate {
                let mut row = Vec::new();
                // A delete holds its key columns only: its other columns are
                // null, and left out.
                let present: Vec<&Column<'_>> = match action {
                    Action::Delete => columns.iter().filter(|c| key.contains(c.name)).collect(),
                    _ => columns.iter().collect(),
                };
                for column in present {
                    value.clear();
                    encode_value(column, index, &mut value, &mut text);
                    write_struct_entry(&mut row, column.name, &value);
                }
                key.write_key(&row, &mut key_text)
                    .map_err(|error| FormatError::at(number, error))?;
                if action != Action::Delete {
                    rows.extend_from_slice(&row);
                }
            }
            pending.push((action, start..rows.len(), key_text));
        }
        Ok(())
    })?;
    let rows = Bytes::from(rows);
    let records = pending
        .into_iter()
        .map(|(action, range, key)| DiffRecord {
            action,
            key,
            new: matches!(action, Action::Insert | Action::Update)
                .then(|| StoredRow::Struct(rows.slice(range))),
        })
        .collect();
    Ok((rows, records))
}

/// Every column of a batch as arrays, for tests.
#[cfg(test)]
pub(super) fn batches(object: &Bytes) -> Vec<RecordBatch> {
    let metadata = metadata(object).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let groups = (0..metadata.metadata().num_row_groups()).collect();
    each_batch(object, &metadata, groups, |b| {
        out.push(b.clone());
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    out
}
