//! Values into Arrow arrays: one builder per column, each converting what a
//! source sends (typed JSON values, or PostgreSQL text such as `"42"` and
//! `"t"`) to the column's type. A value that does not convert is a
//! [`ConvertError`]; nothing is rounded, truncated or guessed.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::ListArray;
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, FixedSizeBinaryBuilder,
    Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};

use super::text;
use super::types::{ColumnType, Scalar, UTC, element_field};
use crate::archive::format::jsonl;
use laredo_wire::{ValueRef, list_items};

/// A value that does not convert to its column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value} is not a valid {expected}")]
pub struct ConvertError {
    /// The type it should have been (`bigint`, `numeric(12,2)`, …).
    pub expected: String,
    /// The value, shortened, as JSON.
    pub value: String,
}

/// The longest value text quoted in an error.
const QUOTED: usize = 64;

fn describe(value: &ValueRef<'_>) -> String {
    let mut out = Vec::new();
    if jsonl::write_json_value(&mut out, value).is_err() {
        return "an undecodable value".to_owned();
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    match text.char_indices().nth(QUOTED) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

fn expected_name(scalar: Scalar) -> String {
    match scalar {
        Scalar::Int16 => "smallint".into(),
        Scalar::Int32 => "integer".into(),
        Scalar::Int64 => "bigint".into(),
        Scalar::Float32 => "real".into(),
        Scalar::Float64 => "double precision".into(),
        Scalar::Decimal { precision, scale } => format!("numeric({precision},{scale})"),
        Scalar::NumericText => "numeric".into(),
        Scalar::Bool => "boolean".into(),
        Scalar::Text => "text".into(),
        Scalar::Timestamp => "timestamp".into(),
        Scalar::TimestampTz => "timestamptz".into(),
        Scalar::Date => "date".into(),
        Scalar::Uuid => "uuid".into(),
        Scalar::Bytes => "bytea".into(),
    }
}

/// An integer from a JSON number (exact, in range) or decimal text.
pub(super) fn integer(value: &ValueRef<'_>, min: i64, max: i64) -> Option<i64> {
    let n = match value {
        // 2^63 as f64 is out of range; every f64 below it converts exactly.
        ValueRef::Number(f)
            if f.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(f) =>
        {
            *f as i64
        }
        ValueRef::String(s) => s.parse().ok()?,
        _ => return None,
    };
    (min..=max).contains(&n).then_some(n)
}

/// A float from a JSON number or PostgreSQL's float text (`NaN`,
/// `Infinity`, `-Infinity`, `1.5e3`).
pub(super) fn float(value: &ValueRef<'_>) -> Option<f64> {
    match value {
        ValueRef::Number(f) => Some(*f),
        ValueRef::String(s) => match *s {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            s => s.parse().ok().filter(|f: &f64| f.is_finite()),
        },
        _ => None,
    }
}

/// The text of a value stored as text: strings as they are, anything else
/// as JSON.
fn text_of<'a>(value: &ValueRef<'a>, scratch: &'a mut Vec<u8>) -> Option<&'a str> {
    match value {
        ValueRef::String(s) => Some(s),
        other => {
            scratch.clear();
            jsonl::write_json_value(scratch, other).ok()?;
            std::str::from_utf8(scratch).ok()
        }
    }
}

/// Builds one column of scalars.
#[derive(Debug)]
pub enum ScalarBuilder {
    /// `smallint`.
    Int16(Int16Builder),
    /// `integer`.
    Int32(Int32Builder),
    /// `bigint`.
    Int64(Int64Builder),
    /// `real`.
    Float32(Float32Builder),
    /// `double precision`.
    Float64(Float64Builder),
    /// `numeric(p, s)`.
    Decimal(Decimal128Builder, u8, i8),
    /// `boolean`.
    Bool(BooleanBuilder),
    /// Text (`numeric_text`: numbers written as Go formats them).
    Text(StringBuilder, bool),
    /// `timestamp` / `timestamptz`.
    Timestamp(TimestampMicrosecondBuilder, bool),
    /// `date`.
    Date(Date32Builder),
    /// `uuid`.
    Uuid(FixedSizeBinaryBuilder),
    /// `bytea`.
    Bytes(BinaryBuilder),
}

impl ScalarBuilder {
    /// A builder for `rows` values of `scalar`.
    pub fn new(scalar: Scalar, rows: usize) -> Self {
        match scalar {
            Scalar::Int16 => Self::Int16(Int16Builder::with_capacity(rows)),
            Scalar::Int32 => Self::Int32(Int32Builder::with_capacity(rows)),
            Scalar::Int64 => Self::Int64(Int64Builder::with_capacity(rows)),
            Scalar::Float32 => Self::Float32(Float32Builder::with_capacity(rows)),
            Scalar::Float64 => Self::Float64(Float64Builder::with_capacity(rows)),
            Scalar::Decimal { precision, scale } => Self::Decimal(
                Decimal128Builder::with_capacity(rows)
                    .with_precision_and_scale(precision, scale)
                    .unwrap_or_else(|_| Decimal128Builder::with_capacity(rows)),
                precision,
                scale,
            ),
            Scalar::NumericText => Self::Text(StringBuilder::with_capacity(rows, rows * 8), true),
            Scalar::Text => Self::Text(StringBuilder::with_capacity(rows, rows * 32), false),
            Scalar::Bool => Self::Bool(BooleanBuilder::with_capacity(rows)),
            Scalar::Timestamp => {
                Self::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows), false)
            }
            Scalar::TimestampTz => Self::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(UTC),
                true,
            ),
            Scalar::Date => Self::Date(Date32Builder::with_capacity(rows)),
            Scalar::Uuid => Self::Uuid(FixedSizeBinaryBuilder::with_capacity(rows, 16)),
            Scalar::Bytes => Self::Bytes(BinaryBuilder::with_capacity(rows, rows * 32)),
        }
    }

    fn scalar(&self) -> Scalar {
        match self {
            Self::Int16(_) => Scalar::Int16,
            Self::Int32(_) => Scalar::Int32,
            Self::Int64(_) => Scalar::Int64,
            Self::Float32(_) => Scalar::Float32,
            Self::Float64(_) => Scalar::Float64,
            Self::Decimal(_, precision, scale) => Scalar::Decimal {
                precision: *precision,
                scale: *scale,
            },
            Self::Text(_, true) => Scalar::NumericText,
            Self::Text(_, false) => Scalar::Text,
            Self::Bool(_) => Scalar::Bool,
            Self::Timestamp(_, false) => Scalar::Timestamp,
            Self::Timestamp(_, true) => Scalar::TimestampTz,
            Self::Date(_) => Scalar::Date,
            Self::Uuid(_) => Scalar::Uuid,
            Self::Bytes(_) => Scalar::Bytes,
        }
    }

    /// Appends a null.
    pub fn append_null(&mut self) {
        match self {
            Self::Int16(b) => b.append_null(),
            Self::Int32(b) => b.append_null(),
            Self::Int64(b) => b.append_null(),
            Self::Float32(b) => b.append_null(),
            Self::Float64(b) => b.append_null(),
            Self::Decimal(b, ..) => b.append_null(),
            Self::Text(b, _) => b.append_null(),
            Self::Bool(b) => b.append_null(),
            Self::Timestamp(b, _) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Uuid(b) => b.append_null(),
            Self::Bytes(b) => b.append_null(),
        }
    }

    /// Appends `value` converted to the column's type (a JSON null is a
    /// null); `scratch` is reused between calls.
    pub fn append(
        &mut self,
        value: &ValueRef<'_>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), ConvertError> {
        if matches!(value, ValueRef::Null) {
            self.append_null();
            return Ok(());
        }
        let converted =
            match self {
                Self::Int16(b) => integer(value, i16::MIN.into(), i16::MAX.into())
                    .map(|n| b.append_value(n as i16)),
                Self::Int32(b) => integer(value, i32::MIN.into(), i32::MAX.into())
                    .map(|n| b.append_value(n as i32)),
                Self::Int64(b) => integer(value, i64::MIN, i64::MAX).map(|n| b.append_value(n)),
                Self::Float32(b) => float(value).map(|f| b.append_value(f as f32)),
                Self::Float64(b) => float(value).map(|f| b.append_value(f)),
                Self::Decimal(b, precision, scale) => {
                    let parsed = match value {
                        ValueRef::Number(f) if f.is_finite() => text::parse_decimal(
                            ryu::Buffer::new().format_finite(*f),
                            *precision,
                            *scale,
                        ),
                        ValueRef::String(s) => text::parse_decimal(s, *precision, *scale),
                        _ => None,
                    };
                    parsed.map(|n| b.append_value(n))
                }
                Self::Text(b, numeric) => match value {
                    ValueRef::Number(f) if *numeric => {
                        scratch.clear();
                        jsonl::write_go_float(scratch, *f);
                        std::str::from_utf8(scratch).ok().map(|t| b.append_value(t))
                    }
                    other => text_of(other, scratch).map(|t| b.append_value(t)),
                },
                Self::Bool(b) => match value {
                    ValueRef::Bool(v) => Some(*v),
                    ValueRef::String("t" | "true") => Some(true),
                    ValueRef::String("f" | "false") => Some(false),
                    _ => None,
                }
                .map(|v| b.append_value(v)),
                Self::Timestamp(b, _) => match value {
                    ValueRef::String(s) => text::parse_timestamp(s).map(|t| b.append_value(t)),
                    _ => None,
                },
                Self::Date(b) => match value {
                    ValueRef::String(s) => text::parse_date(s).map(|d| b.append_value(d)),
                    _ => None,
                },
                Self::Uuid(b) => match value {
                    ValueRef::String(s) => text::parse_uuid(s).and_then(|u| b.append_value(u).ok()),
                    _ => None,
                },
                Self::Bytes(b) => match value {
                    ValueRef::String(s) => text::parse_bytea(s).map(|v| b.append_value(v)),
                    _ => None,
                },
            };
        converted.ok_or_else(|| ConvertError {
            expected: expected_name(self.scalar()),
            value: describe(value),
        })
    }

    /// The values so far as an array; the builder starts again empty.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Int16(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Float32(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Decimal(b, ..) => Arc::new(b.finish()),
            Self::Text(b, _) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Timestamp(b, _) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Uuid(b) => Arc::new(b.finish()),
            Self::Bytes(b) => Arc::new(b.finish()),
        }
    }
}

/// Builds one column: scalars, or lists of them.
#[derive(Debug)]
pub enum ColumnBuilder {
    /// One value per row.
    Scalar(ScalarBuilder),
    /// A list per row (PostgreSQL array text `{…}` or a JSON list).
    List {
        /// The elements of every row, one after another.
        values: ScalarBuilder,
        /// Where each row's elements start, and the end.
        offsets: Vec<i32>,
        /// Which rows are not null.
        nulls: NullBufferBuilder,
        /// The element field of the list type.
        element: Arc<Field>,
    },
}

impl ColumnBuilder {
    /// A builder for `rows` values of `ty`.
    pub fn new(ty: ColumnType, rows: usize) -> Self {
        match ty {
            ColumnType::Scalar(scalar) => Self::Scalar(ScalarBuilder::new(scalar, rows)),
            ColumnType::List(scalar) => {
                let element = Arc::new(element_field(scalar));
                let mut offsets = Vec::with_capacity(rows + 1);
                offsets.push(0);
                Self::List {
                    values: ScalarBuilder::new(scalar, rows * 4),
                    offsets,
                    nulls: NullBufferBuilder::new(rows),
                    element,
                }
            }
        }
    }

    /// Appends a null.
    pub fn append_null(&mut self) {
        match self {
            Self::Scalar(builder) => builder.append_null(),
            Self::List { offsets, nulls, .. } => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                nulls.append_null();
            }
        }
    }

    /// Appends `value` converted to the column's type.
    pub fn append(
        &mut self,
        value: &ValueRef<'_>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), ConvertError> {
        let (values, offsets, nulls) = match self {
            Self::Scalar(builder) => return builder.append(value, scratch),
            Self::List {
                values,
                offsets,
                nulls,
                ..
            } => (values, offsets, nulls),
        };
        let invalid = |value: &ValueRef<'_>, values: &ScalarBuilder| ConvertError {
            expected: format!("{}[]", expected_name(values.scalar())),
            value: describe(value),
        };
        let mut count: usize = 0;
        match value {
            ValueRef::Null => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                nulls.append_null();
                return Ok(());
            }
            ValueRef::String(literal) => {
                let elements = text::parse_array(literal).ok_or_else(|| invalid(value, values))?;
                for element in &elements {
                    match element {
                        None => values.append_null(),
                        Some(text) => values
                            .append(&ValueRef::String(text), scratch)
                            .map_err(|_| invalid(value, values))?,
                    }
                    count += 1;
                }
            }
            ValueRef::List(items) => {
                for item in list_items(items) {
                    let item = item
                        .and_then(ValueRef::parse)
                        .map_err(|_| invalid(value, values))?;
                    values
                        .append(&item, scratch)
                        .map_err(|_| invalid(value, values))?;
                    count += 1;
                }
            }
            _ => return Err(invalid(value, values)),
        }
        let end = i64::from(offsets.last().copied().unwrap_or(0)) + count as i64;
        let end = i32::try_from(end).map_err(|_| invalid(value, values))?;
        offsets.push(end);
        nulls.append_non_null();
        Ok(())
    }

    /// The values so far as an array; the builder starts again empty.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Scalar(builder) => builder.finish(),
            Self::List {
                values,
                offsets,
                nulls,
                element,
            } => {
                let ends = std::mem::replace(offsets, vec![0]);
                let values = values.finish();
                let offsets = OffsetBuffer::new(ScalarBuffer::from(ends));
                // Offsets, values and nulls were appended together: they
                // agree, so this cannot fail.
                let list = ListArray::try_new(Arc::clone(element), offsets, values, nulls.finish());
                match list {
                    Ok(list) => Arc::new(list),
                    Err(_) => arrow_array::new_null_array(&DataType::List(Arc::clone(element)), 0),
                }
            }
        }
    }
}
