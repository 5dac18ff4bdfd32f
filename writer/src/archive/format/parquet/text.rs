//! The text forms of typed values: parsing what a source sends (PostgreSQL's
//! text output, RFC 3339) into the stored representation, and formatting a
//! stored value back as the text `read` prints.
//!
//! Written out rather than through a date library: a snapshot converts a
//! timestamp per row, and the fixed layouts parse in a few nanoseconds.

/// Microseconds per day.
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The stored `infinity` of timestamps (as DuckDB stores it).
pub const TIMESTAMP_INFINITY: i64 = i64::MAX;
/// The stored `-infinity` of timestamps.
pub const TIMESTAMP_MINUS_INFINITY: i64 = -i64::MAX;
/// The stored `infinity` of dates.
pub const DATE_INFINITY: i32 = i32::MAX;
/// The stored `-infinity` of dates.
pub const DATE_MINUS_INFINITY: i32 = -i32::MAX;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01: `(year, month, day)`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads `n` ASCII digits at `at` as a number.
fn digits(bytes: &[u8], at: usize, n: usize) -> Option<u32> {
    let slice = bytes.get(at..at + n)?;
    slice.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// `YYYY-MM-DD` at the start of `bytes`: days since the epoch.
fn date_prefix(bytes: &[u8]) -> Option<i64> {
    let year = digits(bytes, 0, 4)?;
    let month = digits(bytes, 5, 2)?;
    let day = digits(bytes, 8, 2)?;
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let year = i64::from(year);
    if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Parses a `date` (`YYYY-MM-DD`, `infinity`, `-infinity`).
pub fn parse_date(text: &str) -> Option<i32> {
    match text {
        "infinity" => return Some(DATE_INFINITY),
        "-infinity" => return Some(DATE_MINUS_INFINITY),
        _ => {}
    }
    let bytes = text.as_bytes();
    if bytes.len() != 10 {
        return None;
    }
    i32::try_from(date_prefix(bytes)?).ok()
}

/// Appends a stored `date` as `YYYY-MM-DD`.
pub fn format_date(out: &mut String, days: i32) {
    match days {
        DATE_INFINITY => out.push_str("infinity"),
        DATE_MINUS_INFINITY => out.push_str("-infinity"),
        _ => {
            let (year, month, day) = civil_from_days(i64::from(days));
            push_ymd(out, year, month, day);
        }
    }
}

fn push_ymd(out: &mut String, year: i64, month: u32, day: u32) {
    use std::fmt::Write;
    let _ = write!(out, "{year:04}-{month:02}-{day:02}");
}

/// Parses a timestamp: `YYYY-MM-DD[ T]HH:MM:SS[.ffffff][offset]`, the
/// offset `Z`, `±HH`, `±HHMM`, `±HH:MM` or `±HH:MM:SS` (PostgreSQL's output
/// and RFC 3339), or `infinity` / `-infinity`. The result is microseconds
/// since the epoch in UTC; a time without an offset is taken as UTC. More
/// than six fraction digits are refused unless the rest are zeros (a stored
/// value never differs from the one sent).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    match text {
        "infinity" => return Some(TIMESTAMP_INFINITY),
        "-infinity" => return Some(TIMESTAMP_MINUS_INFINITY),
        _ => {}
    }
    let bytes = text.as_bytes();
    let days = date_prefix(bytes)?;
    if !matches!(bytes.get(10), Some(b' ' | b'T' | b't')) || bytes.get(13) != Some(&b':') {
        return None;
    }
    let hour = digits(bytes, 11, 2)?;
    let minute = digits(bytes, 14, 2)?;
    let second = digits(bytes, 17, 2)?;
    if bytes.get(16) != Some(&b':') || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut at = 19;
    let mut micros = 0i64;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            let digit = i64::from(bytes[at] - b'0');
            match at - start {
                0..6 => micros = micros * 10 + digit,
                _ if digit != 0 => return None,
                _ => {}
            }
            at += 1;
        }
        if at == start {
            return None;
        }
        for _ in (at - start)..6 {
            micros *= 10;
        }
    }
    let offset_seconds = parse_offset(&bytes[at..])?;
    let seconds = i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    Some(days * MICROS_PER_DAY + seconds * 1_000_000 + micros)
}

/// A UTC offset in seconds (east positive); empty is UTC.
fn parse_offset(bytes: &[u8]) -> Option<i64> {
    let (sign, rest) = match bytes {
        [] | [b'Z' | b'z'] => return Some(0),
        [b'+', rest @ ..] => (1, rest),
        [b'-', rest @ ..] => (-1, rest),
        _ => return None,
    };
    let hours = digits(rest, 0, 2)?;
    let (minutes, seconds) = match &rest[2..] {
        [] => (0, 0),
        [_, _] => (digits(rest, 2, 2)?, 0),
        [b':', _, _] => (digits(rest, 3, 2)?, 0),
        [b':', _, _, b':', _, _] => (digits(rest, 3, 2)?, digits(rest, 6, 2)?),
        _ => return None,
    };
    if hours > 15 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(sign * i64::from(hours * 3600 + minutes * 60 + seconds))
}

/// Appends a stored timestamp: `timestamptz` as RFC 3339 in UTC
/// (`2026-12-07T10:00:00.5Z`, as Go's `RFC3339Nano` and the simulator
/// write it), `timestamp` as PostgreSQL prints it (`2026-12-07 10:00:00.5`);
/// trailing zeros of the fraction trimmed.
pub fn format_timestamp(out: &mut String, micros: i64, with_zone: bool) {
    match micros {
        TIMESTAMP_INFINITY => return out.push_str("infinity"),
        TIMESTAMP_MINUS_INFINITY => return out.push_str("-infinity"),
        _ => {}
    }
    let days = micros.div_euclid(MICROS_PER_DAY);
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    push_ymd(out, year, month, day);
    out.push(if with_zone { 'T' } else { ' ' });
    let seconds = of_day / 1_000_000;
    let fraction = of_day % 1_000_000;
    use std::fmt::Write;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction != 0 {
        let text = format!("{fraction:06}");
        out.push('.');
        out.push_str(text.trim_end_matches('0'));
    }
    if with_zone {
        out.push('Z');
    }
}

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
            assert_eq!(parse_timestamp(text), Some(micros), "{text}");
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
            assert_eq!(parse_timestamp(bad), None, "{bad}");
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
            format_date(&mut out, parse_date(text).unwrap());
            assert_eq!(out, text);
        }
        assert_eq!(parse_date("2023-02-29"), None);
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
