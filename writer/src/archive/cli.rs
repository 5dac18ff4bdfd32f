//! The `read` and `verify` subcommands, as clap argument types plus the
//! functions that run them (wired into `main.rs`).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::ArchiveError;
use super::reader::{ArchiveReader, RebuiltTable};
use super::verify::{VerifyReport, verify};
use crate::config::Format;
use crate::dest::{Destination, LocalDestination};
use crate::table::KeySpec;

/// `snapshot-writer read ARCHIVE [--at POS] [--key-fields a,b]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// The archive: a directory holding `manifest.json`.
    pub archive: String,
    /// Rebuild as of this position (the newest snapshot at or before it plus
    /// the diffs up to it) instead of the head.
    #[arg(long)]
    pub at: Option<String>,
    /// Key columns (default: what the manifest records, else `id`).
    #[arg(long, value_delimiter = ',')]
    pub key_fields: Vec<String>,
}

/// `snapshot-writer verify ARCHIVE`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The archive: a directory holding `manifest.json`.
    pub archive: String,
}

/// Why an archive location cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    /// Not a directory.
    #[error("{0}: not a directory holding manifest.json")]
    NotADirectory(String),
    /// A scheme this build cannot read.
    #[error("{0}: unsupported archive location (use a directory)")]
    Unsupported(String),
}

/// The destination and key prefix an `ARCHIVE` argument names: a directory
/// holding `manifest.json` (prefix `""`). Other schemes (`s3://bucket/prefix/`)
/// slot in here.
pub fn open_location(archive: &str) -> Result<(Arc<dyn Destination>, String), LocationError> {
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
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

/// Rebuilds the table and writes it to `out` as JSONL, sorted by key.
pub async fn run_read(args: &ReadArgs, out: &mut impl Write) -> Result<RebuiltTable, CliError> {
    let (dest, prefix) = open_location(&args.archive)?;
    let reader = ArchiveReader::open(dest, &prefix).await?;
    let fields = if !args.key_fields.is_empty() {
        args.key_fields.clone()
    } else {
        reader.manifest().key_fields.clone()
    };
    let key = KeySpec::new(fields);
    let table = reader
        .rebuild(args.at.as_deref(), &key, &[Format::Protobuf, Format::Jsonl])
        .await?;
    table.write_jsonl(out)?;
    out.flush()?;
    Ok(table)
}

/// Verifies the archive; the caller exits non-zero unless the report is ok.
pub async fn run_verify(args: &VerifyArgs) -> Result<VerifyReport, CliError> {
    let (dest, prefix) = open_location(&args.archive)?;
    let reader = ArchiveReader::open(dest, &prefix).await?;
    Ok(verify(&reader).await?)
}
