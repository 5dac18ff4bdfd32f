//! A small model of laredo's Go reader (reference/laredo.md §4): how it
//! plans a rebuild (diffs chained by `from_position` string equality) and
//! how it reconstructs the table, to check that archives we write read the
//! same through it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use snapshot_writer::archive::format::json_scan::{json_to_struct, key_of_json};
use snapshot_writer::archive::format::jsonl;
use snapshot_writer::archive::position::compare;
use snapshot_writer::archive::retention::artifact_key;
use snapshot_writer::archive::{ArtifactKind, Manifest};
use snapshot_writer::config::Format;
use snapshot_writer::table::KeySpec;

/// Go's `Plan` for a fresh reader: the newest snapshot by epoch, then the
/// chain of diffs linked by `from_position` string equality (a map keyed by
/// from, last entry wins, across all epochs). Panics if the chain loops.
pub fn go_plan_head(manifest: &Manifest) -> Option<(usize, Vec<usize>)> {
    let base = manifest
        .artifacts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == ArtifactKind::Snapshot)
        .max_by_key(|(i, a)| (a.epoch, *i))?
        .0;
    Some((base, go_chain(manifest, base, None)))
}

/// Go's `PlanAsOf`: the snapshot with the greatest position ≤ P (ties: the
/// earliest), then the chain while each diff's `to ≤ P`.
pub fn go_plan_as_of(manifest: &Manifest, at: &str) -> Option<(usize, Vec<usize>)> {
    let mut base: Option<usize> = None;
    for (i, a) in manifest.artifacts.iter().enumerate() {
        if a.kind != ArtifactKind::Snapshot || compare(&a.to_position, at).is_gt() {
            continue;
        }
        if base.is_none_or(|b| compare(&a.to_position, &manifest.artifacts[b].to_position).is_gt())
        {
            base = Some(i);
        }
    }
    let base = base?;
    Some((base, go_chain(manifest, base, Some(at))))
}

fn go_chain(manifest: &Manifest, base: usize, at: Option<&str>) -> Vec<usize> {
    let mut by_from: HashMap<&str, usize> = HashMap::new();
    for (i, a) in manifest.artifacts.iter().enumerate() {
        if let (ArtifactKind::Diff, Some(from)) = (a.kind, a.from_position.as_deref()) {
            by_from.insert(from, i);
        }
    }
    let mut chain = Vec::new();
    let mut seen = HashSet::new();
    let mut position = manifest.artifacts[base].to_position.as_str();
    while let Some(&next) = by_from.get(position) {
        let diff = &manifest.artifacts[next];
        if at.is_some_and(|at| compare(&diff.to_position, at).is_gt()) {
            break;
        }
        assert!(seen.insert(next), "a Go reader would loop at {position:?}");
        chain.push(next);
        position = &diff.to_position;
    }
    chain
}

/// Go's `ReconstructAsOf` over the JSONL objects, with serde_json.
pub fn go_reconstruct(
    dir: &Path,
    manifest: &Manifest,
    base: usize,
    diffs: &[usize],
) -> BTreeMap<String, String> {
    let key = KeySpec::default();
    let read = |index: usize| {
        let path = dir.join(artifact_key("", &manifest.artifacts[index], Format::Jsonl));
        std::fs::read_to_string(path).unwrap()
    };
    let mut rows = BTreeMap::new();
    for line in read(base).lines().filter(|l| !l.trim().is_empty()) {
        rows.insert(
            key_of_json(line.as_bytes(), &key).unwrap().to_string(),
            format!("{line}\n"),
        );
    }
    for &diff in diffs {
        for line in read(diff).lines().filter(|l| !l.trim().is_empty()) {
            let change: serde_json::Value = serde_json::from_str(line).unwrap();
            let row_key = change["key"].as_str().unwrap().to_owned();
            match change["action"].as_str().unwrap() {
                "TRUNCATE" => rows.clear(),
                "DELETE" => {
                    rows.remove(&row_key);
                }
                "INSERT" | "UPDATE" => {
                    // Go re-encodes with encoding/json; compare in our encoding.
                    let new = serde_json::to_vec(&change["new"]).unwrap();
                    let struct_bytes = json_to_struct(&new).unwrap();
                    let mut line = Vec::new();
                    jsonl::encode_snapshot_row(&mut Default::default(), &mut line, &struct_bytes)
                        .unwrap();
                    rows.insert(row_key, String::from_utf8(line).unwrap());
                }
                other => panic!("unknown action {other}"),
            }
        }
    }
    rows
}
