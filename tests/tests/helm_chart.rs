//! The Helm chart: `helm lint` and `helm template` succeed with the default
//! values and with every feature on, and every rendered document parses as
//! its Kubernetes type without losing a field (a misspelled key fails).
//!
//! helm comes from `$HELM`, else `$LAREDO_TOOLS_DIR/bin/helm` (default
//! `~/.cache/laredo-tools`), else `PATH`; `.ci/tools/helm.sh` installs it.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use e2e_tests::repository;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn chart() -> PathBuf {
    repository().join("charts/snapshot-operator")
}

fn helm() -> PathBuf {
    e2e_tests::tool("helm").unwrap_or_else(|| {
        panic!(
            "helm not found ($HELM, $LAREDO_TOOLS_DIR/bin/helm, PATH): run `bash .ci/tools/helm.sh` to install it"
        )
    })
}

fn run_helm(args: &[&str]) -> String {
    let output = Command::new(helm())
        .args(args)
        .current_dir(repository())
        .output()
        .expect("helm runs");
    assert!(
        output.status.success(),
        "helm {} failed:\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("helm prints UTF-8")
}

const ALL_FEATURES: &str = "charts/snapshot-operator/ci/all-features-values.yaml";

fn template(extra: &[&str]) -> Vec<Value> {
    let chart = chart();
    let mut args = vec![
        "template",
        "release",
        chart.to_str().unwrap(),
        "--namespace",
        "ops",
    ];
    args.extend_from_slice(extra);
    let text = run_helm(&args);
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).expect("helm renders YAML"))
        .filter(|value| !value.is_null())
        .collect()
}

/// Parses `document` as `K` and checks nothing was dropped on the way.
fn round_trips<K: DeserializeOwned + Serialize>(document: &Value) {
    let typed: K = serde_json::from_value(document.clone())
        .unwrap_or_else(|e| panic!("{} {}: {e}", document["kind"], document["metadata"]["name"]));
    let again = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &again, document,
        "fields lost parsing {} {}",
        document["kind"], document["metadata"]["name"]
    );
}

/// Checks every document and returns their kinds.
fn check_documents(documents: &[Value]) -> Vec<String> {
    let mut kinds = Vec::new();
    for document in documents {
        let kind = document["kind"]
            .as_str()
            .expect("every document has a kind");
        let api_version = document["apiVersion"]
            .as_str()
            .expect("every document has an apiVersion");
        match (api_version, kind) {
            ("apps/v1", "Deployment") => round_trips::<Deployment>(document),
            ("v1", "ServiceAccount") => round_trips::<ServiceAccount>(document),
            ("v1", "Service") => round_trips::<Service>(document),
            ("v1", "ConfigMap") => round_trips::<ConfigMap>(document),
            ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trips::<ClusterRole>(document),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
                round_trips::<ClusterRoleBinding>(document)
            }
            ("rbac.authorization.k8s.io/v1", "Role") => round_trips::<Role>(document),
            ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trips::<RoleBinding>(document),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
                round_trips::<CustomResourceDefinition>(document)
            }
            ("monitoring.coreos.com/v1", "PrometheusRule") => {
                // Checked in depth (promtool) by tests/tests/alert_rules.rs.
                assert!(document["spec"]["groups"].is_array(), "{document}");
            }
            ("monitoring.coreos.com/v1", "ServiceMonitor" | "PodMonitor") => {
                assert!(document["metadata"]["name"].is_string());
                assert!(
                    document["spec"]["selector"]["matchLabels"].is_object(),
                    "{document}"
                );
            }
            other => panic!("unexpected document {other:?}"),
        }
        kinds.push(kind.to_owned());
    }
    kinds.sort();
    kinds
}

#[test]
fn helm_lint_passes_with_default_and_all_feature_values() {
    let chart = chart();
    run_helm(&["lint", "--strict", chart.to_str().unwrap()]);
    run_helm(&[
        "lint",
        "--strict",
        chart.to_str().unwrap(),
        "-f",
        ALL_FEATURES,
    ]);
}

#[test]
fn the_default_render_is_valid_kubernetes() {
    let kinds = check_documents(&template(&[]));
    assert_eq!(
        kinds,
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "Deployment",
            "Service",
            "ServiceAccount"
        ]
    );
}

#[test]
fn the_all_features_render_is_valid_kubernetes() {
    let documents = template(&["-f", ALL_FEATURES]);
    let kinds = check_documents(&documents);
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "CustomResourceDefinition",
            "Deployment",
            "PodMonitor",
            "PrometheusRule",
            "Role",
            "Role",
            "RoleBinding",
            "RoleBinding",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
        ]
    );
    let deployment = documents
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let value = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    assert_eq!(
        value("SNAPSHOT_OPERATOR_LEADER_ELECTION"),
        Some("true".into())
    );
    assert_eq!(value("SNAPSHOT_OPERATOR_NAMESPACE"), Some("data".into()));
    let role = documents
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == "data")
        .unwrap();
    assert!(
        role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resources"][0] == "snapshottables")
    );
}

#[test]
fn the_chart_installs_the_generated_crd_and_keeps_it() {
    let documents = template(&[]);
    let rendered = documents
        .iter()
        .find(|d| d["kind"] == "CustomResourceDefinition")
        .unwrap();
    assert_eq!(
        rendered["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    let committed: Value = serde_yaml::from_str(
        &std::fs::read_to_string(repository().join("crds/snapshottable.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(rendered["spec"], committed["spec"]);
    let without = template(&["--set", "crds.install=false"]);
    assert!(
        without
            .iter()
            .all(|d| d["kind"] != "CustomResourceDefinition")
    );
}

#[test]
fn more_than_one_replica_needs_leader_election() {
    let chart = chart();
    let output = Command::new(helm())
        .args([
            "template",
            "release",
            chart.to_str().unwrap(),
            "--set",
            "replicaCount=2",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs leaderElection.enabled"));
}

#[test]
fn every_rbac_rule_says_why_it_exists() {
    let text = std::fs::read_to_string(chart().join("templates/rbac.yaml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, _) in lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("- apiGroups:"))
    {
        assert!(
            i > 0 && lines[i - 1].trim_start().starts_with('#'),
            "rule at templates/rbac.yaml:{} has no comment",
            i + 1
        );
    }
    assert!(!text.contains("\"*\""), "no wildcards");
}

#[test]
fn the_dashboard_covers_the_writer_and_operator_metrics() {
    let documents = template(&["--set", "dashboard.enabled=true"]);
    let config_map = documents.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard"], "1");
    let dashboard: Value = serde_json::from_str(
        config_map["data"]["snapshot-writers.json"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let expressions: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    let writer_metrics = snapshot_writer::metrics::DESIGNED_METRICS;
    for metric in writer_metrics.iter().copied().chain([
        "snapshot_operator_reconciles_total",
        "snapshot_operator_reconcile_errors_total",
        "snapshot_operator_reconcile_duration_seconds_bucket",
        "snapshot_operator_table_stale",
        "snapshot_operator_table_suspended",
    ]) {
        assert!(
            expressions
                .iter()
                .any(|e| e.contains(&format!("{metric}{{")) || e.contains(&format!("{metric}["))),
            "no panel shows {metric}"
        );
    }
    for (metric, label) in [
        ("snapshotter_artifacts_written_total", "kind"),
        ("snapshotter_destination_errors_total", "dest"),
        ("snapshotter_event_errors_total", "sink"),
    ] {
        let expression = expressions.iter().find(|e| e.contains(metric)).unwrap();
        assert!(
            expression.contains(&format!("by (table, {label})")),
            "{expression}"
        );
    }
    // The alert states: pending and firing, each alert by table.
    let alerts = expressions
        .iter()
        .find(|e| e.contains("ALERTS{"))
        .expect("a panel of the alerts");
    assert!(
        alerts.contains("by (alertname, alertstate, table)") && !alerts.contains("alertstate="),
        "{alerts}"
    );
}
