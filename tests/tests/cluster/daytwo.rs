//! Day two of a table: suspend and resume it, and see its head go stale
//! and fresh again. The test plays the kubelet: it runs the writer as a
//! local process from the config the operator rendered while the
//! StatefulSet asks for a pod, and sends it SIGTERM (as the kubelet does)
//! once the StatefulSet asks for none.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value;
use snapshot_operator::crd::{DiffSpec, SnapshotTable, SnapshotTableStatus};

use super::kit::{MANAGER, Operator, TestNamespace, free_port, impersonating, kubectl, wait_for};
use super::local::{Sim, Writer, writer_config};
use super::story::{example, install_chart};

/// Suspend: the writer's final diff is committed, the StatefulSet has no
/// replica, the status says `suspended`; resume: the writer continues the
/// same epoch, and its next commit chains onto the final diff.
pub async fn suspend_and_resume(client: Client) {
    let namespace = TestNamespace::create(&client, "suspend").await;
    let ns = namespace.name.as_str();
    let release = install_chart(&client, ns).await;
    let sim = Sim::start().await;
    let writer_port = free_port();
    let operator = Operator::start(
        impersonating(ns, &release).await,
        ns,
        &format!("http://127.0.0.1:{writer_port}"),
    );
    let tables: Api<SnapshotTable> = Api::namespaced(client.clone(), ns);
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    // Diffs only when the writer stops: every change the simulator sends
    // stays buffered, so the final flush always has one to commit.
    let mut table = example(ns, "orders", sim.port);
    table.spec.diff = Some(DiffSpec {
        interval: Some("1h".into()),
    });
    apply(&tables, &table).await;

    let archive = tempfile::tempdir().unwrap();
    let config = writer_config(&client, ns, "orders", writer_port, archive.path()).await;
    let mut writer = Writer::start(&config, writer_port);
    let ready = wait_for_status("Ready", &tables, "orders", |s| {
        s.is_true("Ready").then_some(())
    })
    .await;
    let epoch = ready.epoch.unwrap();
    wait_for("changes buffered in the writer", || {
        let writer = &writer;
        async move { (writer.status().await?.buffer_depth > 0).then_some(()) }
    })
    .await;

    // Suspend: the StatefulSet asks for no pod; the "kubelet" stops it.
    table.spec.suspend = Some(true);
    apply(&tables, &table).await;
    wait_for("the StatefulSet at zero replicas", || {
        let sets = stateful_sets.clone();
        async move {
            let set = sets.get("orders-writer").await.ok()?;
            (set.spec?.replicas == Some(0)).then_some(())
        }
    })
    .await;
    let received = writer.status().await.expect("the writer's status").source;
    writer.terminate().await;
    let manifest = read_manifest(archive.path());
    let last = manifest["artifacts"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["kind"], "diff",
        "the final flush committed a diff: {last}"
    );
    assert_eq!(last["epoch"], epoch, "in the same epoch");
    assert!(
        manifest["source"]["sequence"].as_i64().unwrap() >= received.sequence,
        "the final diff holds every change received before SIGTERM: {} < {}",
        manifest["source"],
        received.sequence
    );
    let suspended = wait_for_status("suspended", &tables, "orders", |s| {
        (s.state.as_deref() == Some("suspended")).then_some(())
    })
    .await;
    let ready = suspended.condition("Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Suspended")
    );
    assert_eq!(suspended.epoch, Some(epoch));
    for condition in &suspended.conditions {
        assert!(!condition.message.is_empty(), "{condition:?}");
    }
    let columns = kubectl(&["get", "st", "orders", "-n", ns]).await.unwrap();
    assert!(
        columns.contains("SUSPENDED") && columns.contains("true"),
        "{columns}"
    );

    // Resume: a pod again; the writer, started as before, continues the
    // chain in the same epoch.
    table.spec.suspend = Some(false);
    apply(&tables, &table).await;
    wait_for("the StatefulSet back at one replica", || {
        let sets = stateful_sets.clone();
        async move {
            let set = sets.get("orders-writer").await.ok()?;
            (set.spec?.replicas == Some(1)).then_some(())
        }
    })
    .await;
    let mut writer = Writer::start(&config, writer_port);
    let resumed = wait_for_status("Ready after the resume", &tables, "orders", |s| {
        (s.is_true("Ready") && s.state.as_deref() == Some("live")).then_some(())
    })
    .await;
    assert_eq!(resumed.epoch, Some(epoch), "the same epoch continues");
    wait_for("changes buffered after the resume", || {
        let writer = &writer;
        async move { (writer.status().await?.buffer_depth > 0).then_some(()) }
    })
    .await;
    writer.terminate().await;
    let manifest = read_manifest(archive.path());
    let artifacts = manifest["artifacts"].as_array().unwrap();
    let (before, after) = (
        &artifacts[artifacts.len() - 2],
        &artifacts[artifacts.len() - 1],
    );
    assert_eq!(
        before["id"], last["id"],
        "nothing was committed while suspended"
    );
    assert_eq!(
        (&after["kind"], &after["epoch"]),
        (&"diff".into(), &epoch.into())
    );
    assert!(after["from_position"].is_string(), "{after}");
    assert_eq!(
        after["from_position"], before["to_position"],
        "the diff after the resume chains onto the final one"
    );

    assert_events(&client, ns, &["Suspending", "Suspended", "Resumed"]).await;
    operator.stop().await;
    drop(namespace);
}

/// A writer whose destination fails while changes stream in: `Stale=True`
/// within `staleAfter` of its last commit, with a Warning Event; the
/// destination back, the next commit clears it (`Fresh`). `kubectl get -o
/// wide` and `kubectl describe` show the freshness fields.
pub async fn stale_and_fresh(client: Client) {
    let namespace = TestNamespace::create(&client, "stale").await;
    let ns = namespace.name.as_str();
    let sim = Sim::start().await;
    let writer_port = free_port();
    let operator = Operator::start(
        client.clone(),
        ns,
        &format!("http://127.0.0.1:{writer_port}"),
    );
    let tables: Api<SnapshotTable> = Api::namespaced(client.clone(), ns);
    let stale_after = Duration::from_secs(4);
    let mut table = example(ns, "orders", sim.port);
    table.spec.diff = Some(DiffSpec {
        interval: Some("1s".into()),
    });
    table.spec.stale_after = Some("4s".into());
    apply(&tables, &table).await;
    let dir = tempfile::tempdir().unwrap();
    let config = writer_config(&client, ns, "orders", writer_port, dir.path()).await;
    let _writer = Writer::start(&config, writer_port);
    wait_for_status(
        "Ready, committing diffs, not stale",
        &tables,
        "orders",
        |s| (s.is_true("Ready") && is_fresh(s) && s.last_diff.is_some()).then_some(()),
    )
    .await;

    // The destination fails: its directory becomes a file. Changes keep
    // coming and stay buffered; nothing commits.
    let archive = dir.path().join("archive");
    let away = dir.path().join("archive.away");
    std::fs::rename(&archive, &away).unwrap();
    std::fs::write(&archive, b"not a directory").unwrap();
    let stale = wait_for_status("Stale=True", &tables, "orders", |s| {
        s.is_true("Stale").then_some(())
    })
    .await;
    let condition = stale.condition("Stale").unwrap();
    assert_eq!(condition.reason, "ChangesNotCommitted", "{condition:?}");
    let last_commit: k8s_openapi::jiff::Timestamp =
        stale.last_commit_at.as_deref().unwrap().parse().unwrap();
    let late = condition.last_transition_time.0.duration_since(last_commit);
    // Within the threshold: one refresh (2 s) and a second's margin past it.
    assert!(
        late.as_secs_f64() < (stale_after + Duration::from_secs(4)).as_secs_f64(),
        "Stale turned true {late:?} after the last commit ({stale_after:?} threshold)"
    );
    assert!(stale.buffered_changes.is_some_and(|b| b > 0), "{stale:?}");
    let wide = kubectl(&["get", "st", "orders", "-n", ns, "-o", "wide"])
        .await
        .unwrap();
    for column in ["STALE", "ROWS", "BUFFERED", "LAST COMMIT"] {
        assert!(wide.contains(column), "no {column} in\n{wide}");
    }
    let described = kubectl(&["describe", "st", "orders", "-n", ns])
        .await
        .unwrap();
    for field in [
        "Last Snapshot:",
        "Last Diff:",
        "Bytes:",
        "Records:",
        "Last Commit At:",
    ] {
        assert!(described.contains(field), "no {field} in\n{described}");
    }

    // The destination is back: the next commit clears it.
    std::fs::remove_file(&archive).unwrap();
    std::fs::rename(&away, &archive).unwrap();
    let fresh = wait_for_status(
        "Stale=False after the next commit",
        &tables,
        "orders",
        |s| {
            let committed = s.last_commit_at.as_deref() != stale.last_commit_at.as_deref();
            (is_fresh(s) && committed).then_some(())
        },
    )
    .await;
    assert!(fresh.last_commit_at > stale.last_commit_at, "{fresh:?}");
    assert_events(&client, ns, &["Stale", "Fresh"]).await;
    operator.stop().await;
    drop(namespace);
}

/// Whether the status says `Stale=False` because the head moved (`Fresh`).
fn is_fresh(status: &SnapshotTableStatus) -> bool {
    status
        .condition("Stale")
        .is_some_and(|c| c.status == "False" && c.reason == "Fresh")
}

/// Server-side applies `table` as the test's field manager.
pub async fn apply(tables: &Api<SnapshotTable>, table: &SnapshotTable) {
    let name = table.metadata.name.clone().unwrap();
    tables
        .patch(&name, &PatchParams::apply(MANAGER), &Patch::Apply(table))
        .await
        .expect("applying the SnapshotTable");
}

/// Waits until `name`'s status passes `check`; returns it.
pub async fn wait_for_status(
    what: &str,
    tables: &Api<SnapshotTable>,
    name: &str,
    check: impl Fn(&SnapshotTableStatus) -> Option<()>,
) -> SnapshotTableStatus {
    let check = &check;
    wait_for(what, || async move {
        let status = tables.get(name).await.ok()?.status?;
        check(&status).map(|()| status)
    })
    .await
}

/// The archive's `manifest.json` (the example's default key prefix).
pub fn read_manifest(dir: &Path) -> Value {
    let path = dir.join("archive/orders/manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Asserts that `ns` has an Event of each of `reasons`.
async fn assert_events(client: &Client, ns: &str, reasons: &[&str]) {
    let events = events(client, ns).await;
    for reason in reasons {
        assert!(
            events.iter().any(|r| r == reason),
            "no {reason} Event in {events:?}"
        );
    }
}

/// The reasons of the Events in `ns`.
pub async fn events(client: &Client, ns: &str) -> Vec<String> {
    // Events are written after the status; give the last one a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}
