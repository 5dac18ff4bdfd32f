//! Object keys of an archive, as laredo computes them (reference/laredo.md
//! §2.1). Go readers recompute keys from the manifest's fields and never use
//! the recorded URIs, so these must match byte for byte.

use crate::config::Format;

/// `<key_prefix>manifest.json`.
pub fn manifest_key(key_prefix: &str) -> String {
    format!("{key_prefix}manifest.json")
}

/// `<key_prefix>epoch=<N>/`: every artifact of one epoch lives under it.
pub fn epoch_prefix(key_prefix: &str, epoch: u64) -> String {
    format!("{key_prefix}epoch={epoch}/")
}

/// `<key_prefix>epoch=<N>/snapshot-<to>.<ext>`.
pub fn snapshot_key(key_prefix: &str, epoch: u64, to: &str, format: Format) -> String {
    format!(
        "{}snapshot-{}.{}",
        epoch_prefix(key_prefix, epoch),
        sanitize(to),
        format.extension()
    )
}

/// `<key_prefix>epoch=<N>/diff-<from>-<to>.<ext>` (`from` is `start` when null).
pub fn diff_key(
    key_prefix: &str,
    epoch: u64,
    from: Option<&str>,
    to: &str,
    format: Format,
) -> String {
    let from = from.map_or_else(|| "start".to_owned(), sanitize);
    format!(
        "{}diff-{}-{}.{}",
        epoch_prefix(key_prefix, epoch),
        from,
        sanitize(to),
        format.extension()
    )
}

/// laredo's position sanitizing: `/`, `:` and space become `_`; an empty
/// position becomes `0`.
pub fn sanitize(position: &str) -> String {
    if position.is_empty() {
        return "0".to_owned();
    }
    position.replace(['/', ':', ' '], "_")
}

/// The epoch an artifact key belongs to (`…epoch=<N>/…`), if it has one.
pub fn epoch_of_key(key_prefix: &str, key: &str) -> Option<u64> {
    let rest = key.strip_prefix(key_prefix)?.strip_prefix("epoch=")?;
    let (number, _) = rest.split_once('/')?;
    number.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_laredo() {
        assert_eq!(manifest_key("users/"), "users/manifest.json");
        assert_eq!(
            snapshot_key("users/", 1, "", Format::Jsonl),
            "users/epoch=1/snapshot-0.jsonl"
        );
        assert_eq!(
            snapshot_key("users/", 2, "0/0019F000", Format::Protobuf),
            "users/epoch=2/snapshot-0_0019F000.pb"
        );
        assert_eq!(
            diff_key("", 3, Some("0/0019F000"), "a:b c", Format::Jsonl),
            "epoch=3/diff-0_0019F000-a_b_c.jsonl"
        );
        assert_eq!(
            diff_key("p/", 1, None, "0/1", Format::Jsonl),
            "p/epoch=1/diff-start-0_1.jsonl"
        );
    }

    #[test]
    fn epochs_are_read_back_from_keys() {
        assert_eq!(
            epoch_of_key("users/", "users/epoch=12/diff-0-1.pb"),
            Some(12)
        );
        assert_eq!(epoch_of_key("users/", "users/manifest.json"), None);
        assert_eq!(epoch_of_key("users/", "other/epoch=1/x"), None);
    }
}
