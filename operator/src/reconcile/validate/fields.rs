//! Checks of the table's own fields that only a SnapshotTable needs: the
//! writer's config validation checks the rest ([`super::mapping`]).

use super::Errors;
use crate::crd::SnapshotTableSpec;

/// What the CRD's schema cannot type and the writer's config does not
/// forbid: filter values are scalars (the schema lets any value through),
/// `staleAfter` is a duration longer than 0, and a `keyPrefix`, when given,
/// is not empty (omitting it means `<table>/`).
pub(super) fn check_spec_only(spec: &SnapshotTableSpec, errors: &mut Errors) {
    for (i, filter) in spec.source.filters.iter().flatten().enumerate() {
        let path = format!("spec.source.filters[{i}]");
        if let Some(value) = &filter.equals
            && !is_scalar(value)
        {
            errors.push(
                format!("{path}.equals"),
                format!("must be a string, number or boolean, not {value}"),
            );
        }
        if let Some(values) = &filter.one_of {
            if values.is_empty() {
                errors.push(format!("{path}.in"), "must list at least one value");
            }
            for (j, value) in values.iter().enumerate().filter(|(_, v)| !is_scalar(v)) {
                errors.push(
                    format!("{path}.in[{j}]"),
                    format!("must be a string, number or boolean, not {value}"),
                );
            }
        }
    }
    if let Some(problem) = crate::reconcile::freshness::check(spec) {
        errors.push("spec.staleAfter", problem);
    }
    if spec.key_prefix.as_deref().is_some_and(str::is_empty) {
        errors.push(
            "spec.keyPrefix",
            "must not be empty (omit it for the default `<table>/`)",
        );
    }
}

fn is_scalar(value: &serde_json::Value) -> bool {
    matches!(
        value,
        serde_json::Value::String(_) | serde_json::Value::Number(_) | serde_json::Value::Bool(_)
    )
}
