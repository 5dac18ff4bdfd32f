//! Go's `%v` of row values, byte for byte: what laredo's Go `RowKey` is
//! made of, so that Go readers of the writer's archives (cold replay, archive
//! source, `reconstruct`) find the rows its diffs name, and what the
//! simulator keys its rows by.
//!
//! Go rules (reference/laredo.md §2.6): a value prints as `%v` of what
//! `structpb.AsMap` makes of it, where every number is a `float64`. `%v` of a
//! float64 is `strconv.FormatFloat(v, 'g', -1, 64)`: the shortest digits
//! that round-trip, in exponent form when the decimal exponent is below -4
//! or at least 6 (`1e+06`, `1.234567e+06`, `1e-05`), with at least two
//! exponent digits. Null prints `<nil>`; a nested object prints as a Go map
//! with sorted keys (`map[a:1 b:x]`); a list as `[a b]`.

use std::fmt::{self, Write};

use crate::{MAX_DEPTH, StructEntries, ValueRef, WireError, list_items};

/// Appends Go's `%v` of a value, validating nested structs and lists.
pub fn push_go_value(out: &mut String, value: &ValueRef<'_>) -> Result<(), WireError> {
    push_go_value_at(out, value, 0)
}

fn push_go_value_at(out: &mut String, value: &ValueRef<'_>, depth: usize) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    match value {
        ValueRef::Null => out.push_str("<nil>"),
        ValueRef::Number(n) => push_go_float(out, *n),
        ValueRef::String(s) => out.push_str(s),
        ValueRef::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ValueRef::Struct(bytes) => {
            let mut entries = StructEntries::new(bytes).collect::<Result<Vec<_>, _>>()?;
            // Go prints maps sorted by key; later duplicates win, as in AsMap.
            entries.reverse();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            entries.dedup_by(|later, earlier| later.0 == earlier.0);
            out.push_str("map[");
            for (i, (name, encoded)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(name);
                out.push(':');
                push_go_value_at(out, &ValueRef::parse(encoded)?, depth + 1)?;
            }
            out.push(']');
        }
        ValueRef::List(bytes) => {
            out.push('[');
            for (i, item) in list_items(bytes).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                push_go_value_at(out, &ValueRef::parse(item?)?, depth + 1)?;
            }
            out.push(']');
        }
    }
    Ok(())
}

/// Formatter form of [`push_go_value`]; invalid nested bytes print `<invalid>`.
fn write_go_value(f: &mut fmt::Formatter<'_>, value: &ValueRef<'_>) -> fmt::Result {
    let mut text = String::new();
    if push_go_value(&mut text, value).is_err() {
        text = "<invalid>".to_owned();
    }
    f.write_str(&text)
}

impl fmt::Display for ValueRef<'_> {
    /// Formats like Go's `%v` of the value `structpb.AsMap` produces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_go_value(f, self)
    }
}

/// Whether `v` is an integer of magnitude below `bound` (at most 2^63).
/// Cheaper than `v.fract() == 0.0`, which is a call to `trunc` on the
/// baseline x86-64 target (no SSE4.1 rounding instruction).
#[inline]
pub fn is_integer_below(v: f64, bound: f64) -> bool {
    v.abs() < bound && (v as i64) as f64 == v
}

/// Go's `%g` of an integer-valued float64 with |n| < 2^53: plain below 1e6,
/// else `d.ddde+XX` with trailing zeros dropped. Written out because keys are
/// formatted for every change and `format!` costs more than the rest of it.
fn push_go_integer(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n.unsigned_abs());
    let exponent = digits.len() - 1;
    if exponent < 6 {
        out.push_str(digits);
        return;
    }
    let significant = digits
        .bytes()
        .rposition(|d| d != b'0')
        .map_or(1, |last| last + 1);
    // ASCII digits: every index is a character boundary.
    out.push_str(&digits[..1]);
    if significant > 1 {
        out.push('.');
        out.push_str(&digits[1..significant]);
    }
    // Below 2^53 the exponent has two digits (at most 15).
    out.push_str("e+");
    out.push(char::from(b'0' + (exponent / 10) as u8));
    out.push(char::from(b'0' + (exponent % 10) as u8));
}

/// Appends Go's `strconv.FormatFloat(v, 'g', -1, 64)`.
pub fn push_go_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    // Fast path for integer ids: exact below 2^53, where the shortest
    // round-trip digits are the integer's own digits without trailing zeros.
    if is_integer_below(v, 9_007_199_254_740_992.0) && !(v == 0.0 && v.is_sign_negative()) {
        push_go_integer(out, v as i64);
        return;
    }
    push_go_float_general(out, v);
}

/// [`push_go_float`] for any finite value.
fn push_go_float_general(out: &mut String, v: f64) {
    // Rust's `{:e}` yields the same shortest round-trip digits as Go.
    let scientific = format!("{v:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if negative {
        out.push('-');
    }
    if !(-4..6).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exponent.unsigned_abs());
    } else if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let integer_len = exponent as usize + 1;
        if digits.len() <= integer_len {
            out.push_str(&digits);
            for _ in digits.len()..integer_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..integer_len]);
            out.push('.');
            out.push_str(&digits[integer_len..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use prost_types::{ListValue, Struct, Value, value::Kind};

    #[test]
    fn the_integer_fast_path_formats_as_the_general_one() {
        let mut values = vec![
            0i64,
            1,
            -1,
            999_999,
            1_000_000,
            -1_000_000,
            1_000_001,
            120_000_000,
        ];
        values.extend((0..16).map(|e| 10i64.pow(e)));
        values.extend((0..16).map(|e| 10i64.pow(e) - 1));
        values.extend([
            (1 << 53) - 1,
            -((1 << 53) - 1),
            4_503_599_627_370_497,
            1_234_567_890_123,
        ]);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x % (1 << 53)) as i64 >> (x % 40));
        }
        for n in values {
            let (mut fast, mut general) = (String::new(), String::new());
            push_go_integer(&mut fast, n);
            push_go_float_general(&mut general, n as f64);
            assert_eq!(fast, general, "{n}");
        }
    }
    fn go_float(v: f64) -> String {
        let mut s = String::new();
        push_go_float(&mut s, v);
        s
    }

    /// Expected strings are what Go's `fmt.Sprint(float64)` prints.
    #[test]
    fn floats_format_like_go_percent_v() {
        let golden: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (42.0, "42"),
            (-7.0, "-7"),
            (100_000.0, "100000"),
            (999_999.0, "999999"),
            (1e6, "1e+06"),
            (1_000_001.0, "1.000001e+06"),
            (1_234_567.0, "1.234567e+06"),
            (-1_234_567.0, "-1.234567e+06"),
            (12_345_678.0, "1.2345678e+07"),
            (1_234_567.891, "1.234567891e+06"),
            (9_007_199_254_740_992.0, "9.007199254740992e+15"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (123_456.789, "123456.789"),
            (999_999.5, "999999.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.000_012_5, "-1.25e-05"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (value, expected) in golden {
            assert_eq!(go_float(*value), *expected, "{value:e}");
        }
    }

    fn value(kind: Kind) -> Value {
        Value { kind: Some(kind) }
    }

    fn go(value: ValueRef<'_>) -> String {
        let mut s = String::new();
        push_go_value(&mut s, &value).unwrap();
        s
    }

    #[test]
    fn nested_values_print_as_go_maps_and_slices() {
        let nested = Struct {
            fields: [
                ("b".to_owned(), value(Kind::NumberValue(1.0))),
                ("a".to_owned(), value(Kind::StringValue("x".into()))),
            ]
            .into(),
        };
        let list = ListValue {
            values: vec![
                value(Kind::NumberValue(1.0)),
                value(Kind::StringValue("a".into())),
                value(Kind::NullValue(0)),
                value(Kind::StructValue(nested.clone())),
            ],
        };
        assert_eq!(
            go(ValueRef::Struct(&nested.encode_to_vec())),
            "map[a:x b:1]"
        );
        assert_eq!(
            go(ValueRef::List(&list.encode_to_vec())),
            "[1 a <nil> map[a:x b:1]]"
        );
        assert_eq!(go(ValueRef::Bool(true)), "true");
        assert_eq!(go(ValueRef::Null), "<nil>");
    }

    #[test]
    fn a_map_keeps_its_last_duplicate_and_bad_bytes_do_not_print() {
        let mut map = Vec::new();
        crate::write_struct_entry(&mut map, "k", &crate::encode_scalar(&ValueRef::Number(1.0)));
        crate::write_struct_entry(&mut map, "k", &crate::encode_scalar(&ValueRef::Number(2.0)));
        assert_eq!(go(ValueRef::Struct(&map)), "map[k:2]");
        assert_eq!(ValueRef::Struct(&[0x0a, 0x05]).to_string(), "<invalid>");
        assert!(push_go_value(&mut String::new(), &ValueRef::List(&[0x0a, 0x05])).is_err());
    }
}
