//! JSON strings and numbers written exactly as Go's `encoding/json` writes
//! them.

use super::super::swar;
use crate::table::key::decimal_digits;
use laredo_wire::{WireError, is_integer_below};

/// Byte classes for string escaping: 0 copy as is, 1 escape, 2 first byte of
/// a possible U+2028/U+2029.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = 1;
        b += 1;
    }
    table[b'"' as usize] = 1;
    table[b'\\' as usize] = 1;
    table[b'<' as usize] = 1;
    table[b'>' as usize] = 1;
    table[b'&' as usize] = 1;
    table[0xE2] = 2;
    table
};

/// Appends a JSON string escaped as Go's `encoding/json` does (HTML-safe).
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    // Text already known to be UTF-8 cannot fail the check.
    let _ = escape(out, s.as_bytes(), true);
}

/// [`write_string`] for bytes that must be UTF-8: they are checked while
/// escaping, from the first non-ASCII byte on, so ASCII text (most of it) is
/// read once.
pub fn write_text(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), WireError> {
    escape(out, bytes, false)
}

fn escape(out: &mut Vec<u8>, bytes: &[u8], mut checked: bool) -> Result<(), WireError> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut at = 0;
    loop {
        at = match checked {
            true => copy_clean(out, bytes, at, needs_a_look_in_text),
            false => copy_clean(out, bytes, at, needs_a_look),
        };
        if at >= bytes.len() {
            break;
        }
        let b = bytes[at];
        if b >= 0x80 && !checked {
            // Everything before `at` is ASCII, so `at` starts a character.
            std::str::from_utf8(&bytes[at..]).map_err(|_| WireError::Utf8)?;
            checked = true;
        }
        match ESCAPE[b as usize] {
            0 => {
                out.push(b);
                at += 1;
                continue;
            }
            2 => {
                // U+2028 and U+2029 are E2 80 A8 / E2 80 A9.
                match (bytes.get(at + 1), bytes.get(at + 2)) {
                    (Some(0x80), Some(&last @ (0xA8 | 0xA9))) => {
                        out.extend_from_slice(if last == 0xA8 { b"\\u2028" } else { b"\\u2029" });
                        at += 3;
                    }
                    _ => {
                        out.push(b);
                        at += 1;
                    }
                }
                continue;
            }
            _ => {}
        }
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xF) as usize]);
            }
        }
        at += 1;
    }
    out.push(b'"');
    Ok(())
}

/// Copies `bytes` from `at` up to the first byte `look` flags, returning
/// its index (the length when there is none). Eight bytes at a time, copied
/// as they are checked: a clean word is one 8-byte store, where a copy of a
/// variable length is a call to `memmove`; the last bytes are read as one
/// shorter word.
#[inline(always)]
fn copy_clean(out: &mut Vec<u8>, bytes: &[u8], mut at: usize, look: impl Fn(u64) -> u64) -> usize {
    while let Some(word) = swar::word_at(bytes, at) {
        let flags = look(word);
        out.extend_from_slice(&word.to_le_bytes());
        if flags != 0 {
            out.truncate(out.len() - 8 + swar::first(flags));
            return at + swar::first(flags);
        }
        at += 8;
    }
    let len = bytes.len().saturating_sub(at);
    if len == 0 {
        return at;
    }
    let word = swar::tail_word(bytes, at);
    let clean = match look(word) & swar::low_bytes(len) {
        0 => len,
        flags => swar::first(flags),
    };
    out.extend_from_slice(&word.to_le_bytes());
    out.truncate(out.len() - 8 + clean);
    at + clean
}

/// Flags the bytes that may need a look (an escape, or a non-ASCII byte
/// that may start U+2028/U+2029); most strings have none, and are skipped
/// eight bytes at a time.
#[inline]
fn needs_a_look(word: u64) -> u64 {
    swar::below_or_non_ascii(word, 0x20) | escaped_punctuation(word)
}

/// [`needs_a_look`] once the string is known to be UTF-8: only the escapes
/// and the first byte of U+2028/U+2029, so non-ASCII text is copied a word
/// at a time too.
#[inline]
fn needs_a_look_in_text(word: u64) -> u64 {
    swar::below(word, 0x20) | swar::equal(word, 0xE2) | escaped_punctuation(word)
}

/// Flags `"`, `&`, `<`, `>` and `\`.
#[inline]
fn escaped_punctuation(word: u64) -> u64 {
    // `"` (0x22) and `&` (0x26) differ in one bit, as `<` and `>` do.
    swar::equal_masked(word, b'"', 0x04)
        | swar::equal_masked(word, b'<', 0x02)
        | swar::equal(word, b'\\')
}

/// Appends a float64 as Go's `encoding/json` formats it: `'f'` with the
/// shortest round-trip digits, or `'e'` when the magnitude is below 1e-6 or
/// at least 1e21, with `e-07` shortened to `e-7`.
///
/// The shortest digits come from `ryu` (the same digits as Go's
/// `strconv`), whose own layout differs from Go's (`1e16`, `1.0`), so only
/// its digits and exponent are used and the layout is Go's.
pub fn write_go_float(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let abs = v.abs();
    if is_integer_below(v, 1e15) {
        if v == 0.0 && v.is_sign_negative() {
            out.extend_from_slice(b"-0");
        } else {
            push_i64(out, v as i64);
        }
        return;
    }
    let mut buffer = ryu::Buffer::new();
    if (1e-5..1e15).contains(&abs) {
        if write_short_decimal(out, v) {
            return;
        }
        // A fraction in this range is one `ryu` lays out as Go does
        // (`123.45`, `0.00012`): its plain-decimal range is [1e-5, 1e16).
        out.extend_from_slice(buffer.format_finite(v).as_bytes());
        return;
    }
    let (digits, exponent) = shortest_digits(buffer.format_finite(abs));
    if v < 0.0 {
        out.push(b'-');
    }
    let digits = digits.as_slice();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        out.extend_from_slice(decimal_digits(
            u64::from(exponent.unsigned_abs()),
            &mut itoa::Buffer::new(),
        ));
        return;
    }
    if exponent < 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-exponent - 1) as usize));
        out.extend_from_slice(digits);
        return;
    }
    let integer = exponent as usize + 1;
    if digits.len() <= integer {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', integer - digits.len()));
    } else {
        out.extend_from_slice(&digits[..integer]);
        out.push(b'.');
        out.extend_from_slice(&digits[integer..]);
    }
}

/// Writes a fraction `v` as `[-]int.frac` when it is the float64 nearest to
/// a decimal of one to four places and at most 15 significant digits (most
/// money and measurement values), without `ryu`'s digit search. That
/// decimal is then the shortest that rounds back to `v`, so it is the one
/// Go writes: two decimals of 15 significant digits are further apart than
/// a float64's precision, so no shorter one rounds to `v` as well.
fn write_short_decimal(out: &mut Vec<u8>, v: f64) -> bool {
    for (places, scale) in [10.0, 100.0, 1000.0, 10000.0].into_iter().enumerate() {
        let scaled = v * scale;
        // `scaled / scale` is rounded correctly, so it equals `v` only if `v`
        // is the float64 nearest to the decimal `scaled / 10^places`.
        if !is_integer_below(scaled, 1e15) || scaled / scale != v {
            continue;
        }
        let mut buffer = itoa::Buffer::new();
        let digits = decimal_digits((scaled as i64).unsigned_abs(), &mut buffer);
        let places = places + 1;
        let integer = digits.len().saturating_sub(places);
        if v < 0.0 {
            out.push(b'-');
        }
        match integer {
            0 => out.push(b'0'),
            _ => out.extend_from_slice(&digits[..integer]),
        }
        out.push(b'.');
        out.extend(std::iter::repeat_n(
            b'0',
            places.saturating_sub(digits.len()),
        ));
        // Not all zeros: `v` is not an integer.
        let fraction = &digits[integer..];
        let zeros = fraction.iter().rev().take_while(|d| **d == b'0').count();
        out.extend_from_slice(&fraction[..fraction.len() - zeros]);
        return true;
    }
    false
}

/// Significant digits (no leading or trailing zeros) of a positive number
/// as `ryu` prints it (`123.45`, `0.00123`, `1e-7`, `1.5e30`, `1e16`), and
/// the decimal exponent of the first one (`123.45` → `12345`, 2).
fn shortest_digits(text: &str) -> (Digits, i32) {
    let (mantissa, exponent) = match text.split_once('e') {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let integer_len = mantissa.find('.').unwrap_or(mantissa.len());
    let mut digits = Digits::default();
    let mut leading_zeros = 0;
    for byte in mantissa.bytes().filter(u8::is_ascii_digit) {
        if byte == b'0' && digits.len == 0 {
            leading_zeros += 1;
        } else {
            digits.push(byte);
        }
    }
    while digits.len > 1 && digits.bytes[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    (digits, exponent + integer_len as i32 - 1 - leading_zeros)
}

/// The significant digits of a float64 (at most 17).
#[derive(Default)]
struct Digits {
    bytes: [u8; 32],
    len: usize,
}

impl Digits {
    fn push(&mut self, digit: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = digit;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self.len {
            0 => b"0",
            len => &self.bytes[..len],
        }
    }
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(decimal_digits(v.unsigned_abs(), &mut itoa::Buffer::new()));
}
