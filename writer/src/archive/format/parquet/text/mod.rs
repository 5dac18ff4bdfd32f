//! The text forms of typed values: parsing what a source sends (PostgreSQL's
//! text output, RFC 3339) into the stored representation, and formatting a
//! stored value back as the text `read` prints.
//!
//! Written out rather than through a date library: a snapshot converts a
//! timestamp per row, and the fixed layouts parse in a few nanoseconds.

mod time;

pub use time::{
    TIMESTAMP_INFINITY, TIMESTAMP_MINUS_INFINITY, format_date, format_timestamp, parse_date,
    parse_timestamp,
};

/// Parses a `uuid`: 32 hex digits, hyphenated 8-4-4-4-12 or not, optionally
/// in braces (PostgreSQL's input forms).
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let mut out = [0u8; 16];
    let mut nibbles = inner.bytes().filter(|&b| b != b'-');
    if inner.len() != 32 && inner.len() != 36 {
        return None;
    }
    if inner.len() == 36
        && [8, 13, 18, 23]
            .iter()
            .any(|&i| inner.as_bytes().get(i) != Some(&b'-'))
    {
        return None;
    }
    for byte in &mut out {
        let high = hex_value(nibbles.next()?)?;
        let low = hex_value(nibbles.next()?)?;
        *byte = high << 4 | low;
    }
    nibbles.next().is_none().then_some(out)
}

/// Appends a `uuid` in PostgreSQL's output form (lower case, hyphenated).
pub fn format_uuid(out: &mut String, bytes: &[u8]) {
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        push_hex(out, *byte);
    }
}

/// Parses a `bytea` in PostgreSQL's (default) hex output form, `\x…`.
pub fn parse_bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?.as_bytes();
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.chunks_exact(2)
        .map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?))
        .collect()
}

/// Appends a `bytea` in PostgreSQL's hex output form.
pub fn format_bytea(out: &mut String, bytes: &[u8]) {
    out.reserve(2 + bytes.len() * 2);
    out.push_str("\\x");
    for byte in bytes {
        push_hex(out, *byte);
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn push_hex(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0x0f)]));
}

/// Parses a decimal number (`-12.5`, `1e3`, `0.000`) into an unscaled
/// integer of `scale` fraction digits and at most `precision` digits.
/// `None` if it is not a number, would need rounding, or does not fit.
pub fn parse_decimal(text: &str, precision: u8, scale: i8) -> Option<i128> {
    let bytes = text.as_bytes();
    let (negative, mut at) = match bytes.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    // Digits of the mantissa, without leading zeros, and where the point is.
    let mut mantissa: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut point: i64 = 0;
    let (mut seen_digit, mut seen_point) = (false, false);
    while let Some(&b) = bytes.get(at) {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                if !(mantissa.is_empty() && b == b'0') {
                    mantissa.push(b - b'0');
                }
                if seen_point {
                    point -= 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        at += 1;
    }
    if !seen_digit {
        return None;
    }
    if let Some(b'e' | b'E') = bytes.get(at) {
        let exponent: i64 = text.get(at + 1..)?.parse().ok()?;
        point = point.checked_add(exponent)?;
    } else if at != bytes.len() {
        return None;
    }
    // The value is mantissa × 10^point; stored as unscaled × 10^-scale.
    let shift = point.checked_add(i64::from(scale))?;
    if shift < 0 {
        let dropped = usize::try_from(shift.unsigned_abs()).ok()?;
        let keep = mantissa.len().saturating_sub(dropped);
        if mantissa[keep..].iter().any(|&d| d != 0) {
            return None;
        }
        mantissa.truncate(keep);
    } else {
        let zeros = usize::try_from(shift).ok()?;
        if mantissa.is_empty() || zeros > usize::from(precision) {
            // Zero stays zero; too many digits is caught below.
            if !mantissa.is_empty() {
                return None;
            }
        } else {
            mantissa.resize(mantissa.len() + zeros, 0);
        }
    }
    if mantissa.len() > usize::from(precision) {
        return None;
    }
    let magnitude = mantissa
        .iter()
        .fold(0i128, |acc, &d| acc * 10 + i128::from(d));
    Some(if negative { -magnitude } else { magnitude })
}

/// Appends an unscaled decimal of `scale` fraction digits (`1230`, 2 →
/// `12.30`).
pub fn format_decimal(out: &mut String, unscaled: i128, scale: i8) {
    let digits = unscaled.unsigned_abs().to_string();
    if unscaled < 0 {
        out.push('-');
    }
    let scale = usize::try_from(scale).unwrap_or(0);
    if scale == 0 {
        out.push_str(&digits);
        return;
    }
    if digits.len() <= scale {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    } else {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    }
}

/// One element of a PostgreSQL array literal: its text, or `None` for
/// `NULL`.
pub type ArrayElement = Option<String>;

/// Parses a one-dimensional PostgreSQL array literal (`{1,2,NULL}`,
/// `{"a b","c\"d"}`) into its elements' texts. Multi-dimensional arrays and
/// explicit bounds (`[0:1]={…}`) are refused.
pub fn parse_array(text: &str) -> Option<Vec<ArrayElement>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut elements = Vec::new();
    if inner.trim().is_empty() {
        return Some(elements);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let element = if chars.next_if_eq(&'"').is_some() {
            let mut value = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
            while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
            Some(value)
        } else {
            let mut value = String::new();
            while let Some(c) = chars.next_if(|c| *c != ',') {
                match c {
                    '{' | '}' | '"' => return None,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
            let value = value.trim_end().to_owned();
            if value.is_empty() {
                return None;
            }
            (!value.eq_ignore_ascii_case("NULL")).then_some(value)
        };
        elements.push(element);
        match chars.next() {
            None => return Some(elements),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// Appends elements as a PostgreSQL array literal, quoting an element as
/// PostgreSQL does (empty, `NULL`, or holding `{},"\` or white space).
pub fn format_array(out: &mut String, elements: &[ArrayElement]) {
    out.push('{');
    for (index, element) in elements.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        match element {
            None => out.push_str("NULL"),
            Some(text) => {
                let quote = text.is_empty()
                    || text.eq_ignore_ascii_case("NULL")
                    || text
                        .chars()
                        .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
                if quote {
                    out.push('"');
                    for c in text.chars() {
                        if matches!(c, '"' | '\\') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                } else {
                    out.push_str(text);
                }
            }
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timestamp(micros: i64, with_zone: bool) -> String {
        let mut out = String::new();
        format_timestamp(&mut out, micros, with_zone);
        out
    }

    #[test]
    fn timestamps_parse_postgres_and_rfc3339_forms() {
        let base = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
        for (text, micros) in [
            ("2026-01-01T00:00:00Z", base),
            ("2026-01-01 00:00:00+00", base),
            ("2026-01-01 02:00:00+02", base),
            ("2026-01-01 02:00:00+02:00", base),
            ("2025-12-31 19:30:00-04:30", base),
            ("2026-01-01 00:00:00", base),
            ("2026-01-01T00:00:00.5Z", base + 500_000),
            ("2026-01-01T00:00:00.123456000Z", base + 123_456),
            ("1969-12-31T23:59:59.999999Z", -1),
            ("infinity", TIMESTAMP_INFINITY),
        ] {
            assert_eq!(parse_timestamp(text.as_bytes()), Some(micros), "{text}");
        }
        for bad in [
            "2026-01-01T00:00:00.1234567Z",
            "2026-01-01T00:00:00.123456789Z",
            "2026-02-30 00:00:00",
            "2026-01-01",
            "2026-01-01 24:00:00",
            "2026-01-01 00:00:00 BC",
            "yesterday",
            "",
        ] {
            assert_eq!(parse_timestamp(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(timestamp(base + 500_000, true), "2026-01-01T00:00:00.5Z");
        assert_eq!(timestamp(base, false), "2026-01-01 00:00:00");
        assert_eq!(timestamp(-1, true), "1969-12-31T23:59:59.999999Z");
        assert_eq!(timestamp(TIMESTAMP_MINUS_INFINITY, true), "-infinity");
        // Whatever a hostile file stores formats without a panic.
        for micros in [i64::MIN, i64::MIN + 1, i64::MAX - 1] {
            timestamp(micros, true);
        }
    }

    #[test]
    fn dates_uuids_and_bytea_round_trip() {
        for text in [
            "2026-12-07",
            "0001-01-01",
            "9999-12-31",
            "2024-02-29",
            "infinity",
        ] {
            let mut out = String::new();
            format_date(&mut out, parse_date(text.as_bytes()).unwrap());
            assert_eq!(out, text);
        }
        assert_eq!(parse_date(b"2023-02-29"), None);
        let uuid = "0190c1e2-7b4a-7c3d-9e8f-0123456789ab";
        let mut out = String::new();
        format_uuid(&mut out, &parse_uuid(uuid).unwrap());
        assert_eq!(out, uuid);
        assert_eq!(
            parse_uuid("{0190C1E27B4A7C3D9E8F0123456789AB}"),
            parse_uuid(uuid)
        );
        assert_eq!(parse_uuid("0190c1e2-7b4a-7c3d-9e8f-0123456789a"), None);
        assert_eq!(parse_uuid("0190c1e27-b4a-7c3d-9e8f-0123456789ab"), None);
        let mut out = String::new();
        format_bytea(&mut out, &parse_bytea("\\x00ff10").unwrap());
        assert_eq!(out, "\\x00ff10");
        assert_eq!(parse_bytea("\\x0"), None);
        assert_eq!(parse_bytea("abc"), None);
    }

    #[test]
    fn decimals_are_exact_or_refused() {
        let d = |text: &str| parse_decimal(text, 12, 2);
        assert_eq!(d("12.34"), Some(1234));
        assert_eq!(d("-0.5"), Some(-50));
        assert_eq!(d("12"), Some(1200));
        assert_eq!(d("12.300"), Some(1230));
        assert_eq!(d("1e3"), Some(100_000));
        assert_eq!(d("1.5e-2"), None, "0.015 would round");
        assert_eq!(d("0"), Some(0));
        assert_eq!(d("0.000"), Some(0));
        assert_eq!(d("12.345"), None, "would round");
        assert_eq!(d("12345678901.12"), None, "13 digits");
        assert_eq!(d("9999999999.99"), Some(999_999_999_999));
        for bad in [
            "",
            "-",
            ".",
            "1.2.3",
            "NaN",
            "1e",
            "12a",
            "1e999999999999999999999",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
        let mut out = String::new();
        format_decimal(&mut out, -5, 2);
        assert_eq!(out, "-0.05");
        out.clear();
        format_decimal(&mut out, 1230, 2);
        assert_eq!(out, "12.30");
        out.clear();
        format_decimal(&mut out, i128::MIN, 38);
    }

    #[test]
    fn arrays_parse_and_print_as_postgres_does() {
        let parsed = parse_array(r#"{1, 2 ,NULL,"a b","c\"d",""}"#).unwrap();
        let text = |s: &str| Some(s.to_owned());
        assert_eq!(
            parsed,
            [
                text("1"),
                text("2"),
                None,
                text("a b"),
                text("c\"d"),
                text("")
            ]
        );
        let mut out = String::new();
        format_array(&mut out, &parsed);
        assert_eq!(out, r#"{1,2,NULL,"a b","c\"d",""}"#);
        assert_eq!(parse_array("{}"), Some(vec![]));
        for bad in ["{{1,2},{3,4}}", "[0:1]={1,2}", "{1,,2}", "1,2", "{\"a}"] {
            assert_eq!(parse_array(bad), None, "{bad}");
        }
    }
}
