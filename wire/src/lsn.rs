//! PostgreSQL log sequence numbers as laredo prints and compares them
//! (Go's `internal/lsn`): the writer's archive positions and the
//! simulator's both follow them.

use std::cmp::Ordering;

/// A parsed PostgreSQL LSN (`hi/lo`, each hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Parses `hi/lo` (hex, padded or not); `None` for anything else,
    /// including `""`.
    pub fn parse(text: &str) -> Option<Lsn> {
        let (hi, lo) = text.split_once('/')?;
        let valid =
            |s: &str| !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid(hi) || !valid(lo) {
            return None;
        }
        let hi = u64::from_str_radix(hi, 16).ok()?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        Some(Lsn((hi << 32) | lo))
    }

    /// laredo's formatting, `%X/%08X` (e.g. `0/0019F000`).
    pub fn format(self) -> String {
        format!("{:X}/{:08X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Compares two positions as Go's `lsn.Compare` does: parsed LSNs by value,
/// an empty or unparseable position below every parsed one (two of those
/// compare equal).
pub fn compare(a: &str, b: &str) -> Ordering {
    Lsn::parse(a).cmp(&Lsn::parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_padded_and_unpadded_forms() {
        assert_eq!(Lsn::parse("0/0019F000"), Some(Lsn(0x19F000)));
        assert_eq!(Lsn::parse("0/19F000"), Some(Lsn(0x19F000)));
        assert_eq!(
            Lsn::parse("16/B374D848"),
            Some(Lsn((0x16 << 32) | 0xB374_D848))
        );
        for bad in [
            "",
            "<nil>",
            "0/",
            "/1",
            "1/2/3",
            "x/1",
            "0/123456789",
            "shardId-1",
        ] {
            assert_eq!(Lsn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_like_laredo() {
        assert_eq!(Lsn(0x19F000).format(), "0/0019F000");
        assert_eq!(Lsn((0x16 << 32) | 0xB374_D848).format(), "16/B374D848");
        assert_eq!(Lsn(1).format(), "0/00000001");
    }

    #[test]
    fn empty_and_unparseable_sort_lowest() {
        assert_eq!(compare("", "0/0"), Ordering::Less);
        assert_eq!(compare("<nil>", ""), Ordering::Equal);
        assert_eq!(compare("0/A", "0/00000009"), Ordering::Greater);
        assert_eq!(compare("1/0", "0/FFFFFFFF"), Ordering::Greater);
    }
}
