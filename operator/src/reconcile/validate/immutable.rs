//! The fields the CRD declares immutable (CEL `self == oldSelf` rules),
//! checked against what the writer workload was bound to
//! (`status.bound`). A server from 1.25 refuses such a change at admission;
//! an older one drops the rules and stores it, and then this check keeps the
//! writer on its archive and says why, in the rule's own words.

use super::Errors;
use crate::crd::rules::{
    DESTINATIONS_IMMUTABLE, KEY_PREFIX_IMMUTABLE, SCHEMA_IMMUTABLE, STORAGE_IMMUTABLE,
    TABLE_IMMUTABLE,
};
use crate::crd::{BoundIdentity, SnapshotTable, SnapshotTableSpec};

/// The immutable fields of `spec`, as recorded in `status.bound`.
pub fn bound_identity(spec: &SnapshotTableSpec) -> BoundIdentity {
    BoundIdentity {
        schema: spec.source.schema.clone(),
        table: spec.source.table.clone(),
        key_prefix: spec.key_prefix.clone(),
        destinations: spec
            .destinations
            .iter()
            .map(|d| match (&d.s3, &d.local) {
                (Some(s3), _) => format!(
                    "s3|{}|{}|{}",
                    s3.endpoint.as_deref().unwrap_or(""),
                    s3.bucket,
                    s3.prefix.as_deref().unwrap_or("")
                ),
                (None, local) => format!(
                    "local|{}",
                    local.as_ref().map(|l| l.path.as_str()).unwrap_or("")
                ),
            })
            .collect(),
        storage: spec
            .writer
            .as_ref()
            .and_then(|w| w.storage.as_ref())
            .and_then(|s| serde_json::to_string(s).ok()),
    }
}

/// Reports each immutable field that differs from `status.bound`.
pub(super) fn check_unchanged(table: &SnapshotTable, errors: &mut Errors) {
    let Some(bound) = table.status.as_ref().and_then(|s| s.bound.as_ref()) else {
        return;
    };
    let now = bound_identity(&table.spec);
    // A status written before the table was recorded holds none.
    if !bound.schema.is_empty() && now.schema != bound.schema {
        errors.push(
            "spec.source.schema",
            format!("{SCHEMA_IMMUTABLE} (bound to {:?})", bound.schema),
        );
    }
    if !bound.table.is_empty() && now.table != bound.table {
        errors.push(
            "spec.source.table",
            format!("{TABLE_IMMUTABLE} (bound to {:?})", bound.table),
        );
    }
    if now.key_prefix != bound.key_prefix {
        errors.push(
            "spec.keyPrefix",
            format!(
                "{KEY_PREFIX_IMMUTABLE} (bound to {}, now {})",
                shown(bound.key_prefix.as_deref()),
                shown(now.key_prefix.as_deref())
            ),
        );
    }
    if now.destinations != bound.destinations {
        errors.push(
            "spec.destinations",
            format!(
                "{DESTINATIONS_IMMUTABLE} (bound to {:?}, now {:?})",
                bound.destinations, now.destinations
            ),
        );
    }
    if now.storage != bound.storage {
        errors.push(
            "spec.writer.storage",
            format!(
                "{STORAGE_IMMUTABLE} (bound to {}, now {})",
                shown(bound.storage.as_deref()),
                shown(now.storage.as_deref())
            ),
        );
    }
}

fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "unset".into(), |v| format!("{v:?}"))
}
