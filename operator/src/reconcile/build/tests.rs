use std::path::PathBuf;

use snapshot_contract::config::CredentialProfile;
use snapshot_contract::names::{CONFIG_PATH, HEALTH_LIVE_PATH, HEALTH_READY_PATH};

use super::*;
use crate::crd::WriterSpec;
use crate::fixtures::{local_table, s3_table, with_irsa, with_shared_claim};
use crate::reconcile::validate::validate;

fn settings() -> BuildSettings {
    BuildSettings {
        default_image: "snapshot-writer:test".into(),
    }
}

fn children(table: &SnapshotTable) -> Children {
    build(table, &validate(table).unwrap(), &settings()).unwrap()
}

fn pod_annotation(children: &Children) -> String {
    let template = &children.stateful_set.spec.as_ref().unwrap().template;
    template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap()[CONFIG_HASH_ANNOTATION]
        .clone()
}

#[test]
fn children_are_named_labelled_and_owned() {
    let table = local_table("orders");
    let built = children(&table);
    for meta in [
        &built.config_map.metadata,
        &built.service_account.as_ref().unwrap().metadata,
        &built.service.metadata,
        &built.stateful_set.metadata,
    ] {
        assert_eq!(meta.name.as_deref(), Some("orders-writer"));
        assert_eq!(meta.namespace.as_deref(), Some("default"));
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("SnapshotTable", "orders", "uid-orders")
        );
        assert_eq!(owner.controller, Some(true));
        let labels = meta.labels.as_ref().unwrap();
        assert_eq!(labels["app.kubernetes.io/managed-by"], "snapshot-operator");
        assert_eq!(labels[TABLE_LABEL], "orders");
    }
}

#[test]
fn the_writer_runs_as_one_hardened_replica() {
    let built = children(&local_table("orders"));
    let spec = built.stateful_set.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.service_name.as_deref(), Some("orders-writer"));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.termination_grace_period_seconds, Some(60));
    assert_eq!(pod.service_account_name.as_deref(), Some("orders-writer"));
    assert_eq!(pod.automount_service_account_token, Some(false));
    let pod_security = pod.security_context.as_ref().unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(
        pod_security.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    let container = &pod.containers[0];
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(
        security.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_owned()][..])
    );
    let requests = container
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap();
    assert!(requests.contains_key("cpu") && requests.contains_key("memory"));
    assert_eq!(container.image.as_deref(), Some("snapshot-writer:test"));
    assert_eq!(
        container.args.as_deref(),
        Some(&["--config".to_owned(), CONFIG_PATH.to_owned()][..])
    );
    let probe_path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref().unwrap().http_get.as_ref().unwrap().path.clone()
    };
    assert_eq!(
        probe_path(&container.readiness_probe).as_deref(),
        Some(HEALTH_READY_PATH)
    );
    assert_eq!(
        probe_path(&container.liveness_probe).as_deref(),
        Some(HEALTH_LIVE_PATH)
    );
    let mounts: Vec<(&str, &str)> = container
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.as_str(), m.mount_path.as_str()))
        .collect();
    assert_eq!(
        mounts,
        [
            ("tmp", "/tmp"),
            ("config", "/etc/snapshot-writer"),
            ("data", "/data")
        ]
    );
    let claim = &spec.volume_claim_templates.as_ref().unwrap()[0];
    let size = &claim
        .spec
        .as_ref()
        .unwrap()
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap()["storage"];
    assert_eq!(size.0, "10Gi");
}

#[test]
fn the_writer_shuts_down_before_the_pod_is_killed() {
    let built = children(&local_table("orders"));
    let config =
        snapshot_contract::parse_str(&built.config_map.data.as_ref().unwrap()[CONFIG_FILE_NAME])
            .unwrap();
    assert_eq!(
        config.shutdown.grace_period.0,
        std::time::Duration::from_secs(55)
    );
    assert_eq!(config.http.port, HTTP_PORT);
}

#[test]
fn an_irsa_profile_annotates_the_service_account_and_becomes_ambient() {
    let table = with_irsa(
        s3_table("orders", "bucket", "archive/"),
        "arn:aws:iam::123456789012:role/writer",
    );
    let built = children(&table);
    let account = built.service_account.as_ref().unwrap();
    assert_eq!(
        account.metadata.annotations.as_ref().unwrap()[IRSA_ANNOTATION],
        "arn:aws:iam::123456789012:role/writer"
    );
    let config =
        snapshot_contract::parse_str(&built.config_map.data.as_ref().unwrap()[CONFIG_FILE_NAME])
            .unwrap();
    assert_eq!(
        config.credentials["archive"],
        CredentialProfile::Ambient {
            region: Some("eu-west-1".into())
        }
    );
    assert!(
        children(&s3_table("orders", "bucket", "archive/"))
            .service_account
            .unwrap()
            .metadata
            .annotations
            .is_none()
    );
}

#[test]
fn a_role_or_config_change_rolls_the_pod_and_nothing_else_does() {
    let one = with_irsa(
        s3_table("orders", "bucket", "archive/"),
        "arn:aws:iam::123456789012:role/one",
    );
    let two = with_irsa(
        s3_table("orders", "bucket", "archive/"),
        "arn:aws:iam::123456789012:role/two",
    );
    assert_ne!(
        pod_annotation(&children(&one)),
        pod_annotation(&children(&two))
    );
    let mut interval = one.clone();
    interval.spec.diff = Some(crate::crd::DiffSpec {
        interval: Some("10s".into()),
    });
    assert_ne!(
        pod_annotation(&children(&one)),
        pod_annotation(&children(&interval))
    );
    let mut relabelled = one.clone();
    relabelled.metadata.labels = Some(BTreeMap::from([("team".into(), "data".into())]));
    relabelled.metadata.generation = Some(7);
    assert_eq!(
        pod_annotation(&children(&one)),
        pod_annotation(&children(&relabelled))
    );
    assert_eq!(children(&one).config_hash, pod_annotation(&children(&one)));
}

#[test]
fn a_suspended_table_asks_for_no_pod_and_keeps_its_config() {
    let running = local_table("orders");
    let mut suspended = running.clone();
    suspended.spec.suspend = Some(true);
    suspended.metadata.generation = Some(2);
    let (running, suspended) = (children(&running), children(&suspended));
    let replicas = |c: &Children| c.stateful_set.spec.as_ref().unwrap().replicas;
    assert_eq!(
        (replicas(&running), replicas(&suspended)),
        (Some(1), Some(0))
    );
    // Resuming starts the same writer (same config, same pod template):
    // it continues the chain where the final flush left it.
    assert_eq!(running.config_hash, suspended.config_hash);
    assert_eq!(running.config_map, suspended.config_map);
    assert_eq!(
        running.stateful_set.spec.as_ref().unwrap().template,
        suspended.stateful_set.spec.as_ref().unwrap().template
    );
}

#[test]
fn a_service_account_override_replaces_the_operators_one() {
    let mut table = s3_table("orders", "bucket", "archive/");
    table.spec.writer = Some(WriterSpec {
        service_account_name: Some("platform-writer".into()),
        ..WriterSpec::default()
    });
    let built = children(&table);
    assert!(built.service_account.is_none());
    let pod = built.stateful_set.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("platform-writer"));
}

#[test]
fn an_existing_claim_is_mounted_instead_of_a_claim_template() {
    let table = with_shared_claim(local_table("orders"), "shared");
    let spec = children(&table).stateful_set.spec.unwrap();
    assert!(spec.volume_claim_templates.is_none());
    let volumes = spec.template.spec.unwrap().volumes.unwrap();
    let data = volumes.iter().find(|v| v.name == "data").unwrap();
    assert_eq!(
        data.persistent_volume_claim.as_ref().unwrap().claim_name,
        "shared"
    );
}

#[test]
fn s3_only_tables_get_no_data_volume() {
    let spec = children(&s3_table("orders", "bucket", "archive/"))
        .stateful_set
        .spec
        .unwrap();
    assert!(spec.volume_claim_templates.is_none());
    let pod = spec.template.spec.unwrap();
    assert!(pod.volumes.unwrap().iter().all(|v| v.name != "data"));
}

/// The example resources shipped in `crds/examples/`.
pub(crate) fn examples() -> Vec<(PathBuf, SnapshotTable)> {
    let dir = crate::repository().join("crds/examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 3, "examples in {}", dir.display());
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut table: SnapshotTable =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            table.metadata.namespace = Some("default".into());
            table.metadata.uid = Some("uid".into());
            (path, table)
        })
        .collect()
}

#[test]
fn every_example_renders_a_config_the_writer_accepts() {
    for (path, table) in examples() {
        let validated = validate(&table).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let built = build(&table, &validated, &settings()).unwrap();
        let text = &built.config_map.data.as_ref().unwrap()[CONFIG_FILE_NAME];
        // The writer's own loader (the contract's), not a copy of it.
        let config = snapshot_contract::parse_str(text).unwrap_or_else(|e| {
            panic!(
                "{}: the writer rejects the rendered config: {e}\n{text}",
                path.display()
            )
        });
        assert_eq!(
            config,
            validated.config,
            "{}: read back as rendered",
            path.display()
        );
        let again = build(&table, &validate(&table).unwrap(), &settings()).unwrap();
        assert_eq!(
            (&again.config_map.data, &again.config_hash),
            (&built.config_map.data, &built.config_hash),
            "{}: an unchanged spec renders the same config and hash",
            path.display()
        );
        let rendered = &config.tables[0];
        assert_eq!(
            rendered.qualified_name(),
            table.qualified_table(),
            "{}",
            path.display()
        );
        assert_eq!(
            rendered.effective_key_prefix(),
            validated.key_prefix,
            "{}",
            path.display()
        );
        assert_eq!(
            rendered.destinations.len(),
            table.spec.destinations.len(),
            "{}",
            path.display()
        );
        assert_eq!(
            rendered.events.len(),
            table.spec.events.as_ref().map_or(0, Vec::len),
            "{}",
            path.display()
        );
        assert_eq!(
            config.credentials.len(),
            table.spec.credentials.as_ref().map_or(0, |c| c.len()),
            "{}",
            path.display()
        );
        assert_eq!(
            config.shutdown.grace_period.0.as_secs(),
            u64::try_from(validated.grace_period_seconds - 5).unwrap(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn every_spec_field_reaches_the_writer_config() {
    let (_, table) = examples()
        .into_iter()
        .find(|(p, _)| p.ends_with("s3-irsa-events.yaml"))
        .unwrap();
    let validated = validate(&table).unwrap();
    let text = build(&table, &validated, &settings())
        .unwrap()
        .config_map
        .data
        .unwrap()
        .remove(CONFIG_FILE_NAME)
        .unwrap();
    let config = snapshot_contract::parse_str(&text).unwrap();
    let rendered = &config.tables[0];
    assert_eq!(rendered.diff.interval.0, std::time::Duration::from_secs(15));
    assert_eq!(
        rendered.snapshot.min_interval.unwrap().0,
        std::time::Duration::from_secs(300)
    );
    assert_eq!(
        rendered.snapshot.max_interval.unwrap().0,
        std::time::Duration::from_secs(86_400)
    );
    assert_eq!(rendered.snapshot.max_diff_bytes.unwrap().0, 64 << 20);
    assert_eq!(rendered.snapshot.max_churn_fraction, Some(0.25));
    assert_eq!(rendered.retention.keep_epochs, Some(3));
    assert_eq!(
        rendered.source.filters[0].one_of,
        Some(vec![serde_json::json!("eu"), serde_json::json!("us")])
    );
    assert_eq!(
        config.credentials["notify"],
        CredentialProfile::AssumeRole {
            role_arn: "arn:aws:iam::210987654321:role/archive-notifications".into(),
            external_id: Some("laredo-archive".into()),
            session_name: Some("snapshot-writer-customers".into()),
            region: Some("eu-west-1".into()),
        }
    );
    assert_eq!(rendered.events[0].credentials(), Some("notify"));
    assert_eq!(rendered.destinations[0].credentials(), Some("archive"));
}
