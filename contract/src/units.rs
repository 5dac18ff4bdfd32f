//! Durations (`30s`, `1h30m`, `250ms`) and byte sizes (`32MiB`, `500KB`, `1048576`)
//! as they appear in the YAML config.
//!
//! Durations follow Go's `time.ParseDuration` grammar, which is what laredo users
//! already write; no maintained crate parses exactly that grammar (humantime also
//! accepts `10 minutes`, which we must reject), so it is written here.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A duration written in Go syntax: a sequence of decimal numbers with units
/// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, for example `30s`, `1h30m`, `1.5s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    /// Parses Go duration syntax. A bare `0` is accepted; other bare numbers are not.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("invalid duration {text:?}");
        let mut rest = text.trim();
        if rest == "0" {
            return Ok(Self(Duration::ZERO));
        }
        if rest.is_empty() || rest.starts_with('-') {
            return Err(invalid());
        }
        rest = rest.strip_prefix('+').unwrap_or(rest);
        let mut total_nanos: f64 = 0.0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(invalid)?;
            if number_len == 0 {
                return Err(invalid());
            }
            let value: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let nanos_per_unit = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(invalid()),
            };
            rest = &rest[unit_len..];
            total_nanos += value * nanos_per_unit;
        }
        if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
            return Err(invalid());
        }
        Ok(Self(Duration::from_nanos(total_nanos.round() as u64)))
    }
}

impl fmt::Display for GoDuration {
    /// Formats in the largest whole unit that represents the value exactly,
    /// so that `parse(display(d)) == d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        const UNITS: [(u128, &str); 6] = [
            (3_600_000_000_000, "h"),
            (60_000_000_000, "m"),
            (1_000_000_000, "s"),
            (1_000_000, "ms"),
            (1_000, "us"),
            (1, "ns"),
        ];
        if nanos == 0 {
            return f.write_str("0s");
        }
        let (size, unit) = UNITS
            .iter()
            .find(|(size, _)| nanos.is_multiple_of(*size))
            .copied()
            .unwrap_or((1, "ns"));
        write!(f, "{}{unit}", nanos / size)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = ScalarText::deserialize(deserializer)?.0;
        Self::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A byte size: a plain integer, or a number with a unit `B`, `KB`, `MB`, `GB`,
/// `TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses a byte size such as `32MiB`, `1.5GB` or `1048576`.
    pub fn parse(text: &str) -> Result<Self, String> {
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
            return whole.checked_mul(multiplier).map(Self).ok_or_else(invalid);
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let bytes = value * multiplier as f64;
        if !bytes.is_finite() || bytes > u64::MAX as f64 || bytes.fract() != 0.0 {
            return Err(invalid());
        }
        Ok(Self(bytes as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 4] = [
            (1 << 40, "TiB"),
            (1 << 30, "GiB"),
            (1 << 20, "MiB"),
            (1 << 10, "KiB"),
        ];
        match UNITS
            .iter()
            .find(|(size, _)| self.0 != 0 && self.0.is_multiple_of(*size))
        {
            Some((size, unit)) => write!(f, "{}{unit}", self.0 / size),
            None => write!(f, "{}", self.0),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = ScalarText::deserialize(deserializer)?.0;
        Self::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A YAML scalar (string or number) taken as its text, so that `port: 8080`,
/// `max_diff_bytes: 1048576` and `interval: "30s"` all reach the unit parsers.
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// An IP address whose error names the value (serde's own says only
/// "invalid IP address syntax"), for `http.bind`.
pub(crate) fn deserialize_ip<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<std::net::IpAddr, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(|_| {
        de::Error::custom(format!(
            "invalid IP address {text:?}: expected an address such as 0.0.0.0, 127.0.0.1 or ::1 (the port goes in http.port)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_like_go() {
        let cases = [
            ("30s", Duration::from_secs(30)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5s", Duration::from_millis(1500)),
            ("250ms", Duration::from_millis(250)),
            ("10us", Duration::from_micros(10)),
            ("0", Duration::ZERO),
            ("2h45m30.5s", Duration::from_millis(9_930_500)),
        ];
        for (text, expected) in cases {
            assert_eq!(GoDuration::parse(text), Ok(GoDuration(expected)), "{text}");
        }
    }

    #[test]
    fn bad_durations_name_the_value() {
        for text in ["10 minutes", "10", "", "s", "-5s", "5d", "1.2.3s"] {
            assert_eq!(
                GoDuration::parse(text),
                Err(format!("invalid duration {text:?}")),
                "{text}"
            );
        }
    }

    #[test]
    fn durations_round_trip_through_display() {
        for text in ["30s", "90m", "1500ms", "2h", "0s", "7ns"] {
            let parsed = GoDuration::parse(text).unwrap();
            assert_eq!(GoDuration::parse(&parsed.to_string()), Ok(parsed));
        }
        assert_eq!(GoDuration::parse("90m").unwrap().to_string(), "90m");
    }

    #[test]
    fn sizes_accept_units_and_plain_integers() {
        let cases = [
            ("32MiB", 32 << 20),
            ("1048576", 1_048_576),
            ("500KB", 500_000),
            ("1.5GiB", 3 << 29),
            ("2 GB", 2_000_000_000),
            ("0", 0),
        ];
        for (text, expected) in cases {
            assert_eq!(ByteSize::parse(text), Ok(ByteSize(expected)), "{text}");
        }
        for text in ["32 megabytes", "MiB", "-1", "1.3B"] {
            assert_eq!(
                ByteSize::parse(text),
                Err(format!("invalid size {text:?}")),
                "{text}"
            );
        }
        assert_eq!(ByteSize(32 << 20).to_string(), "32MiB");
    }
}
