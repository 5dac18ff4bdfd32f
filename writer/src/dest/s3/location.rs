//! Where an S3 destination lives: bucket, prefix, and how to reach it.

use crate::config::DestinationConfig;

/// An S3 bucket and prefix with the settings to reach them: everything
/// [`S3Destination::connect`](super::S3Destination::connect) needs, from the
/// writer config or from a `s3://bucket/prefix/` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// Bucket name.
    pub bucket: String,
    /// Prepended verbatim to every key, as laredo does (`archive/` puts the
    /// manifest of table `users` at `archive/users/manifest.json`).
    pub prefix: String,
    /// Region; default the profile's, then the SDK chain's.
    pub region: Option<String>,
    /// Endpoint URL of an S3-compatible store.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`).
    pub path_style: bool,
    /// Credential profile name; `None` is the SDK default chain.
    pub credentials: Option<String>,
}

/// A malformed `s3://` URI.
#[derive(Debug, thiserror::Error)]
#[error("invalid S3 URI {uri:?}: {reason}")]
pub struct S3UriError {
    /// The argument.
    pub uri: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl S3Location {
    /// The location of an `s3` destination; `None` for other kinds.
    pub fn from_config(config: &DestinationConfig) -> Option<Self> {
        match config {
            DestinationConfig::S3 {
                bucket,
                prefix,
                region,
                endpoint,
                path_style,
                credentials,
            } => Some(Self {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                region: region.clone(),
                endpoint: endpoint.clone(),
                path_style: *path_style,
                credentials: credentials.clone(),
            }),
            DestinationConfig::Local { .. } => None,
        }
    }

    /// Parses `s3://bucket[/prefix]`. The path names a directory-like
    /// archive location, so a non-empty prefix gets a trailing `/` if it has
    /// none (`s3://b/archive/users` reads `archive/users/manifest.json`).
    /// Endpoint, path style, region and profile are left unset.
    pub fn parse_uri(uri: &str) -> Result<Self, S3UriError> {
        let error = |reason| S3UriError {
            uri: uri.to_owned(),
            reason,
        };
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| error("it must start with s3://"))?;
        let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(error("no bucket name"));
        }
        if !bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
        {
            return Err(error(
                "the bucket name may hold only lowercase letters, digits, '-', '.' and '_'",
            ));
        }
        let mut prefix = path.to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix,
            region: None,
            endpoint: None,
            path_style: false,
            credentials: None,
        })
    }

    /// `s3://bucket/prefix`, the destination's name in logs and metrics.
    pub fn name(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_splits_into_bucket_and_directory_prefix() {
        let loc = S3Location::parse_uri("s3://my-bucket/archive/users").unwrap();
        assert_eq!(
            (loc.bucket.as_str(), loc.prefix.as_str()),
            ("my-bucket", "archive/users/")
        );
        let loc = S3Location::parse_uri("s3://my-bucket/archive/").unwrap();
        assert_eq!(loc.prefix, "archive/");
        let loc = S3Location::parse_uri("s3://my-bucket").unwrap();
        assert_eq!(loc.prefix, "");
        assert_eq!(loc.name(), "s3://my-bucket/");
    }

    #[test]
    fn bad_uris_say_what_is_wrong() {
        for (uri, reason) in [
            ("/tmp/archive", "s3://"),
            ("s3:///prefix", "no bucket"),
            ("s3://My_Bucket/x", "lowercase"),
        ] {
            let err = S3Location::parse_uri(uri).unwrap_err().to_string();
            assert!(err.contains(reason) && err.contains(uri), "{err}");
        }
    }
}
