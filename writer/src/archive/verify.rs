//! Verifying an archive: every object the manifest references exists with
//! the recorded size and checksum and decodes; each epoch starts with its
//! snapshot and its diffs chain `from → to` contiguously; positions strictly
//! increase in manifest order (so no Go reader can pick a stale head or
//! loop). Go-written archives typically fail the position checks: that is
//! the defect this writer fixes, reported so an operator can see it.

use std::collections::HashSet;
use std::fmt;

use super::ArchiveError;
use super::format;
use super::manifest::{ArtifactKind, check_crc32c};
use super::position::compare;
use super::reader::ArchiveReader;
use super::retention::artifact_keys;

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

/// Checks the archive `reader` reads (module docs). Errors only when the
/// manifest itself cannot be read; everything else lands in the report.
pub async fn verify(reader: &ArchiveReader) -> Result<VerifyReport, ArchiveError> {
    let manifest = reader.manifest();
    let mut report = VerifyReport {
        artifacts: manifest.artifacts.len(),
        ..VerifyReport::default()
    };
    let problems = &mut report.problems;

    if let Some(last) = manifest.artifacts.last()
        && last.to_position != manifest.head_position
    {
        problems.push(format!(
            "head_position {:?} is not the last artifact's to_position {:?}",
            manifest.head_position, last.to_position
        ));
    }
    let max_epoch = manifest
        .artifacts
        .iter()
        .map(|a| a.epoch)
        .max()
        .unwrap_or(0);
    if manifest.epoch < max_epoch {
        problems.push(format!(
            "manifest epoch {} is below the newest artifact epoch {max_epoch}",
            manifest.epoch
        ));
    }
    let mut ids = HashSet::new();
    let mut missing_ids = 0;
    for (index, artifact) in manifest.artifacts.iter().enumerate() {
        let name = format!(
            "artifact #{index} ({} epoch={} to={:?}{})",
            artifact.kind.as_str(),
            artifact.epoch,
            artifact.to_position,
            artifact
                .id
                .as_deref()
                .map(|id| format!(" id={id}"))
                .unwrap_or_default()
        );
        match &artifact.id {
            Some(id) if !ids.insert(id.clone()) => problems.push(format!("{name}: duplicate id")),
            Some(_) => {}
            None => missing_ids += 1,
        }
        let previous = index.checked_sub(1).map(|i| &manifest.artifacts[i]);
        if let Some(previous) = previous {
            if artifact.epoch < previous.epoch {
                problems.push(format!("{name}: epoch goes back from {}", previous.epoch));
            }
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
            ArtifactKind::Snapshot => {
                if artifact.from_position.is_some() {
                    problems.push(format!("{name}: a snapshot with a from_position"));
                }
            }
            ArtifactKind::Diff => {
                let from = artifact.from_position.as_deref();
                if from == Some(artifact.to_position.as_str()) {
                    problems.push(format!(
                        "{name}: from_position equals to_position (Go readers loop on it)"
                    ));
                }
                match previous.filter(|p| p.epoch == artifact.epoch) {
                    None => problems.push(format!("{name}: a diff with no snapshot before it in its epoch")),
                    Some(previous) if from != Some(previous.to_position.as_str()) => problems.push(format!(
                        "{name}: chain broken: from_position {from:?} is not the previous artifact's to_position {:?}",
                        previous.to_position
                    )),
                    Some(_) => {}
                }
            }
        }
        if artifact.formats.is_empty() {
            problems.push(format!("{name}: lists no format"));
        }
        for (format, key) in artifact_keys(reader.key_prefix(), artifact) {
            report.objects += 1;
            let Some(recorded) = artifact.formats.get(format.id()) else {
                continue;
            };
            let body = match reader.destination().read(&key).await {
                Ok(Some(body)) => body,
                Ok(None) => {
                    problems.push(format!("{name}: {key} is missing"));
                    continue;
                }
                Err(error) => {
                    problems.push(format!("{name}: {key} cannot be read: {error}"));
                    continue;
                }
            };
            if let Err(problem) = recorded.check_size(body.len()) {
                problems.push(format!("{name}: {key} {problem}"));
            }
            match recorded.recorded_crc32c() {
                Ok(Some(expected)) => {
                    if let Err(problem) = check_crc32c(crc32c::crc32c(&body), expected) {
                        problems.push(format!("{name}: {key} {problem}"));
                    }
                }
                Ok(None) => report.warnings.push(format!(
                    "{name}: {key} has no recorded checksum; size checked only"
                )),
                Err(problem) => problems.push(format!("{name}: {key}: {problem}")),
            }
            let decoded = match artifact.kind {
                ArtifactKind::Snapshot => format::snapshot_rows(format, &body, |_, _| Ok(())),
                ArtifactKind::Diff => format::decode_diff(format, &body, |_| Ok(())),
            };
            if let Err(error) = decoded {
                problems.push(format!("{name}: {key} does not decode: {error}"));
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
