//! [`Prefix16`]: up to 16 known bytes (a column name, an entry header)
//! tested against the bytes at a place in a row with one masked 128-bit
//! comparison, instead of a call to `memcmp` per candidate. The ingest
//! scan and the JSONL encoder both look up every member of every row this
//! way.

/// Up to 16 bytes as a little-endian word, with the mask of their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prefix16 {
    /// The first (at most 16) bytes, zero-padded.
    word: u128,
    /// Which bytes of `word` are the prefix's; 0 when it is empty or longer
    /// than 16 bytes, which then never matches (compare slices instead).
    mask: u128,
}

impl Prefix16 {
    /// The prefix of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        let head = &bytes[..bytes.len().min(16)];
        let mut padded = [0u8; 16];
        padded[..head.len()].copy_from_slice(head);
        let mask = match bytes.len() {
            1..=16 => u128::MAX >> (8 * (16 - bytes.len())),
            _ => 0,
        };
        Self {
            word: u128::from_le_bytes(padded),
            mask,
        }
    }

    /// The 16 bytes of `buf` from `at` as a word, when there are 16.
    #[inline]
    pub fn window(buf: &[u8], at: usize) -> Option<u128> {
        buf.get(at..)?
            .first_chunk()
            .map(|bytes| u128::from_le_bytes(*bytes))
    }

    /// Whether a word comparison can decide (the bytes were 1 to 16).
    #[inline]
    pub fn is_exact(&self) -> bool {
        self.mask != 0
    }

    /// Whether `window` (see [`window`](Self::window)) starts with these
    /// bytes; only meaningful when [`is_exact`](Self::is_exact).
    #[inline]
    pub fn starts(&self, window: u128) -> bool {
        (window ^ self.word) & self.mask == 0
    }

    /// The first (at most 16) bytes as a zero-padded little-endian word,
    /// e.g. to hash them.
    #[inline]
    pub fn word(&self) -> u128 {
        self.word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prefix matches exactly the windows that start with its bytes:
    /// every length from 0 to 18 against windows equal, one byte off at
    /// each place, and with any bytes after it.
    #[test]
    fn matches_windows_that_start_with_it() {
        let text = b"abcdefghijklmnopqrstuvwxyz";
        for len in 0..=18 {
            let prefix = Prefix16::new(&text[..len]);
            assert_eq!(prefix.is_exact(), (1..=16).contains(&len));
            if !prefix.is_exact() {
                continue;
            }
            let window = Prefix16::window(text, 0).unwrap();
            assert!(prefix.starts(window));
            for at in 0..16 {
                let mut changed = *text;
                changed[at] ^= 0x20;
                let window = Prefix16::window(&changed, 0).unwrap();
                assert_eq!(prefix.starts(window), at >= len, "len {len}, at {at}");
            }
        }
        assert_eq!(Prefix16::window(text, text.len() - 15), None);
    }
}
