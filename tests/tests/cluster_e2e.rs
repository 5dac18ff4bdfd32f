//! The operator against a real Kubernetes API server (kind, or any cluster
//! `KUBECONFIG` points at), with the writer and the fan-out simulator as local
//! processes. Without `KUBECONFIG` it prints a notice and passes.
//!
//! No kubelet is needed: the operator runs in this process with its writer
//! address overridden (`writer_url_template`) to a `snapshot-writer` started
//! here from the config the operator rendered into the ConfigMap; the writer
//! pods the StatefulSets ask for are never waited on.
//!
//! The story: install the CRD from `crds/`, apply the minimal example (on a
//! shared claim, so a second resource can collide with it), see its
//! ConfigMap, ServiceAccount, Service and StatefulSet; see the writer's epoch,
//! head position and readiness in status; annotate `rebase=now` and see the
//! epoch advance and the annotation go; apply a second resource on the same
//! location and see `Conflict`; delete the first and see the second proceed.

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use snapshot_operator::controller::{self, ControllerConfig};
use snapshot_operator::crd::{SnapshotTable, StorageSpec, WriterSpec};
use snapshot_operator::metrics::Metrics;
use snapshot_operator::reconcile::Settings;
use snapshot_operator::reconcile::build::BuildSettings;
use snapshot_operator::server::Health;
use tokio::process::{Child, Command};

const MANAGER: &str = "e2e-tests";
const TIMEOUT: Duration = Duration::from_secs(120);

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test]
async fn snapshot_tables_reconcile_against_a_real_cluster() {
    if std::env::var_os("KUBECONFIG").is_none() {
        eprintln!(
            "SKIPPED cluster e2e: KUBECONFIG is not set. Point it at a cluster (e.g. `kind create cluster \
             --config kind-config.yaml`) to run the operator end to end."
        );
        return;
    }
    let client = Client::try_default()
        .await
        .expect("a client from KUBECONFIG");
    install_crd(&client).await;
    let namespace = format!("laredo-e2e-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(namespace.clone()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await
        .expect("creating the test namespace");

    let outcome = tokio::spawn(story(client.clone(), namespace.clone())).await;
    // The namespace takes the SnapshotTables and their children with it.
    let _ = namespaces
        .delete(&namespace, &DeleteParams::background())
        .await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn story(client: Client, namespace: String) {
    let (writer_bin, sim_bin) = writer_binaries();
    let sim_port = free_port();
    let writer_port = free_port();
    let _sim = spawn(Command::new(&sim_bin).args([
        "--listen",
        &format!("127.0.0.1:{sim_port}"),
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
        tokio::net::TcpStream::connect(("127.0.0.1", sim_port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;

    // The operator, in this process, pointing every SnapshotTable at the
    // local writer.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(controller::run(
        client.clone(),
        ControllerConfig {
            namespace: Some(namespace.clone()),
            settings: Settings {
                writer_url_template: format!("http://127.0.0.1:{writer_port}"),
                requeue_interval: Duration::from_secs(2),
                build: BuildSettings {
                    default_image: "snapshot-writer:e2e".into(),
                },
            },
            instance: "e2e".into(),
        },
        Arc::new(Metrics::new().unwrap()),
        Arc::new(Health::default()),
        async move {
            let _ = stopped.await;
        },
    ));

    let tables: Api<SnapshotTable> = Api::namespaced(client.clone(), &namespace);
    let first = example(&namespace, "orders", sim_port);
    tables
        .patch(
            "orders",
            &PatchParams::apply(MANAGER),
            &Patch::Apply(&first),
        )
        .await
        .expect("applying the example");

    // The workload.
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    let services: Api<Service> = Api::namespaced(client.clone(), &namespace);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let stateful_set = wait_for("the StatefulSet", || {
        let api = stateful_sets.clone();
        async move { api.get_opt("orders-writer").await.ok().flatten() }
    })
    .await;
    let spec = stateful_set.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    let uid = tables.get("orders").await.unwrap().uid();
    assert_eq!(stateful_set.owner_references()[0].uid, uid.unwrap());
    let service = wait_for("the Service", || {
        let api = services.clone();
        async move { api.get_opt("orders-writer").await.ok().flatten() }
    })
    .await;
    assert_eq!(service.spec.unwrap().ports.unwrap()[0].port, 8080);
    wait_for("the ServiceAccount", || {
        let api = accounts.clone();
        async move { api.get_opt("orders-writer").await.ok().flatten() }
    })
    .await;
    let config_map = wait_for("the ConfigMap", || {
        let api = config_maps.clone();
        async move { api.get_opt("orders-writer").await.ok().flatten() }
    })
    .await;

    // The writer, as a local process, from the config the operator rendered.
    let archive = tempfile::tempdir().unwrap();
    let config_path = archive.path().join("writer.yaml");
    let rendered = config_map.data.as_ref().unwrap()["writer.yaml"].clone();
    std::fs::write(
        &config_path,
        local_config(&rendered, writer_port, &archive.path().join("archive")),
    )
    .unwrap();
    let _writer = spawn(Command::new(&writer_bin).arg("--config").arg(&config_path));

    // Status from the writer.
    let ready = wait_for("status: Ready, epoch and head position", || {
        let tables = tables.clone();
        async move {
            let table = tables.get("orders").await.ok()?;
            let status = table.status.clone()?;
            (status.ready == Some(true)
                && status.is_true("Ready")
                && status.epoch.is_some_and(|e| e >= 1)
                && status
                    .head_position
                    .as_deref()
                    .is_some_and(|h| !h.is_empty()))
            .then_some(status)
        }
    })
    .await;
    assert_eq!(ready.observed_generation, Some(1));
    let epoch = ready.epoch.unwrap();

    // A rebase on request.
    tables
        .patch(
            "orders",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"rebase": "now"}}})),
        )
        .await
        .unwrap();
    let rebased = wait_for("the rebase: a new epoch, the annotation gone", || {
        let tables = tables.clone();
        async move {
            let table = tables.get("orders").await.ok()?;
            let status = table.status.clone()?;
            (!table.annotations().contains_key("rebase")
                && status
                    .last_handled_rebase
                    .as_ref()
                    .is_some_and(|r| r.value == "now")
                && status.epoch.is_some_and(|e| e > epoch))
            .then_some(status)
        }
    })
    .await;
    assert_eq!(
        rebased.last_handled_rebase.unwrap().epoch_before,
        Some(epoch)
    );

    // A second resource on the same location waits.
    let second = example(&namespace, "orders-second", sim_port);
    tables
        .patch(
            "orders-second",
            &PatchParams::apply(MANAGER),
            &Patch::Apply(&second),
        )
        .await
        .unwrap();
    let conflict = wait_for("Conflict on the second resource", || {
        let tables = tables.clone();
        async move {
            let status = tables.get("orders-second").await.ok()?.status?;
            status
                .condition("Conflict")
                .filter(|c| c.status == "True")
                .cloned()
        }
    })
    .await;
    assert!(
        conflict.message.contains(&format!("{namespace}/orders")),
        "{}",
        conflict.message
    );
    assert!(
        stateful_sets
            .get_opt("orders-second-writer")
            .await
            .unwrap()
            .is_none(),
        "the loser runs no writer"
    );

    // The winner goes; the second proceeds.
    tables
        .delete("orders", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the second resource to take over", || {
        let (tables, stateful_sets) = (tables.clone(), stateful_sets.clone());
        async move {
            let status = tables.get("orders-second").await.ok()?.status?;
            let free = status
                .condition("Conflict")
                .is_some_and(|c| c.status == "False");
            let running = stateful_sets.get_opt("orders-second-writer").await.ok()??;
            (free && running.spec?.replicas == Some(1)).then_some(())
        }
    })
    .await;

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), operator).await;
}

/// The minimal example, in `namespace`, reading from the local simulator, on
/// a shared claim (so that another resource can claim the same location).
fn example(namespace: &str, name: &str, sim_port: u16) -> SnapshotTable {
    let text =
        std::fs::read_to_string(repository().join("crds/examples/minimal-local.yaml")).unwrap();
    let mut table: SnapshotTable = serde_yaml::from_str(&text).unwrap();
    table.metadata = ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        ..ObjectMeta::default()
    };
    table.spec.source.server = format!("127.0.0.1:{sim_port}");
    table.spec.writer = Some(WriterSpec {
        storage: Some(StorageSpec {
            existing_claim: Some("e2e-archive".into()),
            ..StorageSpec::default()
        }),
        ..WriterSpec::default()
    });
    table
}

/// The rendered config, moved from the pod's world (port 8080, `/data`) to
/// this machine's.
fn local_config(rendered: &str, port: u16, archive: &Path) -> String {
    let mut config: serde_yaml::Value = serde_yaml::from_str(rendered).unwrap();
    config["http"]["port"] = port.into();
    config["http"]["bind"] = "127.0.0.1".into();
    config["tables"][0]["destinations"][0]["path"] = archive.to_str().unwrap().into();
    serde_yaml::to_string(&config).unwrap()
}

/// Installs (server-side applies) `crds/snapshottable.yaml` and waits until
/// it is established.
async fn install_crd(client: &Client) {
    let crd: CustomResourceDefinition = serde_yaml::from_str(
        &std::fs::read_to_string(repository().join("crds/snapshottable.yaml")).unwrap(),
    )
    .unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "snapshottables.laredo.io",
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .expect("installing the CRD");
    wait_for("the CRD to be established", || {
        let crds = crds.clone();
        async move {
            let crd = crds.get("snapshottables.laredo.io").await.ok()?;
            crd.status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        }
    })
    .await;
}

/// `snapshot-writer` and `fanout-sim`, next to this test's executable; built
/// with cargo when missing. Only under nextest: `cargo test` holds the build
/// directory's lock while tests run, so a nested build would wait forever.
fn writer_binaries() -> (PathBuf, PathBuf) {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/cluster_e2e-<hash>
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    let target_dir = profile_dir.parent().unwrap().to_owned();
    let writer = profile_dir.join("snapshot-writer");
    let sim = profile_dir.join("fanout-sim");
    if !writer.is_file() || !sim.is_file() {
        let release = profile_dir.file_name().is_some_and(|p| p == "release");
        let command = format!(
            "cargo build -p snapshot-writer --bins --target-dir {}{}",
            target_dir.display(),
            if release { " --release" } else { "" }
        );
        assert!(
            std::env::var_os("NEXTEST").is_some(),
            "{} or {} is missing; run `{command}` first (a build from inside `cargo test` would wait on its lock)",
            writer.display(),
            sim.display()
        );
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        let mut build = std::process::Command::new(cargo);
        build
            .args(["build", "-p", "snapshot-writer", "--bins", "--target-dir"])
            .arg(&target_dir);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("running cargo build");
        assert!(status.success(), "`{command}` failed");
    }
    assert!(
        writer.is_file() && sim.is_file(),
        "no {} or {}",
        writer.display(),
        sim.display()
    );
    (writer, sim)
}

fn spawn(command: &mut Command) -> Child {
    command
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting a process")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `probe` every half second until it yields a value; fails after
/// [`TIMEOUT`] naming `what`.
async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "timed out after {TIMEOUT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
