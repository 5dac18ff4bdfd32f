//! Durations (`30s`, `1h30m`) and byte sizes (`32MiB`, `1048576`) as the
//! writer's config accepts them, so that a spec the operator accepts is a
//! config the writer accepts.
//!
//! Why not a crate: the writer's grammar is Go's `time.ParseDuration` minus
//! negative values, plus a bare `0`. `humantime` accepts `10 minutes` (the
//! writer rejects it) and `kube::core::Duration` accepts empty and negative
//! strings and panics on overflow. The operator must not depend on the writer
//! crate at run time, so the grammar is repeated here and a test checks both
//! parsers agree on a corpus of valid and invalid inputs.

use std::time::Duration;

/// Parses a Go duration (`30s`, `1h30m`, `1.5s`, `250ms`, bare `0`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}");
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    if trimmed.is_empty() || trimmed.starts_with('-') {
        return Err(invalid());
    }
    let mut rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let mut total_nanos = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if number_len == 0 {
            return Err(invalid());
        }
        let (number, after) = rest.split_at(number_len);
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        total_nanos += value * nanos_per_unit;
        rest = after;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total_nanos.round() as u64))
}

/// Formats a duration in whole seconds the writer parses back exactly
/// (`55s`); sub-second parts are dropped.
pub fn format_seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}

/// Parses a byte size: a plain integer, or a number with a unit `B`, `KB`,
/// `MB`, `GB`, `TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of
/// 1024). Fractions must come to whole bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let invalid = || format!("invalid size {text:?}");
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    if number.is_empty() {
        return Err(invalid());
    }
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return Err(invalid()),
    };
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(multiplier).ok_or_else(invalid);
    }
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 || bytes.fract() != 0.0 {
        return Err(invalid());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs the writer's parsers are checked against; both sides must agree
    /// on acceptance and value.
    pub(crate) const DURATIONS: &[&str] = &[
        "30s",
        "1h30m",
        "1.5s",
        "250ms",
        "10us",
        "10µs",
        "0",
        "+5s",
        " 5s ",
        "2h45m30.5s",
        ".5s",
        "1.s",
        "10 minutes",
        "10",
        "",
        "s",
        "-5s",
        "5d",
        "1.2.3s",
        "1e3s",
        "99999999999999999999h",
        "1h-5m",
        "ms",
        "0s",
        "00",
        "1H",
    ];
    pub(crate) const SIZES: &[&str] = &[
        "32MiB",
        "1048576",
        "500KB",
        "500kB",
        "1.5GiB",
        "2 GB",
        "0",
        "32 megabytes",
        "MiB",
        "-1",
        "1.3B",
        "",
        "1.5",
        "18446744073709551615",
        "18446744073709551616",
        "20000000TiB",
        " 7 ",
        "1 KiB",
        "1KIB",
    ];

    #[test]
    fn durations_agree_with_the_writer() {
        for text in DURATIONS {
            let ours = parse_duration(text);
            let writers = snapshot_writer::config::GoDuration::parse(text).map(|d| d.0);
            assert_eq!(ours, writers, "{text:?}");
        }
    }

    #[test]
    fn sizes_agree_with_the_writer() {
        for text in SIZES {
            let ours = parse_size(text);
            let writers = snapshot_writer::config::ByteSize::parse(text).map(|s| s.0);
            assert_eq!(ours, writers, "{text:?}");
        }
    }

    #[test]
    fn the_crd_patterns_accept_what_the_parsers_accept() {
        // The CRD's `pattern` is the admission-time check; it may be stricter
        // about whitespace and signs but must never reject a plain valid value.
        let duration = regex_lite_match(crate::crd::DURATION_PATTERN);
        for text in ["30s", "1h30m", "1.5s", "250ms", "0", "2h45m30.5s", ".5s"] {
            assert!(duration(text), "{text}");
        }
        for text in ["10 minutes", "10", "", "-5s", "5d", "1.2.3s"] {
            assert!(!duration(text), "{text}");
        }
        let size = regex_lite_match(crate::crd::SIZE_PATTERN);
        for text in ["32MiB", "1048576", "500KB", "2 GB", "1.5GiB"] {
            assert!(size(text), "{text}");
        }
        for text in ["32 megabytes", "MiB", "-1", ""] {
            assert!(!size(text), "{text}");
        }
    }

    fn regex_lite_match(pattern: &'static str) -> impl Fn(&str) -> bool {
        let regex = regex_lite::Regex::new(pattern).expect("pattern compiles");
        move |text| regex.is_match(text)
    }

    proptest::proptest! {
        #[test]
        fn random_durations_agree_with_the_writer(text in "[0-9.+ -]{0,4}(ns|us|ms|s|m|h|d|)[0-9.]{0,3}(s|m|h|x|)") {
            let ours = parse_duration(&text);
            let writers = snapshot_writer::config::GoDuration::parse(&text).map(|d| d.0);
            proptest::prop_assert_eq!(ours, writers);
        }

        #[test]
        fn random_sizes_agree_with_the_writer(text in "[0-9. -]{0,22}(B|KB|kB|MB|GB|TB|KiB|MiB|GiB|TiB|X|)") {
            let ours = parse_size(&text);
            let writers = snapshot_writer::config::ByteSize::parse(&text).map(|s| s.0);
            proptest::prop_assert_eq!(ours, writers);
        }
    }
}
