//! Checks of the destinations and of the data volume local ones live on;
//! derives the locations other SnapshotTables could conflict on.

use std::collections::BTreeSet;

use kube::ResourceExt;

use super::credentials::check_profile_reference;
use super::{DEFAULT_MOUNT_PATH, DEFAULT_STORAGE_SIZE, DataVolume, Errors, check_endpoint};
use crate::crd::rules::{DESTINATION_ONE_KIND, DESTINATION_PROFILE_UNDEFINED};
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
    let spec = &table.spec;
    if spec.destinations.is_empty() {
        errors.push("spec.destinations", "at least one destination is required");
    }
    let mut locations = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, destination) in spec.destinations.iter().enumerate() {
        let path = format!("spec.destinations[{i}]");
        let DestinationSpec { local, s3 } = destination;
        if local.is_some() == s3.is_some() {
            errors.push(&path, DESTINATION_ONE_KIND);
            continue;
        }
        let (location, shareable) = if let Some(s3) = s3 {
            if s3.bucket.is_empty() {
                errors.push(format!("{path}.s3.bucket"), "must not be empty");
            }
            check_endpoint(
                errors,
                &format!("{path}.s3.endpoint"),
                s3.endpoint.as_deref(),
            );
            check_profile_reference(
                table,
                errors,
                &format!("{path}.s3.credentials"),
                s3.credentials.as_deref(),
                DESTINATION_PROFILE_UNDEFINED,
            );
            // The writer's own notion of a destination root, so that the
            // operator and the writer agree on what "the same prefix" is.
            let root = format!(
                "{}s3://{}/{}",
                s3.endpoint.as_deref().unwrap_or(""),
                s3.bucket,
                s3.prefix.as_deref().unwrap_or("")
            );
            (format!("{root}{key_prefix}"), true)
        } else {
            let Some(local) = local else { continue };
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
            let relative = relative.trim_matches('/');
            match &volume.existing_claim {
                // A shared claim can hold several archives: the location is
                // the claim plus the path inside it.
                Some(claim) => (
                    format!(
                        "pvc://{}/{claim}/{relative}{}{key_prefix}",
                        table.namespace().unwrap_or_default(),
                        if relative.is_empty() { "" } else { "/" }
                    ),
                    true,
                ),
                // A claim from the StatefulSet's template belongs to this
                // resource alone: nobody else can write there.
                None => (
                    format!("{}/{key_prefix}", local.path.trim_end_matches('/')),
                    false,
                ),
            }
        };
        if !seen.insert(location.clone()) {
            errors.push(
                &path,
                format!(
                    "writes {location}, which another destination of this resource already writes"
                ),
            );
        }
        if shareable {
            locations.push(location);
        }
    }
    locations
}
