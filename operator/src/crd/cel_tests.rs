//! The CRD's CEL rules, evaluated client-side with kube's CEL validator (the
//! apiserver's rules, no apiserver): every rule compiles, the examples pass,
//! and each rule rejects what it is there to reject.

use kube::CustomResourceExt;
use kube::core::cel::{Validator, compile_schema};
use serde_json::{Value, json};

use super::*;

fn schema() -> Value {
    let crd = serde_json::to_value(SnapshotTable::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn example(name: &str) -> Value {
    let path = crate::repository().join("crds/examples").join(name);
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The messages of the rules `object` breaks (as an update of `old`, if given).
fn broken(object: &Value, old: Option<&Value>) -> Vec<String> {
    match Validator::new().validate(&schema(), object, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    }
}

/// Every CEL rule's message, to find which one a rejection names.
const RULES: &[&str] = &[
    rules::NAME_TOO_LONG,
    rules::KEY_PREFIX_IMMUTABLE,
    rules::STORAGE_IMMUTABLE,
    rules::DESTINATIONS_IMMUTABLE,
    rules::DESTINATION_PROFILE_UNDEFINED,
    rules::SINK_PROFILE_UNDEFINED,
    rules::IRSA_WITH_OWN_ACCOUNT,
    rules::ONE_IRSA_PROFILE,
    rules::MIN_OVER_MAX,
    rules::PROFILE_ONE_KIND,
    rules::DESTINATION_ONE_KIND,
    rules::SINK_ONE_KIND,
    rules::FILTER_ONE_KIND,
    rules::SCHEMA_IMMUTABLE,
    rules::TABLE_IMMUTABLE,
    rules::BACKOFF_ORDER,
];

/// The CEL rules reject `object` with `expected` in the message, and so does
/// the operator's own validation, in the rule's words: servers before 1.25
/// drop the rules, and there the operator's `Degraded` condition is the only
/// report. An update (`old`) is judged against the identity the old spec
/// bound (`status.bound`), as the operator records it.
fn assert_rejected(object: &Value, old: Option<&Value>, expected: &str) {
    let messages = broken(object, old);
    let message = messages
        .iter()
        .find(|m| m.contains(expected))
        .unwrap_or_else(|| {
            panic!("expected a rejection containing {expected:?}, got {messages:?}")
        });
    let rule = RULES
        .iter()
        .find(|rule| message.contains(**rule))
        .unwrap_or_else(|| panic!("{message:?} is not one of crd::rules"));

    let mut table: SnapshotTable = serde_json::from_value(object.clone()).unwrap();
    if let Some(old) = old {
        let old: SnapshotTable = serde_json::from_value(old.clone()).unwrap();
        table.status = Some(SnapshotTableStatus {
            bound: Some(crate::reconcile::validate::bound_identity(&old.spec)),
            ..SnapshotTableStatus::default()
        });
    }
    let invalid = crate::reconcile::validate::validate(&table)
        .expect_err("the operator's validation accepts what a CEL rule rejects");
    assert!(
        invalid.to_string().contains(rule),
        "the operator's validation says {invalid:?}, not the rule's {rule:?}"
    );
}

#[test]
fn every_rule_compiles() {
    let compiled = compile_schema(&schema());
    let errors: Vec<String> = compiled
        .compilation_errors()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_examples_pass_on_create_and_on_an_unchanged_update() {
    for name in [
        "minimal-local.yaml",
        "s3-irsa-events.yaml",
        "multi-format.yaml",
    ] {
        let object = example(name);
        assert_eq!(broken(&object, None), Vec::<String>::new(), "{name}");
        assert_eq!(
            broken(&object, Some(&object)),
            Vec::<String>::new(),
            "{name}"
        );
    }
}

#[test]
fn exactly_one_kind_per_destination_sink_profile_and_filter() {
    let mut object = example("minimal-local.yaml");
    object["spec"]["destinations"][0]["s3"] = json!({"bucket": "b"});
    assert_rejected(&object, None, "exactly one of local, s3");

    let mut object = example("s3-irsa-events.yaml");
    object["spec"]["events"][0]["sns"] = json!({"topicArn": "arn:aws:sns:eu-west-1:1:t"});
    assert_rejected(&object, None, "exactly one of sns, sqs, kinesis");

    let mut object = example("s3-irsa-events.yaml");
    object["spec"]["credentials"]["empty"] = json!({});
    assert_rejected(&object, None, "exactly one of irsa, assumeRole, ambient");

    let mut object = example("s3-irsa-events.yaml");
    object["spec"]["source"]["filters"][0]["prefix"] = json!("e");
    assert_rejected(&object, None, "exactly one of equals, prefix, in");
}

#[test]
fn at_most_one_irsa_profile() {
    let mut object = example("s3-irsa-events.yaml");
    object["spec"]["credentials"]["second"] =
        json!({"irsa": {"roleArn": "arn:aws:iam::123456789012:role/other"}});
    assert_rejected(&object, None, "at most one irsa profile");
}

#[test]
fn references_name_defined_profiles() {
    let mut object = example("s3-irsa-events.yaml");
    object["spec"]["destinations"][0]["s3"]["credentials"] = json!("nope");
    assert_rejected(&object, None, "a destination names a credential profile");
    let mut object = example("s3-irsa-events.yaml");
    object["spec"]["events"][0]["sqs"]["credentials"] = json!("nope");
    assert_rejected(&object, None, "an event sink names a credential profile");
}

#[test]
fn irsa_and_a_service_account_override_exclude_each_other() {
    let mut object = example("s3-irsa-events.yaml");
    object["spec"]["writer"]["serviceAccountName"] = json!("mine");
    assert_rejected(&object, None, "annotate that ServiceAccount yourself");
}

#[test]
fn intervals_are_ordered() {
    let mut object = example("s3-irsa-events.yaml");
    object["spec"]["snapshot"]["minInterval"] = json!("48h");
    assert_rejected(&object, None, rules::MIN_OVER_MAX);
    let mut object = example("multi-format.yaml");
    object["spec"]["source"]["reconnect"]["initialBackoff"] = json!("2m");
    assert_rejected(&object, None, rules::BACKOFF_ORDER);
}

#[test]
fn the_table_identity_and_the_archive_location_are_immutable() {
    let old = example("s3-irsa-events.yaml");
    let changed = |edit: &dyn Fn(&mut Value)| {
        let mut object = old.clone();
        edit(&mut object);
        object
    };
    assert_rejected(
        &changed(&|o| o["spec"]["source"]["table"] = json!("other")),
        Some(&old),
        "source.table is immutable",
    );
    assert_rejected(
        &changed(&|o| o["spec"]["source"]["schema"] = json!("other")),
        Some(&old),
        "source.schema is immutable",
    );
    assert_rejected(
        &changed(&|o| o["spec"]["keyPrefix"] = json!("other/")),
        Some(&old),
        "keyPrefix is immutable",
    );
    assert_rejected(
        &changed(&|o| {
            o["spec"].as_object_mut().unwrap().remove("keyPrefix");
        }),
        Some(&old),
        "keyPrefix is immutable",
    );
    assert_rejected(
        &changed(&|o| o["spec"]["destinations"][0]["s3"]["prefix"] = json!("elsewhere/")),
        Some(&old),
        "destination identities",
    );
    assert_rejected(
        &changed(&|o| o["spec"]["destinations"][0]["s3"]["bucket"] = json!("other-bucket")),
        Some(&old),
        "destination identities",
    );
    // What is not identity may change.
    let tuned = changed(&|o| {
        o["spec"]["diff"]["interval"] = json!("5s");
        o["spec"]["destinations"][0]["s3"]["region"] = json!("eu-central-1");
        o["spec"]["writer"]["terminationGracePeriodSeconds"] = json!(300);
    });
    assert_eq!(broken(&tuned, Some(&old)), Vec::<String>::new());
}

#[test]
fn storage_is_immutable() {
    let old = example("multi-format.yaml");
    let mut object = old.clone();
    object["spec"]["writer"]["storage"]["size"] = json!("100Gi");
    assert_rejected(&object, Some(&old), "writer.storage is immutable");
}

#[test]
fn names_leave_room_for_the_children() {
    let mut object = example("minimal-local.yaml");
    object["metadata"]["name"] = json!("x".repeat(46));
    assert_rejected(&object, None, "at most 45 characters");
}
