//! A SnapshotTable's life around its writer, no writer process needed: a
//! spec change rolls the writer's pod template (a new config hash), a spec
//! the operator rejects shows `Degraded` with the field path and an Event
//! (also where the server, before 1.25, dropped the CRD's CEL rules), and
//! deleting the resource lets the garbage collector take its children.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use snapshot_contract::names::CONFIG_FILE_NAME;
use snapshot_operator::crd::SnapshotTable;
use snapshot_operator::reconcile::build::CONFIG_HASH_ANNOTATION;

use super::kit::{MANAGER, Operator, TestNamespace, free_port, wait_for};

pub async fn lifecycle(client: Client) {
    let namespace = TestNamespace::create(&client, "lifecycle").await;
    let ns = namespace.name.as_str();
    // Nothing listens there: the writer pods never run without a kubelet.
    let operator = Operator::start(
        client.clone(),
        ns,
        &format!("http://127.0.0.1:{}", free_port()),
    );
    let tables: Api<SnapshotTable> = Api::namespaced(client.clone(), ns);
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let apply = |spec: serde_json::Value| {
        let tables = tables.clone();
        async move {
            tables
                .patch(
                    "items",
                    &PatchParams::apply(MANAGER),
                    &Patch::Apply(json!({
                        "apiVersion": "laredo.io/v1alpha1",
                        "kind": "SnapshotTable",
                        "metadata": {"name": "items"},
                        "spec": spec,
                    })),
                )
                .await
                .expect("applying the SnapshotTable")
        }
    };
    let spec = |diff_interval: &str| {
        json!({
            "source": {"server": "laredo-server:4002", "schema": "public", "table": "items"},
            "destinations": [{"s3": {"bucket": "archive", "prefix": "items/"}}],
            "diff": {"interval": diff_interval},
        })
    };

    apply(spec("10s")).await;
    let hash_of = |set: &StatefulSet| {
        set.spec
            .as_ref()?
            .template
            .metadata
            .as_ref()?
            .annotations
            .as_ref()?[CONFIG_HASH_ANNOTATION]
            .clone()
            .into()
    };
    let first = wait_for("the StatefulSet", || {
        let api = stateful_sets.clone();
        async move { hash_of(&api.get_opt("items-writer").await.ok()??) }
    })
    .await;
    wait_for("status with an unreachable writer", || {
        let tables = tables.clone();
        async move {
            let status = tables.get("items").await.ok()?.status?;
            let ready = status.condition("Ready")?;
            (ready.status == "False" && ready.reason == "WriterUnreachable").then_some(())
        }
    })
    .await;

    // A spec change reaches the writer's pod template: the pod rolls.
    apply(spec("20s")).await;
    let second = wait_for("a new config hash in the pod template", || {
        let api = stateful_sets.clone();
        let first = first.clone();
        async move {
            let hash: String = hash_of(&api.get_opt("items-writer").await.ok()??)?;
            (hash != first).then_some(hash)
        }
    })
    .await;
    assert_ne!(first, second);
    let config_map: ConfigMap = Api::namespaced(client.clone(), ns)
        .get("items-writer")
        .await
        .unwrap();
    assert!(
        config_map.data.unwrap()[CONFIG_FILE_NAME].contains("20s"),
        "the rendered config carries the new interval"
    );

    // A spec only the operator's validation can reject on every server
    // (CEL rules need 1.25): minInterval longer than maxInterval.
    let mut invalid = spec("20s");
    invalid["snapshot"] = json!({"minInterval": "2h", "maxInterval": "1h"});
    apply(invalid).await;
    let degraded = wait_for("Degraded with the field path", || {
        let tables = tables.clone();
        async move {
            let status = tables.get("items").await.ok()?.status?;
            status
                .condition("Degraded")
                .filter(|c| c.status == "True" && c.reason == "InvalidSpec")
                .cloned()
        }
    })
    .await;
    assert!(
        degraded.message.contains("spec.snapshot.minInterval")
            && degraded
                .message
                .contains(snapshot_contract::rules::MIN_OVER_MAX),
        "{}",
        degraded.message
    );
    let unchanged: String = hash_of(&stateful_sets.get("items-writer").await.unwrap()).unwrap();
    assert_eq!(
        unchanged, second,
        "the writer keeps running the last valid spec"
    );
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    wait_for("an InvalidSpec Event on the resource", || {
        let events = events.clone();
        async move {
            events
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .into_iter()
                .find(|e| {
                    e.reason.as_deref() == Some("InvalidSpec")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("items")
                })
        }
    })
    .await;

    // Deleting the resource: the controller manager's garbage collector
    // removes every child it owns.
    let uid = tables.get("items").await.unwrap().uid();
    tables
        .delete("items", &DeleteParams::foreground())
        .await
        .unwrap();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    wait_for("the children to be garbage-collected", || {
        let (sets, maps, services, accounts) = (
            stateful_sets.clone(),
            config_maps.clone(),
            services.clone(),
            accounts.clone(),
        );
        async move {
            let gone = sets.get_opt("items-writer").await.ok()?.is_none()
                && maps.get_opt("items-writer").await.ok()?.is_none()
                && services.get_opt("items-writer").await.ok()?.is_none()
                && accounts.get_opt("items-writer").await.ok()?.is_none();
            gone.then_some(())
        }
    })
    .await;
    assert!(uid.is_some());
    assert!(tables.get_opt("items").await.unwrap().is_none());
    operator.stop().await;
    drop(namespace);
}
