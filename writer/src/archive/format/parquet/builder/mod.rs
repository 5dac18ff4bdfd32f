//! Column builders: values into Arrow arrays, a column at a time.
//!
//! A batch of rows is converted column by column ([`ColumnBuilder::append_all`]):
//! each column's loop is compiled once per column type, so it runs with
//! no branch on the type per value and with the value decoded in registers.
//! The common encodings take a shorter path still: a short string is
//! copied into a text column as bytes, and the column's new bytes are
//! checked as UTF-8 once per batch instead of once per value.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    FixedSizeBinaryBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, StringArray};
use arrow_schema::ArrowError;

use super::convert::{
    AppendError, ConvertError, boolean, decimal, describe, expected_name, float, integer,
    numeric_text, string, text_of,
};
use super::text;
use super::types::{Scalar, UTC};
use laredo_wire::{ValueRef, WireError, short_string};

mod column;

pub use column::ColumnBuilder;

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
    /// Text (`numeric_text`: numbers written as Go formats them), held as
    /// bytes until [`finish`](Self::finish): its bytes are checked as
    /// UTF-8 a batch at a time ([`ScalarBuilder::append_all`]).
    Text(BinaryBuilder, bool),
    /// `timestamp` / `timestamptz`.
    Timestamp(TimestampMicrosecondBuilder, bool),
    /// `date`.
    Date(Date32Builder),
    /// `uuid`.
    Uuid(FixedSizeBinaryBuilder),
    /// `bytea`.
    Bytes(BinaryBuilder),
}

/// Why one value of a batch was not added.
enum Failure<'v> {
    Wire(WireError),
    /// The value does not convert (described once it is known which type it
    /// missed).
    Invalid(ValueRef<'v>),
}

/// Evaluates `$body` once per kind of builder, with `$b` the builder,
/// `$convert` that kind's conversion of one decoded value (`None`: it does
/// not convert) and `$raw` its conversion of an encoded value without
/// decoding it (`None`: not an encoding it reads; the value is decoded and
/// converted instead). Every kind gets a copy of `$body` of its own.
macro_rules! by_kind {
    ($builder:expr, |$b:ident, $convert:ident, $raw:ident| $body:expr) => {{
        // Kinds without a shortcut for encoded values.
        fn none<B>(_: &mut B, _: &[u8]) -> Option<()> {
            None
        }
        match $builder {
            ScalarBuilder::Int16($b) => {
                let $convert = |b: &mut Int16Builder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                    integer(v, i16::MIN.into(), i16::MAX.into()).map(|n| b.append_value(n as i16))
                };
                let $raw = none::<Int16Builder>;
                $body
            }
            ScalarBuilder::Int32($b) => {
                let $convert = |b: &mut Int32Builder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                    integer(v, i32::MIN.into(), i32::MAX.into()).map(|n| b.append_value(n as i32))
                };
                let $raw = none::<Int32Builder>;
                $body
            }
            ScalarBuilder::Int64($b) => {
                let $convert = |b: &mut Int64Builder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                    integer(v, i64::MIN, i64::MAX).map(|n| b.append_value(n))
                };
                let $raw = none::<Int64Builder>;
                $body
            }
            ScalarBuilder::Float32($b) => {
                let $convert = |b: &mut Float32Builder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                    float(v).map(|f| b.append_value(f as f32))
                };
                let $raw = none::<Float32Builder>;
                $body
            }
            ScalarBuilder::Float64($b) => {
                let $convert = |b: &mut Float64Builder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                    float(v).map(|f| b.append_value(f))
                };
                let $raw = none::<Float64Builder>;
                $body
            }
            ScalarBuilder::Decimal($b, precision, scale) => {
                let (precision, scale) = (*precision, *scale);
                let $convert = |b: &mut Decimal128Builder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                    decimal(v, precision, scale).map(|n| b.append_value(n))
                };
                let $raw = none::<Decimal128Builder>;
                $body
            }
            ScalarBuilder::Bool($b) => {
                let $convert = |b: &mut BooleanBuilder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                    boolean(v).map(|v| b.append_value(v))
                };
                let $raw = none::<BooleanBuilder>;
                $body
            }
            ScalarBuilder::Text($b, numeric) => {
                let numeric = *numeric;
                let $convert = |b: &mut BinaryBuilder, v: &ValueRef<'_>, scratch: &mut Vec<u8>| {
                    let text = match numeric {
                        true => numeric_text(v, scratch),
                        false => text_of(v, scratch).map(str::as_bytes),
                    };
                    text.map(|t| b.append_value(t))
                };
                // Checked as UTF-8 with the rest of the batch.
                let $raw = |b: &mut BinaryBuilder, raw: &[u8]| {
                    short_string(raw).map(|t| b.append_value(t))
                };
                $body
            }
            ScalarBuilder::Timestamp($b, _) => {
                let $convert =
                    |b: &mut TimestampMicrosecondBuilder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                        string(v)
                            .and_then(|s| text::parse_timestamp(s.as_bytes()))
                            .map(|t| b.append_value(t))
                    };
                // A timestamp is ASCII: its parser refuses any other byte.
                let $raw = |b: &mut TimestampMicrosecondBuilder, raw: &[u8]| {
                    text::parse_timestamp(short_string(raw)?).map(|t| b.append_value(t))
                };
                $body
            }
            ScalarBuilder::Date($b) => {
                let $convert = |b: &mut Date32Builder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                    string(v)
                        .and_then(|s| text::parse_date(s.as_bytes()))
                        .map(|d| b.append_value(d))
                };
                let $raw = none::<Date32Builder>;
                $body
            }
            ScalarBuilder::Uuid($b) => {
                let $convert =
                    |b: &mut FixedSizeBinaryBuilder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                        string(v)
                            .and_then(text::parse_uuid)
                            .and_then(|u| b.append_value(u).ok())
                    };
                let $raw = none::<FixedSizeBinaryBuilder>;
                $body
            }
            ScalarBuilder::Bytes($b) => {
                let $convert = |b: &mut BinaryBuilder, v: &ValueRef<'_>, _: &mut Vec<u8>| {
                    string(v)
                        .and_then(text::parse_bytea)
                        .map(|v| b.append_value(v))
                };
                let $raw = none::<BinaryBuilder>;
                $body
            }
        }
    }};
}

/// Appends each of `values` (encoded `Value`s; `None` is a missing
/// column, a null) with `convert`, or with `raw` where it reads the
/// encoding as it is. Stops at the first value that is not added.
#[inline(always)]
fn each<'v, B>(
    builder: &mut B,
    values: impl IntoIterator<Item = Option<&'v [u8]>>,
    scratch: &mut Vec<u8>,
    null: impl Fn(&mut B),
    raw: impl Fn(&mut B, &[u8]) -> Option<()>,
    convert: impl Fn(&mut B, &ValueRef<'v>, &mut Vec<u8>) -> Option<()>,
) -> Result<(), (usize, Failure<'v>)> {
    for (at, encoded) in values.into_iter().enumerate() {
        let Some(encoded) = encoded else {
            null(builder);
            continue;
        };
        if raw(builder, encoded).is_some() {
            continue;
        }
        match ValueRef::parse(encoded) {
            Ok(ValueRef::Null) => null(builder),
            Ok(value) => convert(builder, &value, scratch).ok_or((at, Failure::Invalid(value)))?,
            Err(error) => return Err((at, Failure::Wire(error))),
        }
    }
    Ok(())
}

/// The first of the values `from` on of a text column that is not UTF-8,
/// counted from `from`. Checks the bytes once in all, and each value's
/// start; value by value only to find the culprit.
fn first_not_utf8(builder: &BinaryBuilder, from: usize) -> Option<usize> {
    let offsets = builder.offsets_slice();
    let bytes = builder.values_slice();
    let start = usize::try_from(offsets[from]).unwrap_or(0);
    // A value may start with a continuation byte only if it is empty.
    let starts_ok = offsets[from..].iter().all(|&offset| {
        usize::try_from(offset).is_ok_and(|o| bytes.get(o).is_none_or(|&b| (b as i8) >= -0x40))
    });
    if starts_ok && std::str::from_utf8(&bytes[start..]).is_ok() {
        return None;
    }
    (from..offsets.len() - 1).position(|index| {
        let range = usize::try_from(offsets[index]).unwrap_or(0)
            ..usize::try_from(offsets[index + 1]).unwrap_or(0);
        std::str::from_utf8(&bytes[range]).is_err()
    })
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
            Scalar::NumericText => Self::Text(BinaryBuilder::with_capacity(rows, rows * 8), true),
            Scalar::Text => Self::Text(BinaryBuilder::with_capacity(rows, rows * 32), false),
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

    pub(super) fn scalar(&self) -> Scalar {
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
        by_kind!(self, |b, _convert, _raw| b.append_null());
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
        by_kind!(&mut *self, |b, convert, _raw| convert(b, value, scratch)).ok_or_else(|| {
            ConvertError {
                expected: expected_name(self.scalar()),
                value: describe(value),
            }
        })
    }

    /// Appends each of `values` (encoded `Value`s, `None` for a null),
    /// converted to the column's type; on failure, which of them failed.
    pub fn append_all<'v>(
        &mut self,
        values: impl IntoIterator<Item = Option<&'v [u8]>>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), (usize, AppendError)> {
        let text_from = match self {
            Self::Text(b, _) => Some(b.len()),
            _ => None,
        };
        let added = by_kind!(&mut *self, |b, convert, raw| each(
            b,
            values,
            scratch,
            |b| b.append_null(),
            raw,
            convert
        ));
        added.map_err(|(at, failure)| {
            let error = match failure {
                Failure::Wire(error) => AppendError::Wire(error),
                Failure::Invalid(value) => AppendError::Convert(ConvertError {
                    expected: expected_name(self.scalar()),
                    value: describe(&value),
                }),
            };
            (at, error)
        })?;
        if let (Self::Text(b, _), Some(from)) = (&*self, text_from)
            && let Some(at) = first_not_utf8(b, from)
        {
            return Err((at, AppendError::Wire(WireError::Utf8)));
        }
        Ok(())
    }

    /// The values so far as an array; the builder starts again empty.
    pub fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let array: ArrayRef = match self {
            Self::Int16(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Float32(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Decimal(b, ..) => Arc::new(b.finish()),
            // Every value was checked as UTF-8 when it was added; this
            // checks the whole buffer once more, at memory speed.
            Self::Text(b, _) => Arc::new(StringArray::try_from_binary(b.finish())?),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Timestamp(b, _) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Uuid(b) => Arc::new(b.finish()),
            Self::Bytes(b) => Arc::new(b.finish()),
        };
        Ok(array)
    }
}
