//! Byte searches eight bytes at a time in plain integer arithmetic ("SIMD
//! within a register"). The JSON paths look for small sets of bytes in
//! short strings, where a call into `memchr` costs more than the search, and
//! no crate searches for Go's set of escaped bytes.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `at`, little-endian, if there are eight.
#[inline]
pub fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// The bytes of `bytes` from `at` on (fewer than eight) as the low bytes of
/// a little-endian word, the rest zero: the string's last eight bytes
/// shifted down when it has eight, else gathered one by one.
#[inline]
pub fn tail_word(bytes: &[u8], at: usize) -> u64 {
    let len = bytes.len().saturating_sub(at);
    match bytes
        .len()
        .checked_sub(8)
        .and_then(|last| word_at(bytes, last))
    {
        Some(last) if (1..8).contains(&len) => last >> (8 * (8 - len)),
        _ => bytes
            .get(at..)
            .unwrap_or_default()
            .iter()
            .rev()
            .fold(0, |word, &byte| (word << 8) | u64::from(byte)),
    }
}

/// The high bits of the low `len` bytes of a word (all eight from 8 on),
/// to keep the flags of a partial word's own bytes.
#[inline]
pub fn low_bytes(len: usize) -> u64 {
    match len {
        0..8 => HIGHS & ((1u64 << (len * 8)) - 1),
        _ => HIGHS,
    }
}

/// Flags (high bit set) the bytes of `word` equal to `byte`.
#[inline]
pub fn equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Flags the bytes of `word` below `bound` (at most 0x80) or with their
/// high bit set.
#[inline]
pub fn below_or_non_ascii(word: u64, bound: u8) -> u64 {
    (word.wrapping_sub(ONES * u64::from(bound)) | word) & HIGHS
}

/// Flags the bytes of `word` below `bound` (at most 0x80).
#[inline]
pub fn below(word: u64, bound: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(bound)) & !word & HIGHS
}

/// Flags the bytes of `word` equal to `byte` once the bits of `mask` are
/// set in both: two bytes for one comparison when they differ in one bit
/// (`<` and `>` with mask 0x02).
#[inline]
pub fn equal_masked(word: u64, byte: u8, mask: u8) -> u64 {
    equal(word | (ONES * u64::from(mask)), byte | mask)
}

/// The offset of the first flagged byte. Flags from [`equal`] and [`below_or_non_ascii`]
/// can be wrong only above a correct one (a borrow carries upwards), so the
/// lowest flag is always exact.
#[inline]
pub fn first(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// The first index at or after `at` of a byte that `flags` flags, checking
/// eight bytes at a time, then the tail one byte at a time (each byte as
/// the lowest of a word, whose flag is always exact). Checking the tail as
/// one shifted word was measured slower.
#[inline]
pub fn find(bytes: &[u8], mut at: usize, flags: impl Fn(u64) -> u64) -> Option<usize> {
    while let Some(word) = word_at(bytes, at) {
        let flagged = flags(word);
        if flagged != 0 {
            return Some(at + first(flagged));
        }
        at += 8;
    }
    let tail = bytes.get(at..)?;
    tail.iter()
        .position(|&byte| flags(u64::from(byte)) & 0x80 != 0)
        .map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `find` from every start in strings of every length up to 24, each
    /// with matches and near-misses (a byte one above a match, which a borrow
    /// could flag) at every place: it agrees with a byte-by-byte search.
    #[test]
    fn find_agrees_with_a_plain_search() {
        let alphabet = [b'"', b'#', b'a', 0x00, 0x1f, 0x20, 0x80, 0xff];
        let flags = |word: u64| equal(word, b'"') | below_or_non_ascii(word, 0x20);
        let plain = |b: u8| b == b'"' || !(0x20..0x80).contains(&b);
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..=24 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % 8) as usize]
                    })
                    .collect();
                for at in 0..=len + 1 {
                    let expected = bytes
                        .get(at..)
                        .and_then(|rest| rest.iter().position(|b| plain(*b)))
                        .map(|i| at + i);
                    assert_eq!(find(&bytes, at, flags), expected, "{bytes:?} from {at}");
                }
            }
        }
    }

    /// A tail word holds the tail's bytes in order, from strings shorter and
    /// longer than a word, and `low_bytes` keeps the flags of exactly those
    /// bytes.
    #[test]
    fn tail_words_keep_their_own_bytes() {
        let bytes = [
            0x01, 0x22, 0x80, 0x7f, 0x5c, 0x3c, 0xff, 0x41, 0x00, 0x20, 0x61,
        ];
        for end in 0..=bytes.len() {
            let string = &bytes[..end];
            for at in end.saturating_sub(7)..=end {
                let len = end - at;
                let word = tail_word(string, at);
                let mut padded = [0u8; 8];
                padded[..len].copy_from_slice(&string[at..]);
                assert_eq!(word, u64::from_le_bytes(padded), "{string:?} from {at}");
                let flags = below_or_non_ascii(word, 0x20) & low_bytes(len);
                assert_eq!(flags & !low_bytes(len), 0);
                assert_eq!(
                    (flags != 0).then(|| first(flags)),
                    string[at..].iter().position(|b| *b < 0x20 || *b >= 0x80)
                );
            }
        }
        assert_eq!(low_bytes(8), HIGHS);
        assert_eq!(low_bytes(0), 0);
    }

    /// Every byte value at every offset, next to every other byte value
    /// (the borrow cases): the first flag is the first true match.
    #[test]
    fn the_first_flag_is_the_first_match() {
        for target in 0..=255u8 {
            for other in 0..=255u8 {
                for at in 0..8 {
                    let mut bytes = [other; 8];
                    bytes[at] = target;
                    let word = u64::from_le_bytes(bytes);
                    let expect_equal = bytes.iter().position(|b| *b == b'"');
                    let flags = equal(word, b'"');
                    assert_eq!((flags != 0).then(|| first(flags)), expect_equal);
                    let expect_either = bytes.iter().position(|b| *b < 0x20 || *b >= 0x80);
                    let flags = below_or_non_ascii(word, 0x20);
                    assert_eq!((flags != 0).then(|| first(flags)), expect_either);
                    let expect_below = bytes.iter().position(|b| *b < 0x20);
                    let flags = below(word, 0x20);
                    assert_eq!((flags != 0).then(|| first(flags)), expect_below);
                    let expect_angle = bytes.iter().position(|b| matches!(b, b'<' | b'>'));
                    let flags = equal_masked(word, b'<', 0x02);
                    assert_eq!((flags != 0).then(|| first(flags)), expect_angle);
                }
            }
        }
    }
}
