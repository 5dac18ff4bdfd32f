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

pub use laredo_wire::lsn::{Lsn, compare};

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
    use std::cmp::Ordering;

    use super::*;

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
