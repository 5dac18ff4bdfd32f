//! The chart's alert rules (`templates/prometheusrule.yaml`): the rendered
//! rule passes `promtool check rules`, and `promtool test rules` feeds every
//! alert synthetic series (`tests/alerts/snapshot-writers.test.yaml`, one case
//! per alert where it fires and one where it must not). Every alert names a
//! runbook entry the README has, and the values shape the rule.
//!
//! helm comes from `$HELM`, else `$LAREDO_TOOLS_DIR/bin/helm` (default
//! `~/.cache/laredo-tools`), else `PATH` (`.ci/tools/helm.sh` installs it);
//! promtool from `$PROMTOOL`, else `$LAREDO_TOOLS_DIR/bin/promtool`, else `PATH`
//! (`.ci/tools/promtool.sh` installs it). Without them a test prints SKIPPED,
//! except under `CI=true`, where a missing tool fails it.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_tests::repository;

use serde::Deserialize;
use serde_json::Value;

/// The release the unit tests' series assume (the writers' PodMonitor job is
/// `ops/release-snapshot-operator-writers`).
const RELEASE: &str = "release";
const NAMESPACE: &str = "ops";
const UNIT_TESTS: &str = "tests/alerts/snapshot-writers.test.yaml";

fn chart() -> PathBuf {
    repository().join("charts/snapshot-operator")
}

/// The tool, or `None` after printing SKIPPED (a failure under `CI=true`).
fn tool(name: &str, variable: &str, installer: &str, test: &str) -> Option<PathBuf> {
    let found = e2e_tests::tool(name);
    if found.is_none() {
        assert!(
            !e2e_tests::required(),
            "{name} not found (${variable}, $LAREDO_TOOLS_DIR/bin, PATH) and CI=true: run `bash {installer}`"
        );
        eprintln!("SKIPPED {test}: {name} not found; run `bash {installer}`");
    }
    found
}

fn helm(test: &str) -> Option<PathBuf> {
    tool("helm", "HELM", ".ci/tools/helm.sh", test)
}

fn promtool(test: &str) -> Option<PathBuf> {
    tool("promtool", "PROMTOOL", ".ci/tools/promtool.sh", test)
}

fn run(program: &Path, args: &[&str], dir: &Path) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{} {} failed:\n{text}",
            program.display(),
            args.join(" ")
        ))
    }
}

/// `helm template` of the chart with the rule on (and the writers'
/// PodMonitor, which adds the scrape-failure branch) plus `extra`: the rendered
/// PrometheusRule documents.
fn render(helm: &Path, extra: &[&str]) -> Result<Vec<Value>, String> {
    let chart = chart();
    let mut args = vec![
        "template",
        RELEASE,
        chart.to_str().unwrap(),
        "--namespace",
        NAMESPACE,
        "--set",
        "metrics.prometheusRule.enabled=true",
        "--set",
        "metrics.podMonitor.enabled=true",
    ];
    args.extend_from_slice(extra);
    let text = run(helm, &args, &repository())?;
    Ok(documents(&text)
        .into_iter()
        .filter(|d| d["kind"] == "PrometheusRule")
        .collect())
}

fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).expect("helm renders YAML"))
        .filter(|value| !value.is_null())
        .collect()
}

fn the_rule(helm: &Path, extra: &[&str]) -> Value {
    let mut rules = render(helm, extra).unwrap();
    assert_eq!(rules.len(), 1, "one PrometheusRule");
    rules.pop().unwrap()
}

/// Every alerting rule of the PrometheusRule.
fn alerts(rule: &Value) -> Vec<Value> {
    rule["spec"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .filter(|r| r["alert"].is_string())
        .collect()
}

fn alert_names(rule: &Value) -> BTreeSet<String> {
    alerts(rule)
        .iter()
        .map(|a| a["alert"].as_str().unwrap().to_owned())
        .collect()
}

/// GitHub's anchor of a Markdown heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn the_rendered_rule_passes_promtool_check_and_its_unit_tests() {
    let test = "the_rendered_rule_passes_promtool_check_and_its_unit_tests";
    let (Some(helm), Some(promtool)) = (helm(test), promtool(test)) else {
        return;
    };
    let rule = the_rule(&helm, &[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yaml"),
        serde_yaml::to_string(&rule["spec"]).unwrap(),
    )
    .unwrap();
    std::fs::copy(
        repository().join(UNIT_TESTS),
        dir.path().join("snapshot-writers.test.yaml"),
    )
    .unwrap();
    let checked = run(&promtool, &["check", "rules", "rules.yaml"], dir.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let count = alerts(&rule).len();
    assert!(
        checked.contains(&format!("SUCCESS: {count} rules found")),
        "{checked}"
    );
    run(
        &promtool,
        &["test", "rules", "snapshot-writers.test.yaml"],
        dir.path(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn every_alert_has_firing_and_quiet_unit_tests_and_a_runbook_entry() {
    let Some(helm) = helm("every_alert_has_firing_and_quiet_unit_tests_and_a_runbook_entry") else {
        return;
    };
    let rule = the_rule(&helm, &[]);
    let names = alert_names(&rule);
    assert_eq!(
        names,
        [
            "SnapshotBufferGrowing",
            "SnapshotDestinationErrors",
            "SnapshotDiffChainTooLong",
            "SnapshotEventSinkErrors",
            "SnapshotHeadStale",
            "SnapshotManifestConflicts",
            "SnapshotWriterFenced",
            "SnapshotWriterNotReady",
        ]
        .map(String::from)
        .into(),
    );

    // The unit tests: for each alert, a case where it fires and one where it does not.
    let unit_tests: Value =
        serde_yaml::from_str(&std::fs::read_to_string(repository().join(UNIT_TESTS)).unwrap())
            .unwrap();
    let cases: Vec<&Value> = unit_tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().unwrap())
        .collect();
    for name in &names {
        let mine = || cases.iter().filter(|c| c["alertname"] == name.as_str());
        assert!(
            mine().any(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty())),
            "no unit test in {UNIT_TESTS} where {name} fires"
        );
        assert!(
            mine().any(|c| c["exp_alerts"].as_array().is_some_and(Vec::is_empty)),
            "no unit test in {UNIT_TESTS} where {name} stays quiet"
        );
    }

    // Labels and annotations; the runbook entry exists under the README's runbook section.
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let section = readme
        .split_once("\n### Alerts and runbook\n")
        .expect("README has an \"Alerts and runbook\" section")
        .1;
    let section = section.split("\n## ").next().unwrap();
    let section = section.split("\n### ").next().unwrap();
    let entries: Vec<(String, String)> = section
        .lines()
        .filter_map(|l| l.strip_prefix("#### "))
        .map(|heading| (heading.to_owned(), anchor(heading)))
        .collect();
    for alert in alerts(&rule) {
        let name = alert["alert"].as_str().unwrap();
        let severity = alert["labels"]["severity"].as_str().unwrap_or_default();
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{name}: severity {severity:?}"
        );
        let annotations = &alert["annotations"];
        for key in ["summary", "description", "runbook", "runbook_url"] {
            assert!(
                annotations[key]
                    .as_str()
                    .is_some_and(|v| !v.trim().is_empty()),
                "{name} has no {key} annotation"
            );
        }
        let incident = annotations["runbook"].as_str().unwrap();
        let url = annotations["runbook_url"].as_str().unwrap();
        let (_, fragment) = url
            .split_once('#')
            .unwrap_or_else(|| panic!("{name}: runbook_url {url} has no #anchor"));
        let (heading, _) = entries
            .iter()
            .find(|(_, a)| a == fragment)
            .unwrap_or_else(|| {
                panic!("{name}: the README's runbook has no heading for #{fragment}: {entries:?}")
            });
        assert_eq!(heading, incident, "{name}: runbook annotation vs heading");
        let body = section
            .split_once(&format!("#### {heading}\n"))
            .unwrap()
            .1
            .split("\n#### ")
            .next()
            .unwrap();
        assert!(
            body.contains(name),
            "the runbook entry {heading:?} does not name {name}"
        );
        for part in ["Symptom", "Cause", "Action"] {
            assert!(
                body.contains(&format!("**{part}")),
                "the runbook entry {heading:?} has no {part}"
            );
        }
    }
}

#[test]
fn the_rule_is_off_by_default_and_follows_its_values() {
    let Some(helm) = helm("the_rule_is_off_by_default_and_follows_its_values") else {
        return;
    };
    let chart = chart();
    let default = run(
        &helm,
        &["template", RELEASE, chart.to_str().unwrap()],
        &repository(),
    )
    .unwrap();
    assert!(
        documents(&default)
            .iter()
            .all(|d| d["kind"] != "PrometheusRule")
    );

    let rule = the_rule(
        &helm,
        &[
            "--set",
            "metrics.prometheusRule.namespace=monitoring",
            "--set",
            "metrics.prometheusRule.labels.release=prometheus",
            "--set",
            "metrics.prometheusRule.additionalRuleLabels.team=data",
            "--set-string",
            "metrics.prometheusRule.selector=namespace=\"data\"",
            "--set",
            "metrics.prometheusRule.runbookUrl=https://runbooks.example.com/snapshots",
            "--set",
            "metrics.prometheusRule.alerts.headStale.staleAfter=2h",
            "--set",
            "metrics.prometheusRule.alerts.diffChainTooLong.maxDiffs=250",
            "--set",
            "metrics.prometheusRule.alerts.eventSinkErrors.enabled=false",
        ],
    );
    assert_eq!(rule["metadata"]["namespace"], "monitoring");
    assert_eq!(rule["metadata"]["labels"]["release"], "prometheus");
    let names = alert_names(&rule);
    assert!(!names.contains("SnapshotEventSinkErrors"), "{names:?}");
    assert_eq!(names.len(), 7, "{names:?}");
    for alert in alerts(&rule) {
        let name = alert["alert"].as_str().unwrap();
        assert_eq!(alert["labels"]["team"], "data", "{name}");
        let expr = alert["expr"].as_str().unwrap();
        // Every writer series carries the selector.
        let selected = expr.matches("{namespace=\"data\"}").count()
            + expr.matches(",namespace=\"data\"}").count();
        assert_eq!(
            selected,
            expr.matches("snapshotter_").count() + expr.matches("up{").count(),
            "{name}: {expr}"
        );
        assert!(
            alert["annotations"]["runbook_url"]
                .as_str()
                .unwrap()
                .starts_with("https://runbooks.example.com/snapshots#"),
            "{name}"
        );
        match name {
            "SnapshotHeadStale" => assert!(expr.contains("> 7200"), "{expr}"),
            "SnapshotDiffChainTooLong" => assert!(expr.contains("> 250"), "{expr}"),
            _ => {}
        }
    }

    // staleAfter as plain seconds; a malformed one fails the render.
    let seconds = the_rule(
        &helm,
        &[
            "--set",
            "metrics.prometheusRule.alerts.headStale.staleAfter=600",
        ],
    );
    let stale = alerts(&seconds)
        .into_iter()
        .find(|a| a["alert"] == "SnapshotHeadStale")
        .unwrap();
    assert!(stale["expr"].as_str().unwrap().contains("> 600"), "{stale}");
    let error = render(
        &helm,
        &[
            "--set",
            "metrics.prometheusRule.alerts.headStale.staleAfter=ten minutes",
        ],
    )
    .unwrap_err();
    assert!(error.contains("staleAfter"), "{error}");
}
