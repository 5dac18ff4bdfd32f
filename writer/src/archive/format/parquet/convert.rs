//! What a source sends (typed JSON values, or PostgreSQL text such as
//! `"42"` and `"t"`) converted to a column's type, one value at a time. A
//! value that does not convert is a [`ConvertError`]; nothing is rounded,
//! truncated or guessed. The column builders ([`super::builder`]) call
//! these.

use super::text;
use super::types::Scalar;
use crate::archive::format::jsonl;
use laredo_wire::{ValueRef, WireError};

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

pub(super) fn describe(value: &ValueRef<'_>) -> String {
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

pub(super) fn expected_name(scalar: Scalar) -> String {
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
pub(super) fn text_of<'a>(value: &ValueRef<'a>, scratch: &'a mut Vec<u8>) -> Option<&'a str> {
    match value {
        ValueRef::String(s) => Some(s),
        other => {
            scratch.clear();
            jsonl::write_json_value(scratch, other).ok()?;
            std::str::from_utf8(scratch).ok()
        }
    }
}

/// Why a value was not added to its column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The value does not convert to the column's type.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// The value is not a well-formed `Value`.
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// `numeric(p, s)` from a JSON number or decimal text.
pub(super) fn decimal(value: &ValueRef<'_>, precision: u8, scale: i8) -> Option<i128> {
    match value {
        ValueRef::Number(f) if f.is_finite() => {
            text::parse_decimal(ryu::Buffer::new().format_finite(*f), precision, scale)
        }
        ValueRef::String(s) => text::parse_decimal(s, precision, scale),
        _ => None,
    }
}

/// `numeric` kept as text: a JSON number as Go formats it, text as it is.
pub(super) fn numeric_text<'a>(value: &ValueRef<'a>, scratch: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    match value {
        ValueRef::Number(f) => {
            scratch.clear();
            jsonl::write_go_float(scratch, *f);
            Some(scratch)
        }
        other => text_of(other, scratch).map(str::as_bytes),
    }
}

/// A `boolean` from a JSON boolean or PostgreSQL's `t`/`f`.
pub(super) fn boolean(value: &ValueRef<'_>) -> Option<bool> {
    match value {
        ValueRef::Bool(v) => Some(*v),
        ValueRef::String("t" | "true") => Some(true),
        ValueRef::String("f" | "false") => Some(false),
        _ => None,
    }
}

/// The text of a value that must be text (a timestamp, a date, a uuid).
pub(super) fn string<'a>(value: &ValueRef<'a>) -> Option<&'a str> {
    match value {
        ValueRef::String(s) => Some(s),
        _ => None,
    }
}
