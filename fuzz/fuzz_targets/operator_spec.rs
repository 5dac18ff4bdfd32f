//! A `SnapshotTable` as the API server hands it to the operator: JSON
//! (bit 0 of the first byte clear) or YAML (as `kubectl apply` takes it),
//! deserialized into the resource type and checked by
//! `reconcile::validate::validate`, the operator's own spec validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapshot_operator::crd::SnapshotTable;
use snapshot_operator::reconcile::validate::validate;

fuzz_target!(|data: &[u8]| {
    let Some((&shape, text)) = data.split_first() else {
        return;
    };
    let parsed: Option<SnapshotTable> = if shape & 1 == 0 {
        serde_json::from_slice(text).ok()
    } else {
        serde_yaml::from_slice(text).ok()
    };
    let Some(table) = parsed else {
        return;
    };
    match validate(&table) {
        Ok(spec) => {
            let _ = format!("{spec:?}");
        }
        Err(invalid) => {
            let _ = invalid.to_string();
        }
    }
});
