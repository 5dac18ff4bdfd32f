//! PostgreSQL log sequence numbers as laredo prints and compares them.

use std::cmp::Ordering;

/// `%X/%08X`, laredo's own format (`0/0019F000`; PostgreSQL does not pad).
pub fn format(lsn: u64) -> String {
    format!("{:X}/{:08X}", lsn >> 32, lsn & 0xffff_ffff)
}

/// Parses `hi/lo` in hex, padded or not.
pub fn parse(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    let hi = u32::from_str_radix(hi, 16).ok()?;
    let lo = u32::from_str_radix(lo, 16).ok()?;
    Some((u64::from(hi) << 32) | u64::from(lo))
}

/// laredo's order: by value, with empty or unparseable positions lowest.
pub fn compare(a: &str, b: &str) -> Ordering {
    parse(a).cmp(&parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_orders_like_laredo() {
        assert_eq!(format(0x19F000), "0/0019F000");
        assert_eq!(format((1 << 32) | 0xA), "1/0000000A");
        assert_eq!(parse("0/19F000"), Some(0x19F000));
        assert_eq!(parse("0/0019F000"), Some(0x19F000));
        assert_eq!(compare("0/FF", "1/0"), Ordering::Less);
        assert_eq!(compare("", "0/0"), Ordering::Less);
        assert_eq!(compare("junk", ""), Ordering::Equal);
    }
}
