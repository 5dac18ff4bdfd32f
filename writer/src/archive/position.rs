//! Positions: PostgreSQL LSN order as Go readers compare them, and the
//! archive position rule that keeps every chain unambiguous.
//!
//! Go readers (`internal/lsn.Compare`) parse `hi/lo` as two hex numbers into a
//! u64; an empty or unparseable position sorts lowest. They pick the head
//! snapshot by greatest position and link diffs by string equality of
//! `from_position → to_position`, so a position that does not advance makes
//! them rebuild stale rows or loop (reference/laredo.md §3.9).
//!
//! **The archive position rule.** Positions in the manifest strictly increase
//! in LSN order. An artifact's position is the source position when it parses
//! as an LSN and is greater than the previous artifact's position; otherwise
//! it is the previous artifact's position plus one in LSN space, formatted
//! `%X/%08X` (the first artifact of an empty archive counts from `0/0`). So no
//! diff has `from == to` or goes backwards, whatever the source reports (`""`
//! from a fresh full sync, no position at all from PostgreSQL live changes,
//! a position behind the head after a restart). The exact source position is
//! recorded separately, in the manifest's `source` mark, for resuming.

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

/// The position of the next artifact under the archive position rule (module
/// docs): `source` if it parses and advances past `previous`, else
/// `previous + 1` in LSN space. `previous` is `None` for the first artifact.
pub fn next_position(previous: Option<&str>, source: &str) -> String {
    let floor = previous.and_then(Lsn::parse);
    match Lsn::parse(source) {
        // `None < Some(_)`: with no parsed previous position, any LSN advances.
        Some(lsn) if Some(lsn) > floor => source.to_owned(),
        _ => successor(floor),
    }
}

/// The position just after `position` in LSN space (after `0/0` when it does
/// not parse); used when a chosen key turns out to hold other content.
pub fn bump(position: &str) -> String {
    successor(Lsn::parse(position))
}

fn successor(floor: Option<Lsn>) -> String {
    let next = floor.map_or(1, |lsn| lsn.0.saturating_add(1));
    Lsn(next).format()
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

    #[test]
    fn the_position_rule_always_advances() {
        // First artifact: a parsing source position is taken as is.
        assert_eq!(next_position(None, "0/0019F000"), "0/0019F000");
        // A fresh full sync reports "": the first artifact is 0/00000001.
        assert_eq!(next_position(None, ""), "0/00000001");
        // A source that advances is taken verbatim.
        assert_eq!(
            next_position(Some("0/0019F000"), "0/001A0000"),
            "0/001A0000"
        );
        // Not advancing, going back, empty or not an LSN: previous + 1.
        assert_eq!(
            next_position(Some("0/0019F000"), "0/0019F000"),
            "0/0019F001"
        );
        assert_eq!(
            next_position(Some("0/0019F000"), "0/00000010"),
            "0/0019F001"
        );
        assert_eq!(next_position(Some("0/0019F000"), ""), "0/0019F001");
        assert_eq!(
            next_position(Some("0/FFFFFFFF"), "kinesis-42"),
            "1/00000000"
        );
        // A Go archive's "" head: counting starts from 0/0.
        assert_eq!(next_position(Some(""), ""), "0/00000001");
        let mut previous = String::new();
        for source in ["", "", "0/5", "0/5", "0/4", "", "0/100"] {
            let next = next_position(Some(&previous), source);
            assert_eq!(
                compare(&next, &previous),
                Ordering::Greater,
                "{previous} -> {next}"
            );
            previous = next;
        }
    }
}
