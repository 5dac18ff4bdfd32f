//! Dates and timestamps: PostgreSQL's and RFC 3339's text forms parsed
//! into days and microseconds since the epoch, and printed back.

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
pub fn parse_date(bytes: &[u8]) -> Option<i32> {
    match bytes {
        b"infinity" => return Some(DATE_INFINITY),
        b"-infinity" => return Some(DATE_MINUS_INFINITY),
        _ => {}
    }
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
    match u32::try_from(year) {
        Ok(year) if year <= 9999 => push_padded(out, year, 4),
        _ => {
            use std::fmt::Write;
            let _ = write!(out, "{year:04}");
        }
    }
    out.push('-');
    push_padded(out, month, 2);
    out.push('-');
    push_padded(out, day, 2);
}

/// Appends `value` in `width` digits, zero-padded (`value` has at most
/// `width` digits). Written out: a snapshot read formats a date per row,
/// and `fmt` costs several times the rest of the row.
fn push_padded(out: &mut String, mut value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.extend(digits[..width].iter().map(|&d| char::from(d)));
}

/// Parses a timestamp: `YYYY-MM-DD[ T]HH:MM:SS[.ffffff][offset]`, the
/// offset `Z`, `±HH`, `±HHMM`, `±HH:MM` or `±HH:MM:SS` (PostgreSQL's output
/// and RFC 3339), or `infinity` / `-infinity`. The result is microseconds
/// since the epoch in UTC; a time without an offset is taken as UTC. More
/// than six fraction digits are refused unless the rest are zeros (a stored
/// value never differs from the one sent).
pub fn parse_timestamp(bytes: &[u8]) -> Option<i64> {
    match bytes {
        b"infinity" => return Some(TIMESTAMP_INFINITY),
        b"-infinity" => return Some(TIMESTAMP_MINUS_INFINITY),
        _ => {}
    }
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
    // Below a day: each part fits a u32.
    let seconds = (of_day / 1_000_000) as u32;
    let mut fraction = (of_day % 1_000_000) as u32;
    push_padded(out, seconds / 3600, 2);
    out.push(':');
    push_padded(out, seconds / 60 % 60, 2);
    out.push(':');
    push_padded(out, seconds % 60, 2);
    if fraction != 0 {
        let mut width = 6;
        while fraction.is_multiple_of(10) {
            fraction /= 10;
            width -= 1;
        }
        out.push('.');
        push_padded(out, fraction, width);
    }
    if with_zone {
        out.push('Z');
    }
}
