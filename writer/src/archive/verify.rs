//! Verifying an archive: the manifest holds together by the rules `read`
//! enforces ([`chain::check`]); every object the manifest references, in
//! every format it lists, goes through the very load `read` runs
//! ([`ArchiveReader::load`]: bounded fetch, size, checksum, decode, keys,
//! row count), so whatever `read` would refuse, `verify` reports; and every
//! row is then decoded whole (JSON parsed, `Struct`s transcoded as `read`
//! prints them), which `read` leaves to the checksum. On top, positions must
//! strictly increase in manifest order (so no Go reader can pick a stale
//! head or loop). Go-written archives typically fail the position checks:
//! that is the defect this writer fixes, reported so an operator can see it.

use std::collections::HashSet;
use std::fmt;

use super::ArchiveError;
use super::format::StoredRow;
use super::format::jsonl::ColumnCache;
use super::manifest::chain::{self, artifact_name};
use super::manifest::{Artifact, ArtifactKind};
use super::position::compare;
use super::reader::{ArchiveReader, Loaded};
use super::retention::artifact_keys;
use crate::table::KeySpec;
use crate::telemetry::with_causes;

/// What `verify` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Artifacts in the manifest.
    pub artifacts: usize,
    /// Objects checked.
    pub objects: usize,
    /// Broken rules; non-empty means the archive is not valid.
    pub problems: Vec<String>,
    /// Observations that do not make the archive invalid.
    pub warnings: Vec<String>,
}

impl VerifyReport {
    /// Whether the archive passed.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.problems {
            writeln!(f, "problem: {problem}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        write!(
            f,
            "{}: {} artifacts, {} objects checked, {} problems, {} warnings",
            if self.ok() { "OK" } else { "INVALID" },
            self.artifacts,
            self.objects,
            self.problems.len(),
            self.warnings.len()
        )
    }
}

/// Checks the archive `reader` reads (module docs), keying snapshot rows by
/// the manifest's `key_fields` (else `id`), as `read` does by default.
pub async fn verify(reader: &ArchiveReader) -> Result<VerifyReport, ArchiveError> {
    let key = KeySpec::new(reader.manifest().key_fields.clone());
    verify_keyed(reader, &key).await
}

/// [`verify`] with snapshot rows keyed by `key`. Errors only when the
/// manifest itself cannot be read; everything else lands in the report.
pub async fn verify_keyed(
    reader: &ArchiveReader,
    key: &KeySpec,
) -> Result<VerifyReport, ArchiveError> {
    let manifest = reader.manifest();
    let mut report = VerifyReport {
        artifacts: manifest.artifacts.len(),
        ..VerifyReport::default()
    };
    report.problems.extend(
        chain::check(manifest)
            .into_iter()
            .map(|problem| problem.to_string()),
    );
    let mut ids = HashSet::new();
    let mut missing_ids = 0;
    for (index, artifact) in manifest.artifacts.iter().enumerate() {
        let name = artifact_name(index, artifact);
        match &artifact.id {
            Some(id) if !ids.insert(id.clone()) => {
                report.problems.push(format!("{name}: duplicate id"));
            }
            Some(_) => {}
            None => missing_ids += 1,
        }
        let previous = index.checked_sub(1).map(|i| &manifest.artifacts[i]);
        position_rules(&name, artifact, previous, &mut report.problems);
        if artifact.formats.is_empty() {
            report.problems.push(format!("{name}: lists no format"));
        }
        for (format, object) in artifact_keys(reader.key_prefix(), artifact) {
            report.objects += 1;
            if artifact
                .formats
                .get(format.id())
                .is_some_and(|recorded| recorded.crc32c.is_none())
            {
                report.warnings.push(format!(
                    "{name}: {object} has no recorded checksum; size checked only"
                ));
            }
            match reader.load(index, format, key).await {
                Ok(loaded) => {
                    if let Some(problem) = whole_rows(&loaded) {
                        report.problems.push(format!("{name}: {object}: {problem}"));
                    }
                }
                Err(error) => report
                    .problems
                    .push(format!("{name}: {}", with_causes(&error))),
            }
        }
        let unknown: Vec<&String> = artifact
            .formats
            .keys()
            .filter(|id| crate::config::Format::from_id(id).is_none())
            .collect();
        if !unknown.is_empty() {
            report.warnings.push(format!(
                "{name}: unknown format ids {unknown:?} not checked"
            ));
        }
    }
    if missing_ids > 0 {
        report.warnings.push(format!(
            "{missing_ids} artifacts have no id (written by another writer)"
        ));
    }
    Ok(report)
}

/// The rules `verify` adds to [`chain::check`]: positions strictly increase
/// (Go readers link diffs by position), and a snapshot has no `from`.
fn position_rules(
    name: &str,
    artifact: &Artifact,
    previous: Option<&Artifact>,
    problems: &mut Vec<String>,
) {
    if let Some(previous) = previous {
        match compare(&artifact.to_position, &previous.to_position) {
            std::cmp::Ordering::Less => problems.push(format!(
                "{name}: position goes backwards (previous artifact is at {:?})",
                previous.to_position
            )),
            std::cmp::Ordering::Equal => problems.push(format!(
                "{name}: position does not advance past the previous artifact's {:?}",
                previous.to_position
            )),
            std::cmp::Ordering::Greater => {}
        }
    }
    match artifact.kind {
        ArtifactKind::Snapshot if artifact.from_position.is_some() => {
            problems.push(format!("{name}: a snapshot with a from_position"));
        }
        ArtifactKind::Diff
            if artifact.from_position.as_deref() == Some(artifact.to_position.as_str()) =>
        {
            problems.push(format!(
                "{name}: from_position equals to_position (Go readers loop on it)"
            ));
        }
        _ => {}
    }
}

/// Decodes every row of a loaded object whole: a JSON row is parsed (as a
/// restart restores it), a `Struct` row transcoded to JSON (as `read`
/// prints it). Names the first bad row and counts the rest.
fn whole_rows(loaded: &Loaded) -> Option<String> {
    let mut columns = ColumnCache::default();
    let mut scratch = Vec::new();
    let mut check = |row: &StoredRow| -> Result<(), String> {
        scratch.clear();
        match row {
            StoredRow::Json(_) => row.to_struct_bytes().map(drop),
            StoredRow::Struct(_) => row
                .write_json_line(&mut columns, &mut scratch)
                .map_err(|e| e.to_string()),
        }
    };
    let mut first = None;
    let mut bad = 0usize;
    let mut note = |key: &str, result: Result<(), String>| {
        if let Err(error) = result {
            bad += 1;
            first.get_or_insert_with(|| format!("the row of key {key:?} does not decode: {error}"));
        }
    };
    match loaded {
        Loaded::Snapshot(rows) => {
            for (key, row) in rows.iter() {
                let result = check(&row);
                note(key, result);
            }
        }
        Loaded::Diff { records, .. } => {
            for record in records {
                if let Some(row) = &record.new {
                    let result = check(row);
                    note(&record.key, result);
                }
            }
        }
    }
    first.map(|first| match bad {
        1 => first,
        more => format!("{first} (and {} more rows)", more - 1),
    })
}
