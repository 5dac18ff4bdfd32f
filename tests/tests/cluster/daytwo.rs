//! Day two of a table: suspend and resume it. The test plays the kubelet:
//! it runs the writer as a local process from the config the operator
//! rendered while the StatefulSet asks for a pod, and sends it SIGTERM (as
//! the kubelet does) once the StatefulSet asks for none.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value;
use snapshot_contract::names;
use snapshot_contract::status::TableStatus;
use snapshot_operator::crd::{DiffSpec, SnapshotTable, SnapshotTableStatus};
use tokio::process::{Child, Command};

use super::kit::{
    MANAGER, Operator, TIMEOUT, TestNamespace, free_port, impersonating, kubectl, spawn, wait_for,
    writer_binaries,
};
use super::story::{example, install_chart, local_config};

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

    let events = events(&client, ns).await;
    for reason in ["Suspending", "Suspended", "Resumed"] {
        assert!(
            events.iter().any(|r| r == reason),
            "no {reason} Event in {events:?}"
        );
    }
    operator.stop().await;
    drop(namespace);
}

/// `fanout-sim` streaming changes to `public.orders`, killed on drop.
pub struct Sim {
    /// Where it listens on 127.0.0.1.
    pub port: u16,
    _process: Child,
}

impl Sim {
    /// Starts it (200 rows, 20 changes a second) and waits until it listens.
    pub async fn start() -> Self {
        let (_, sim) = writer_binaries();
        let port = free_port();
        let process = spawn(Command::new(&sim).args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--schema",
            "public",
            "--table",
            "orders",
            "--rows",
            "200",
            "--rate",
            "20",
        ]));
        wait_for("fanout-sim to listen", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        Self {
            port,
            _process: process,
        }
    }
}

/// A writer process, as the kubelet would run the StatefulSet's pod.
pub struct Writer {
    process: Child,
    status_url: String,
}

impl Writer {
    /// Starts `snapshot-writer --config config`, its API on `port`.
    pub fn start(config: &Path, port: u16) -> Self {
        let (writer, _) = writer_binaries();
        Self {
            process: spawn(Command::new(&writer).arg("--config").arg(config)),
            status_url: format!("http://127.0.0.1:{port}{}", names::STATUS_PATH),
        }
    }

    /// Its one table's `/status` entry, once it answers.
    pub async fn status(&self) -> Option<TableStatus> {
        let tables: Vec<TableStatus> = reqwest::get(&self.status_url)
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        tables.into_iter().next()
    }

    /// SIGTERM, as the kubelet sends when the pod goes; waits for the exit.
    pub async fn terminate(&mut self) {
        let pid = self.process.id().expect("the writer is running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let exit = tokio::time::timeout(TIMEOUT, self.process.wait())
            .await
            .expect("the writer exits after SIGTERM")
            .unwrap();
        assert!(exit.success(), "the writer's exit after SIGTERM: {exit}");
    }
}

/// Server-side applies `table` as the test's field manager.
pub async fn apply(tables: &Api<SnapshotTable>, table: &SnapshotTable) {
    let name = table.metadata.name.clone().unwrap();
    tables
        .patch(&name, &PatchParams::apply(MANAGER), &Patch::Apply(table))
        .await
        .expect("applying the SnapshotTable");
}

/// The config the operator rendered for `name`, moved to this machine
/// (API on `port`, archive under `dir`), written to a file in `dir`.
pub async fn writer_config(
    client: &Client,
    ns: &str,
    name: &str,
    port: u16,
    dir: &Path,
) -> PathBuf {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let child = format!("{name}-writer");
    let config_map = wait_for("the writer's ConfigMap", || {
        let (api, child) = (config_maps.clone(), child.clone());
        async move { api.get_opt(&child).await.ok().flatten() }
    })
    .await;
    let rendered = &config_map.data.as_ref().unwrap()[names::CONFIG_FILE_NAME];
    let path = dir.join(names::CONFIG_FILE_NAME);
    std::fs::write(&path, local_config(rendered, port, &dir.join("archive"))).unwrap();
    path
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
