//! Where a table's archive lives, normalised, so that two spellings of one
//! place (`/x` and `/x/`, `/a/../x`, a symlink, key prefixes `./items/` and
//! `items//`) are seen as the same place by the duplicate check.
//!
//! The identity is that of the table's manifest object: two tables collide
//! exactly when their manifests do (`items` and `items/` do not: the first
//! writes `itemsmanifest.json`, as laredo does).
//!
//! An S3 place is computed from the text alone ([`s3_identity`]), so the
//! operator, which cannot see the writer's file system, compares S3 places
//! the way the writer does. A local place resolves symlinks on this host.

use std::path::{Component, Path, PathBuf};

use crate::config::DestinationConfig;

/// The name of every table's manifest object, under its key prefix.
const MANIFEST_NAME: &str = "manifest.json";

/// The place `destination` + `key_prefix` writes its manifest, as a string
/// equal for every spelling of the same place.
pub fn identity(destination: &DestinationConfig, key_prefix: &str) -> String {
    let manifest = format!("{key_prefix}{MANIFEST_NAME}");
    match destination {
        DestinationConfig::Local { path } => {
            let joined =
                lexical(&std::path::absolute(path).unwrap_or_else(|_| path.clone())).join(manifest);
            format!("file://{}", resolve_existing(&lexical(&joined)).display())
        }
        DestinationConfig::S3 {
            bucket,
            prefix,
            endpoint,
            ..
        } => s3_identity(endpoint.as_deref(), bucket, prefix, key_prefix),
    }
}

/// The place an S3 destination (`endpoint`, `bucket`, `prefix`) plus a
/// table's `key_prefix` writes its manifest: `s3://<endpoint or aws>/<bucket>/<key>`,
/// the endpoint lower-cased and the key without empty or `.` segments.
pub fn s3_identity(endpoint: Option<&str>, bucket: &str, prefix: &str, key_prefix: &str) -> String {
    let endpoint = endpoint.map_or_else(
        || "aws".to_owned(),
        |url| url.trim_end_matches('/').to_ascii_lowercase(),
    );
    let key = normalize_key(&format!("{prefix}{key_prefix}{MANIFEST_NAME}"));
    format!("s3://{endpoint}/{bucket}/{key}")
}

/// Drops `.` segments and resolves `..` without touching the file system,
/// so `/x/`, `/x/./` and `/y/../x` all read `/x`. Leading `..` of a
/// relative path are kept (the path is made absolute first).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Resolves symlinks in the longest existing ancestor of `path` and keeps
/// the rest as written: the archive directory may not exist yet, but a
/// link to it (or to a parent) must still count as the same place.
fn resolve_existing(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut current = path.to_path_buf();
    loop {
        if let Ok(real) = current.canonicalize() {
            let mut resolved = real;
            for part in rest.iter().rev() {
                resolved.push(part);
            }
            return resolved;
        }
        match (current.file_name().map(ToOwned::to_owned), current.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                current = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// An object key with empty and `.` segments dropped (`./items//x` reads
/// `items/x`). On S3 these are distinct keys, but no two tables should be
/// configured that close: treating them as one place refuses the config
/// instead of splitting one archive over near-identical keys.
fn normalize_key(key: &str) -> String {
    key.split('/')
        .filter(|segment| !segment.is_empty() && *segment != ".")
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(path: &str) -> DestinationConfig {
        DestinationConfig::Local { path: path.into() }
    }

    fn s3(bucket: &str, prefix: &str, endpoint: Option<&str>) -> DestinationConfig {
        DestinationConfig::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
            region: None,
            endpoint: endpoint.map(str::to_owned),
            path_style: true,
            credentials: None,
        }
    }

    #[test]
    fn spellings_of_one_local_place_are_one_identity() {
        let base = identity(&local("/nonexistent/x"), "items/");
        for (path, prefix) in [
            ("/nonexistent/x/", "items/"),
            ("/nonexistent//x", "./items/"),
            ("/nonexistent/y/../x", "items//"),
            ("/nonexistent/x/./", "items/./"),
            ("/nonexistent", "x/items/"),
        ] {
            assert_eq!(identity(&local(path), prefix), base, "{path} + {prefix}");
        }
        assert_ne!(identity(&local("/nonexistent/x"), "items"), base);
        assert_ne!(identity(&local("/nonexistent/x"), "orders/"), base);
    }

    #[test]
    fn a_symlink_is_the_place_it_points_to() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(
            identity(&local(link.to_str().unwrap()), "items/"),
            identity(&local(real.to_str().unwrap()), "items/")
        );
    }

    #[test]
    fn s3_places_compare_bucket_endpoint_and_normalised_key() {
        let base = identity(&s3("b", "arch/", Some("http://minio:9000")), "items/");
        assert_eq!(
            identity(&s3("b", "arch//", Some("HTTP://MINIO:9000/")), "./items/"),
            base
        );
        assert_ne!(
            identity(&s3("c", "arch/", Some("http://minio:9000")), "items/"),
            base
        );
        assert_ne!(identity(&s3("b", "arch/", None), "items/"), base);
    }
}
