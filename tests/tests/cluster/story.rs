//! The whole story of one table, as a user lives it: `helm install` the
//! chart (its objects accepted by the server; the operator Deployment never
//! runs without a kubelet, so the operator runs in this process with the
//! chart's RBAC, impersonating its ServiceAccount), apply the minimal
//! example, see the children owned by it, `kubectl wait` for Ready with the
//! writer's epoch and head position, annotate `rebase=now` and see the epoch
//! advance and the annotation go, apply a second resource on the same
//! location and see `Conflict`, delete the first and see the second proceed;
//! Events tell each step.
//!
//! The writer and the fan-out simulator run as local processes, the writer
//! from the config the operator rendered into the ConfigMap.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use snapshot_contract::names;
use snapshot_operator::crd::{SnapshotTable, StorageSpec, WriterSpec};

use super::kit::{
    MANAGER, Operator, TestNamespace, free_port, helm, impersonating, kubectl, wait_for,
};
use super::local::{Sim, Writer, writer_config};
use e2e_tests::repository;

pub async fn story(client: Client) {
    let namespace = TestNamespace::create(&client, "story").await;
    let ns = namespace.name.as_str();
    let release = install_chart(&client, ns).await;

    let sim = Sim::start().await;
    let sim_port = sim.port;
    let writer_port = free_port();

    // The operator, in this process, with the chart's permissions, pointing
    // every SnapshotTable at the local writer.
    let operator = Operator::start(
        impersonating(ns, &release).await,
        ns,
        &format!("http://127.0.0.1:{writer_port}"),
    );

    let tables: Api<SnapshotTable> = Api::namespaced(client.clone(), ns);
    tables
        .patch(
            "orders",
            &PatchParams::apply(MANAGER),
            &Patch::Apply(&example(ns, "orders", sim_port)),
        )
        .await
        .expect("applying the example");

    // The workload, owned by the resource.
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let stateful_set = wait_for("the StatefulSet", || {
        let api = stateful_sets.clone();
        async move { api.get_opt("orders-writer").await.ok().flatten() }
    })
    .await;
    assert_eq!(stateful_set.spec.as_ref().unwrap().replicas, Some(1));
    let uid = tables.get("orders").await.unwrap().uid().unwrap();
    assert_eq!(stateful_set.owner_references()[0].uid, uid);
    let service = wait_for("the Service", || {
        let api = services.clone();
        async move { api.get_opt("orders-writer").await.ok().flatten() }
    })
    .await;
    assert_eq!(
        service.spec.unwrap().ports.unwrap()[0].port,
        i32::from(names::HTTP_PORT)
    );
    let account = wait_for("the ServiceAccount", || {
        let api = accounts.clone();
        async move { api.get_opt("orders-writer").await.ok().flatten() }
    })
    .await;
    assert_eq!(account.owner_references()[0].uid, uid);
    wait_for("the ConfigMap", || {
        let api = config_maps.clone();
        async move { api.get_opt("orders-writer").await.ok().flatten() }
    })
    .await;

    // The writer, as a local process, from the config the operator rendered.
    let archive = tempfile::tempdir().unwrap();
    let config = writer_config(&client, ns, "orders", writer_port, archive.path()).await;
    let _writer = Writer::start(&config, writer_port);

    // What a user waits on.
    kubectl(&[
        "wait",
        "--for=condition=Ready",
        "snapshottable/orders",
        "-n",
        ns,
        "--timeout=120s",
    ])
    .await
    .expect("kubectl wait --for=condition=Ready");
    let ready = tables.get("orders").await.unwrap().status.unwrap();
    assert_eq!(ready.ready, Some(true));
    assert_eq!(ready.observed_generation, Some(1));
    assert!(ready.epoch.is_some_and(|e| e >= 1), "{ready:?}");
    assert!(
        ready
            .head_position
            .as_deref()
            .is_some_and(|h| !h.is_empty()),
        "{ready:?}"
    );
    for condition in &ready.conditions {
        assert!(!condition.message.is_empty(), "{condition:?}");
    }
    let epoch = ready.epoch.unwrap();
    let columns = kubectl(&["get", "snapshottables", "-n", ns]).await.unwrap();
    assert!(
        columns.contains("READY") && columns.contains("EPOCH") && columns.contains("orders"),
        "{columns}"
    );

    // A re-base on request, as users type it.
    kubectl(&[
        "annotate",
        "snapshottable",
        "orders",
        "rebase=now",
        "-n",
        ns,
    ])
    .await
    .expect("kubectl annotate rebase=now");
    let rebased = wait_for("the re-base: a new epoch, the annotation gone", || {
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
    let handled = rebased.last_handled_rebase.unwrap();
    assert_eq!(handled.epoch_before, Some(epoch));
    // The snapshot the writer answered it made is the new epoch's.
    let made = handled.snapshot.expect("the snapshot the writer made");
    assert_eq!(Some(made.epoch), rebased.epoch);
    assert!(
        !made.position.is_empty() && made.bytes.is_some_and(|b| b > 0),
        "{made:?}"
    );

    // A second resource on the same location waits.
    tables
        .patch(
            "orders-second",
            &PatchParams::apply(MANAGER),
            &Patch::Apply(&example(ns, "orders-second", sim_port)),
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
        conflict.message.contains(&format!("{ns}/orders")),
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

    // Every step left an Event on its resource.
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    let reasons = wait_for("the Events of the story", || {
        let events = events.clone();
        async move {
            let reasons: Vec<String> = events
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .into_iter()
                .filter_map(|e| e.reason)
                .collect();
            ["Created", "Rebased", "Conflict", "ConflictResolved"]
                .iter()
                .all(|r| reasons.iter().any(|have| have == r))
                .then_some(reasons)
        }
    })
    .await;
    assert!(!reasons.is_empty());
    operator.stop().await;
    drop(namespace);
}

/// `helm install` of the chart into `namespace` (the CRD is the suite's,
/// installed once), watching that namespace only; asserts that the server
/// accepted every object. Returns the release name, which is also the
/// operator's ServiceAccount.
pub async fn install_chart(client: &Client, namespace: &str) -> String {
    let release = "snapshot-operator".to_owned();
    helm(&[
        "install",
        &release,
        "charts/snapshot-operator",
        "--namespace",
        namespace,
        "--set",
        "crds.install=false",
        "--set",
        &format!("watchNamespace={namespace}"),
        "--wait=false",
    ])
    .await
    .expect("helm install");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let deployment = deployments
        .get(&release)
        .await
        .expect("the operator Deployment");
    assert_eq!(deployment.spec.unwrap().replicas, Some(1));
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .get(&release)
        .await
        .expect("the operator ServiceAccount");
    let role_kinds = kubectl(&["get", "roles,rolebindings", "-n", namespace, "-o", "name"])
        .await
        .unwrap();
    let cluster_wide = Api::<ClusterRole>::all(client.clone())
        .get_opt(&release)
        .await
        .unwrap()
        .is_some()
        && Api::<ClusterRoleBinding>::all(client.clone())
            .get_opt(&release)
            .await
            .unwrap()
            .is_some();
    assert!(
        role_kinds.contains("role") || cluster_wide,
        "no RBAC installed: {role_kinds}"
    );
    release
}

/// The minimal example, in `namespace`, reading from the local simulator, on
/// a shared claim (so that another resource can claim the same location).
pub fn example(namespace: &str, name: &str, sim_port: u16) -> SnapshotTable {
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
