//! Checks of the destinations that only a SnapshotTable needs (one kind
//! each, local paths on the data volume) and of that volume; derives the
//! locations other SnapshotTables could conflict on. What the writer's
//! config validation checks (buckets, endpoints, profile references, two
//! destinations on one place) it reports at the spec's paths.

use kube::ResourceExt;
use snapshot_contract::config::s3_identity;

use super::{DEFAULT_MOUNT_PATH, DEFAULT_STORAGE_SIZE, DataVolume, Errors};
use crate::crd::rules::DESTINATION_ONE_KIND;
use crate::crd::{DestinationSpec, SnapshotTable};

/// The data volume, when a local destination needs one.
pub(super) fn data_volume(table: &SnapshotTable, errors: &mut Errors) -> Option<DataVolume> {
    let has_local = table.spec.destinations.iter().any(|d| d.local.is_some());
    if !has_local {
        return None;
    }
    let storage = table
        .spec
        .writer
        .as_ref()
        .and_then(|w| w.storage.clone())
        .unwrap_or_default();
    let mount_path = storage
        .mount_path
        .unwrap_or_else(|| DEFAULT_MOUNT_PATH.to_owned());
    if !mount_path.starts_with('/') || mount_path.len() < 2 {
        errors.push(
            "spec.writer.storage.mountPath",
            format!("{mount_path:?} must be an absolute path below /"),
        );
    }
    let size = storage
        .size
        .unwrap_or_else(|| DEFAULT_STORAGE_SIZE.to_owned());
    if !is_quantity(&size) {
        errors.push(
            "spec.writer.storage.size",
            format!("{size:?} is not a quantity such as 10Gi"),
        );
    }
    Some(DataVolume {
        mount_path: mount_path.trim_end_matches('/').to_owned(),
        size,
        storage_class_name: storage.storage_class_name,
        existing_claim: storage.existing_claim,
    })
}

/// A plain Kubernetes quantity: digits, an optional fraction, a binary or
/// decimal suffix.
fn is_quantity(text: &str) -> bool {
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_len);
    !number.is_empty()
        && number.parse::<f64>().is_ok()
        && matches!(
            suffix,
            "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "k" | "M" | "G" | "T" | "P" | "E"
        )
}

/// Checks the destinations and returns their shareable locations.
pub(super) fn check_destinations(
    table: &SnapshotTable,
    volume: Option<&DataVolume>,
    key_prefix: &str,
    errors: &mut Errors,
) -> Vec<String> {
    let mut locations = Vec::new();
    for (i, destination) in table.spec.destinations.iter().enumerate() {
        let path = format!("spec.destinations[{i}]");
        match destination {
            DestinationSpec {
                local: None,
                s3: Some(s3),
            } => {
                // Where the writer's own check sees the manifest, so the
                // operator and the writer agree on which places are one.
                locations.push(s3_identity(
                    s3.endpoint.as_deref(),
                    &s3.bucket,
                    s3.prefix.as_deref().unwrap_or(""),
                    key_prefix,
                ));
            }
            DestinationSpec {
                local: Some(local),
                s3: None,
            } => {
                let Some(volume) = volume else { continue };
                let relative = local
                    .path
                    .strip_prefix(&volume.mount_path)
                    .filter(|r| r.is_empty() || r.starts_with('/'));
                let escapes = local
                    .path
                    .split('/')
                    .any(|part| part == ".." || part == ".");
                let Some(relative) = relative.filter(|_| !escapes) else {
                    errors.push(
                        format!("{path}.local.path"),
                        format!("{:?} must be an absolute path under the data volume's mount path {:?} (writer.storage.mountPath)", local.path, volume.mount_path),
                    );
                    continue;
                };
                // A shared claim can hold several archives: the location is
                // the claim plus the path inside it. A claim from the
                // StatefulSet's template belongs to this resource alone:
                // nobody else can write there.
                if let Some(claim) = &volume.existing_claim {
                    let relative = relative.trim_matches('/');
                    locations.push(format!(
                        "pvc://{}/{claim}/{relative}{}{key_prefix}",
                        table.namespace().unwrap_or_default(),
                        if relative.is_empty() { "" } else { "/" }
                    ));
                }
            }
            _ => errors.push(&path, DESTINATION_ONE_KIND),
        }
    }
    locations
}
