//! The `read` and `verify` subcommands, as clap argument types plus the
//! functions that run them (wired into `main.rs`).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::ArchiveError;
use super::reader::{ArchiveReader, AsOf};
use super::rebuilt::RebuiltTable;
use super::verify::{VerifyReport, verify_keyed};
use crate::dest::{Destination, LocalDestination};
use crate::table::KeySpec;

/// Where an archive is: the `ARCHIVE` argument and how to reach an S3 one.
#[derive(Debug, Clone, clap::Args)]
pub struct LocationArgs {
    /// The archive: a directory holding `manifest.json`, or
    /// `s3://bucket/prefix/` (credentials and region from the AWS SDK
    /// default chain, or from `--profile`).
    pub archive: String,
    /// Endpoint URL of an S3-compatible store (`s3://` archives).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Path-style addressing, needed by most S3-compatible stores.
    #[arg(long)]
    pub path_style: bool,
    /// AWS region (default: the SDK chain's).
    #[arg(long)]
    pub region: Option<String>,
    /// Profile of the AWS shared config files (`~/.aws/config`,
    /// `~/.aws/credentials`) whose credentials and region read `s3://`
    /// archives (default: `AWS_PROFILE`, else `default`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// `snapshot-writer read ARCHIVE [--at POS | --at-time TIME] [--key-fields a,b]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// The archive.
    #[command(flatten)]
    pub location: LocationArgs,
    /// Rebuild as of this position (the newest snapshot at or before it plus
    /// the diffs up to it) instead of the head.
    #[arg(long, conflicts_with = "at_time")]
    pub at: Option<String>,
    /// Rebuild as of this time (RFC 3339, e.g. `2026-12-07T10:00:00Z`): the
    /// table the newest artifact committed at or before it leaves, by the
    /// manifest's `created_at`.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub at_time: Option<jiff::Timestamp>,
    /// Key columns (default: what the manifest records, else `id`).
    #[arg(long, value_delimiter = ',')]
    pub key_fields: Vec<String>,
}

/// `snapshot-writer verify ARCHIVE [--key-fields a,b]`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The archive.
    #[command(flatten)]
    pub location: LocationArgs,
    /// Key columns snapshot rows are checked by, as `read` keys them
    /// (default: what the manifest records, else `id`).
    #[arg(long, value_delimiter = ',')]
    pub key_fields: Vec<String>,
}

/// Why an archive location cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    /// Not a directory.
    #[error("{0}: not a directory holding manifest.json")]
    NotADirectory(String),
    /// A scheme this build cannot read.
    #[error("{0}: unsupported archive location (use a directory or s3://bucket/prefix/)")]
    Unsupported(String),
    /// A malformed `s3://` URI.
    #[error(transparent)]
    S3Uri(#[from] crate::dest::s3::S3UriError),
    /// No region for an `s3://` archive.
    #[error(
        "{0}: no AWS region: pass --region, set `region` in the --profile (or AWS_PROFILE) profile of the AWS config file, or set AWS_REGION"
    )]
    NoRegion(String),
    /// The S3 client could not be set up.
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
}

/// The destination and key prefix an `ARCHIVE` argument names: a directory
/// holding `manifest.json`, or `s3://bucket/prefix/`; the key prefix is `""`
/// because the location itself is where `manifest.json` lives.
pub async fn open_location(
    location: &LocationArgs,
) -> Result<(Arc<dyn Destination>, String), LocationError> {
    let archive = location.archive.as_str();
    if archive.starts_with("s3://") {
        let mut s3 = crate::dest::s3::S3Location::parse_uri(archive)?;
        s3.endpoint.clone_from(&location.endpoint);
        s3.path_style = location.path_style;
        s3.region.clone_from(&location.region);
        let mut resolver =
            crate::aws::CredentialResolver::builder(std::collections::BTreeMap::new());
        if let Some(profile) = &location.profile {
            resolver = resolver.ambient_profile(profile);
        }
        let resolver = resolver.build();
        let dest = crate::dest::s3::S3Destination::connect(&s3, &resolver)
            .await
            .map_err(|error| match error {
                crate::aws::AwsError::NoRegion { .. } => {
                    LocationError::NoRegion(archive.to_owned())
                }
                other => other.into(),
            })?;
        return Ok((Arc::new(dest), String::new()));
    }
    if archive.contains("://") {
        return Err(LocationError::Unsupported(archive.to_owned()));
    }
    let path = Path::new(archive);
    if !path.is_dir() {
        return Err(LocationError::NotADirectory(archive.to_owned()));
    }
    Ok((Arc::new(LocalDestination::new(path)), String::new()))
}

/// Why `read` or `verify` failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The location.
    #[error(transparent)]
    Location(#[from] LocationError),
    /// The archive.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// Writing the output.
    #[error("writing output")]
    Output(#[from] std::io::Error),
}

/// Rebuilds the table and writes it to `out` as JSONL, sorted by key.
pub async fn run_read(args: &ReadArgs, out: &mut impl Write) -> Result<RebuiltTable, CliError> {
    let (dest, prefix) = open_location(&args.location).await?;
    let reader = ArchiveReader::open(dest, &prefix).await?;
    let key = key_spec(&args.key_fields, &reader);
    let as_of = match (&args.at, args.at_time) {
        (Some(at), _) => AsOf::Position(at),
        (None, Some(at)) => AsOf::Time(at),
        (None, None) => AsOf::Head,
    };
    let table = reader
        .rebuild_as_of(as_of, &key, &super::READ_PREFERENCE)
        .await?;
    table.write_jsonl(out)?;
    out.flush()?;
    Ok(table)
}

/// Verifies the archive; the caller exits non-zero unless the report is ok.
pub async fn run_verify(args: &VerifyArgs) -> Result<VerifyReport, CliError> {
    let (dest, prefix) = open_location(&args.location).await?;
    let reader = ArchiveReader::open(dest, &prefix).await?;
    let key = key_spec(&args.key_fields, &reader);
    Ok(verify_keyed(&reader, &key).await?)
}

/// An RFC 3339 time with its offset (`Z` or `+hh:mm`).
fn parse_time(text: &str) -> Result<jiff::Timestamp, String> {
    text.parse().map_err(|error| {
        format!(
            "{text:?} is not an RFC 3339 time with an offset (e.g. 2026-12-07T10:00:00Z): {error}"
        )
    })
}

/// The key columns given, else the manifest's, else `id`.
fn key_spec(given: &[String], reader: &ArchiveReader) -> KeySpec {
    KeySpec::new(if given.is_empty() {
        reader.manifest().key_fields.clone()
    } else {
        given.to_vec()
    })
}
