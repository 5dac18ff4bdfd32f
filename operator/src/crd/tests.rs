use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::*;

fn repository_file(path: &str) -> String {
    let file = crate::repository().join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

const REGENERATE: &str =
    "stale: run `cargo run -p snapshot-operator --bin crdgen` and commit the result";

#[test]
fn the_committed_crd_is_current() {
    assert!(
        repository_file(CRD_PATH) == crd_yaml().unwrap(),
        "{CRD_PATH} is {REGENERATE}"
    );
}

#[test]
fn the_charts_crd_template_is_current() {
    let expected = chart_crd_template(&crd_yaml().unwrap());
    assert!(
        repository_file(CHART_CRD_PATH) == expected,
        "{CHART_CRD_PATH} is {REGENERATE}"
    );
}

#[test]
fn the_crd_has_names_columns_and_a_status_subresource() {
    let crd: CustomResourceDefinition = serde_yaml::from_str(&crd_yaml().unwrap()).unwrap();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("snapshottables.laredo.io")
    );
    assert_eq!(
        crd.spec.names.short_names.as_deref(),
        Some(&["st".to_owned()][..])
    );
    assert_eq!(
        crd.spec.names.categories.as_deref(),
        Some(&["laredo".to_owned()][..])
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version.subresources.as_ref().unwrap().status.is_some());
    let columns: Vec<(&str, i32)> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.priority.unwrap_or(0)))
        .collect();
    // `kubectl get -o wide` adds the priority-1 columns.
    assert_eq!(
        columns,
        [
            ("Ready", 0),
            ("Epoch", 0),
            ("Head", 0),
            ("Last Snapshot", 0),
            ("Suspended", 0),
            ("Stale", 1),
            ("Rows", 1),
            ("Buffered", 1),
            ("Last Commit", 1),
            ("Age", 0)
        ]
    );
    assert!(
        !crd_yaml().unwrap().contains("{{"),
        "the chart wraps the CRD in a template: no braces inside"
    );
}

/// Walks a schema and collects the paths of properties without a
/// description, and of unknown integer formats.
fn walk(
    schema: &serde_json::Value,
    path: &str,
    missing: &mut Vec<String>,
    formats: &mut Vec<String>,
) {
    if let Some(format) = schema.get("format").and_then(|f| f.as_str())
        && format.starts_with("uint")
    {
        formats.push(path.to_owned());
    }
    if let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) {
        for (name, property) in properties {
            let child = format!("{path}.{name}");
            if property.get("description").is_none() {
                missing.push(child.clone());
            }
            walk(property, &child, missing, formats);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = schema.get(key) {
            walk(inner, &format!("{path}[]"), missing, formats);
        }
    }
}

#[test]
fn every_field_is_described_for_kubectl_explain() {
    let mut value = serde_json::to_value(SnapshotTable::crd()).unwrap();
    strip_unsigned_formats(&mut value);
    let schema = &value["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let (mut missing, mut formats) = (Vec::new(), Vec::new());
    for part in ["spec", "status"] {
        walk(
            &schema["properties"][part],
            part,
            &mut missing,
            &mut formats,
        );
    }
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:#?}"
    );
    assert!(formats.is_empty(), "unsigned formats left: {formats:?}");
}

#[test]
fn the_spec_round_trips_through_json() {
    for path in [
        "minimal-local.yaml",
        "s3-irsa-events.yaml",
        "multi-format.yaml",
    ] {
        let text = repository_file(&format!("crds/examples/{path}"));
        let table: SnapshotTable = serde_yaml::from_str(&text).unwrap();
        let again: SnapshotTable =
            serde_json::from_value(serde_json::to_value(&table).unwrap()).unwrap();
        assert_eq!(table, again, "{path}");
    }
}
