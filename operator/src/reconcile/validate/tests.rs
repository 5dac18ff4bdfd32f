use std::collections::BTreeMap;

use super::*;
use crate::crd::{AssumeRoleProfile, LocalDestination, SnapshotPolicySpec, WriterSpec};
use crate::crd::{CredentialProfileSpec, DestinationSpec};
use crate::fixtures::{irsa_profile, local_table, s3_table, with_shared_claim};

fn paths(error: &InvalidSpec) -> Vec<&str> {
    error.0.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn a_minimal_spec_gets_the_defaults() {
    let validated = validate(&local_table("orders")).unwrap();
    assert_eq!(validated.table, "public.orders");
    assert_eq!(validated.key_prefix, "orders/");
    assert_eq!(validated.irsa, None);
    assert_eq!(validated.grace_period_seconds, 60);
    assert_eq!(
        validated.config.shutdown.grace_period.0,
        Duration::from_secs(55)
    );
    assert_eq!(
        validated.data_volume,
        Some(DataVolume {
            mount_path: "/data".into(),
            size: "10Gi".into(),
            storage_class_name: None,
            existing_claim: None
        })
    );
    assert!(
        validated.locations.is_empty(),
        "a private volume conflicts with nobody"
    );
}

#[test]
fn every_problem_is_listed_with_its_path() {
    let mut table = s3_table("orders", "bucket", "p/");
    table.spec.snapshot = Some(SnapshotPolicySpec {
        min_interval: Some("10 minutes".into()),
        max_diff_bytes: Some("32 megabytes".into()),
        max_churn_fraction: Some(-1.0),
        ..SnapshotPolicySpec::default()
    });
    table.spec.destinations[0].s3.as_mut().unwrap().credentials = Some("missing".into());
    table.spec.source.heartbeat_timeout = Some("0".into());
    let error = validate(&table).unwrap_err();
    assert_eq!(
        paths(&error),
        [
            "spec.snapshot.minInterval",
            "spec.snapshot.maxDiffBytes",
            "spec.source.heartbeatTimeout",
            "spec.snapshot.maxChurnFraction",
            "spec.destinations[0].s3.credentials",
        ]
    );
    let text = error.to_string();
    assert!(
        text.contains(r#"spec.snapshot.minInterval: invalid duration "10 minutes""#),
        "{text}"
    );
    assert!(
        text.contains(r#"is not defined: "missing" (defined: none)"#),
        "{text}"
    );
}

#[test]
fn at_most_one_irsa_profile() {
    let mut table = s3_table("orders", "bucket", "p/");
    table.spec.credentials = Some(BTreeMap::from([
        ("a".into(), irsa_profile("arn:aws:iam::123456789012:role/a")),
        ("b".into(), irsa_profile("arn:aws:iam::123456789012:role/b")),
    ]));
    let error = validate(&table).unwrap_err();
    assert_eq!(paths(&error), ["spec.credentials"]);
    assert!(
        error.to_string().contains("at most one irsa profile"),
        "{error}"
    );
    assert!(error.to_string().contains("found a, b"), "{error}");
}

#[test]
fn the_irsa_role_is_extracted_and_checked() {
    let mut table = s3_table("orders", "bucket", "p/");
    table.spec.credentials = Some(BTreeMap::from([(
        "archive".into(),
        irsa_profile("arn:aws:iam::123456789012:role/writer"),
    )]));
    let validated = validate(&table).unwrap();
    assert_eq!(
        validated.irsa,
        Some(IrsaRole {
            profile: "archive".into(),
            role_arn: "arn:aws:iam::123456789012:role/writer".into()
        })
    );
    table.spec.credentials = Some(BTreeMap::from([(
        "archive".into(),
        irsa_profile("arn:aws:s3:::bucket"),
    )]));
    assert_eq!(
        paths(&validate(&table).unwrap_err()),
        ["spec.credentials.archive.irsa.roleArn"]
    );
}

#[test]
fn irsa_needs_the_operators_service_account() {
    let mut table = s3_table("orders", "bucket", "p/");
    table.spec.credentials = Some(BTreeMap::from([(
        "archive".into(),
        irsa_profile("arn:aws:iam::123456789012:role/w"),
    )]));
    table.spec.writer = Some(WriterSpec {
        service_account_name: Some("mine".into()),
        ..WriterSpec::default()
    });
    let error = validate(&table).unwrap_err();
    assert_eq!(paths(&error), ["spec.credentials.archive.irsa"]);
    assert!(
        error
            .to_string()
            .contains(r#"writer.serviceAccountName is "mine""#),
        "{error}"
    );
}

#[test]
fn a_profile_needs_exactly_one_kind() {
    let mut table = s3_table("orders", "bucket", "p/");
    let mut both = irsa_profile("arn:aws:iam::123456789012:role/w");
    both.assume_role = Some(AssumeRoleProfile {
        role_arn: "arn:aws:iam::123456789012:role/x".into(),
        external_id: None,
        session_name: None,
        region: None,
    });
    let none = CredentialProfileSpec {
        irsa: None,
        assume_role: None,
        ambient: None,
    };
    table.spec.credentials = Some(BTreeMap::from([
        ("both".into(), both),
        ("none".into(), none),
    ]));
    assert_eq!(
        paths(&validate(&table).unwrap_err()),
        ["spec.credentials.both", "spec.credentials.none"]
    );
}

#[test]
fn local_paths_must_lie_on_the_data_volume() {
    let mut table = local_table("orders");
    for path in ["/elsewhere/archive", "/data/../etc", "/database"] {
        table.spec.destinations[0].local = Some(LocalDestination { path: path.into() });
        assert_eq!(
            paths(&validate(&table).unwrap_err()),
            ["spec.destinations[0].local.path"],
            "{path}"
        );
    }
    table.spec.destinations[0].local = Some(LocalDestination {
        path: "/data".into(),
    });
    assert!(validate(&table).is_ok());
}

#[test]
fn a_shared_claim_is_a_location_others_can_conflict_on() {
    let table = with_shared_claim(local_table("orders"), "shared");
    assert_eq!(
        validate(&table).unwrap().locations,
        ["pvc://default/shared/archive/orders/"]
    );
}

#[test]
fn s3_locations_follow_the_writers_notion_of_a_place() {
    let mut table = s3_table("orders", "bucket", "archive/");
    table.spec.key_prefix = Some("o/".into());
    assert_eq!(
        validate(&table).unwrap().locations,
        ["s3://aws/bucket/archive/o/manifest.json"]
    );
    // Spellings of one place are one location, as the writer sees them.
    table.spec.key_prefix = Some("./o//".into());
    table.spec.destinations[0].s3.as_mut().unwrap().endpoint = Some("http://Minio:9000/".into());
    assert_eq!(
        validate(&table).unwrap().locations,
        ["s3://http://minio:9000/bucket/archive/o/manifest.json"]
    );
}

#[test]
fn one_resource_cannot_write_a_location_twice() {
    let mut table = s3_table("orders", "bucket", "archive/");
    let again = table.spec.destinations[0].clone();
    table.spec.destinations.push(again);
    assert_eq!(
        paths(&validate(&table).unwrap_err()),
        ["spec.destinations[1]"]
    );
}

#[test]
fn a_destination_needs_exactly_one_kind() {
    let mut table = s3_table("orders", "bucket", "archive/");
    table.spec.destinations[0].local = Some(LocalDestination {
        path: "/data/x".into(),
    });
    assert_eq!(
        paths(&validate(&table).unwrap_err()),
        ["spec.destinations[0]"]
    );
    table.spec.destinations[0] = DestinationSpec {
        local: None,
        s3: None,
    };
    assert_eq!(
        paths(&validate(&table).unwrap_err()),
        ["spec.destinations[0]"]
    );
}

#[test]
fn the_grace_period_leaves_the_writer_time_to_flush() {
    let mut table = s3_table("orders", "bucket", "archive/");
    table.spec.writer = Some(WriterSpec {
        termination_grace_period_seconds: Some(120),
        ..WriterSpec::default()
    });
    let validated = validate(&table).unwrap();
    assert_eq!(
        (
            validated.grace_period_seconds,
            validated.config.shutdown.grace_period.0
        ),
        (120, Duration::from_secs(115))
    );
    table.spec.writer = Some(WriterSpec {
        termination_grace_period_seconds: Some(3),
        ..WriterSpec::default()
    });
    assert_eq!(
        paths(&validate(&table).unwrap_err()),
        ["spec.writer.terminationGracePeriodSeconds"]
    );
}

#[test]
fn long_names_are_rejected() {
    let table = s3_table(&"x".repeat(46), "bucket", "archive/");
    assert_eq!(paths(&validate(&table).unwrap_err()), ["metadata.name"]);
}

#[test]
fn filters_need_one_scalar_predicate() {
    let mut table = s3_table("orders", "bucket", "archive/");
    table.spec.source.filters = Some(vec![
        crate::crd::FilterSpec {
            field: "a".into(),
            equals: Some(serde_json::json!({"x": 1})),
            prefix: None,
            one_of: None,
        },
        crate::crd::FilterSpec {
            field: "b".into(),
            equals: None,
            prefix: Some("p".into()),
            one_of: Some(vec![]),
        },
        crate::crd::FilterSpec {
            field: "c".into(),
            equals: None,
            prefix: None,
            one_of: Some(vec![serde_json::json!(1), serde_json::json!("x")]),
        },
    ]);
    assert_eq!(
        paths(&validate(&table).unwrap_err()),
        [
            "spec.source.filters[0].equals",
            "spec.source.filters[1].in",
            "spec.source.filters[1]",
        ]
    );
}

#[test]
fn parquet_is_a_format_and_its_diffs_need_its_snapshots_at_the_spec_path() {
    use crate::crd::{Format, FormatsSpec};
    use snapshot_contract::config::Format as Written;
    let mut table = local_table("orders");
    table.spec.formats = Some(FormatsSpec {
        snapshot: Some(vec![Format::Jsonl, Format::Parquet]),
        diff: Some(vec![Format::Parquet]),
    });
    let validated = validate(&table).unwrap();
    let formats = &validated.config.tables[0].formats;
    assert_eq!(formats.snapshot, [Written::Jsonl, Written::Parquet]);
    assert_eq!(formats.diff, [Written::Parquet]);

    table.spec.formats = Some(FormatsSpec {
        snapshot: Some(vec![Format::Jsonl]),
        diff: Some(vec![Format::Parquet]),
    });
    let error = validate(&table).unwrap_err();
    assert_eq!(paths(&error), ["spec.formats.diff"]);
    assert!(
        error
            .to_string()
            .contains("parquet diffs need parquet snapshots"),
        "{error}"
    );
}
