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
                    let expect_angle = bytes.iter().position(|b| matches!(b, b'<' | b'>'));
                    let flags = equal_masked(word, b'<', 0x02);
                    assert_eq!((flags != 0).then(|| first(flags)), expect_angle);
                }
            }
        }
    }
}
