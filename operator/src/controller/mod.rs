//! The controller: watches SnapshotTables and their children and runs
//! [`reconcile`] per object, at most `concurrency` at a time. What wakes a
//! reconcile is in [`triggers`]: annotation changes do (no generation-only
//! filter, or `kubectl annotate … rebase=now` would never arrive), the
//! operator's own writes do not.

mod server_version;
mod triggers;

pub use server_version::{MIN_SUPPORTED, ServerVersion};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use kube::api::{ListParams, PartialObjectMeta};
use kube::runtime::controller::{self, Config};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{Controller, reflector, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tracing::{debug, info, warn};

use crate::MANAGER;
use crate::crd::SnapshotTable;
use crate::metrics::Metrics;
use crate::reconcile::applied::AppliedChildren;
use crate::reconcile::build::MANAGED_BY;
use crate::reconcile::{Context, Settings, error_policy, reconcile};
use crate::server::{Health, Phase};

/// How often the operator looks for the CRD while it is missing.
const CRD_POLL: Duration = Duration::from_secs(10);

/// What the controller watches and how it reconciles.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// The namespace to watch; `None` for all.
    pub namespace: Option<String>,
    /// Reconcile settings.
    pub settings: Settings,
    /// This replica's name in Events.
    pub instance: String,
    /// Reconciles running at once: each sends a few API requests and one
    /// call to a writer, so this bounds the load on the API server.
    pub concurrency: u16,
}

/// Reconciles at once unless configured: enough to keep a 2-core API server
/// busy without queueing requests until they time out.
pub const DEFAULT_CONCURRENCY: u16 = 16;

/// Waits for the CRD, then runs the controller until `shutdown` resolves.
/// Returns `false` when shutdown came before the CRD did.
pub async fn run(
    client: Client,
    config: ControllerConfig,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> bool {
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let tables: Api<SnapshotTable> = scoped(&client, config.namespace.as_deref());
    tokio::select! {
        () = wait_for_crd(&tables) => {}
        () = shutdown.clone() => return false,
    }
    server_version::discover(&client, &metrics).await;
    let (store, writer) = reflector::store();
    if let Err(error) = metrics.track_tables(store.clone()) {
        warn!(%error, "per-table metrics are not exported");
    }
    let (related, related_triggers) = futures::channel::mpsc::unbounded();
    let applied = Arc::new(AppliedChildren::default());
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: MANAGER.into(),
            instance: Some(config.instance.clone()),
        },
    );
    let context = Arc::new(Context::new(
        client.clone(),
        recorder,
        store.clone(),
        config.settings,
        metrics,
        applied.clone(),
    ));
    // Only the operator's children, not every object of these kinds.
    let children =
        watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
    let ns = config.namespace.as_deref();
    let changes = triggers::table_changes(tables, watcher::Config::default(), writer, related);
    let running = Controller::for_stream(changes, store)
        .owns_stream(triggers::child_changes(
            scoped::<PartialObjectMeta<StatefulSet>>(&client, ns),
            children.clone(),
            applied.clone(),
        ))
        .owns_stream(triggers::child_changes(
            scoped::<PartialObjectMeta<ConfigMap>>(&client, ns),
            children.clone(),
            applied.clone(),
        ))
        .owns_stream(triggers::child_changes(
            scoped::<PartialObjectMeta<Service>>(&client, ns),
            children.clone(),
            applied.clone(),
        ))
        .owns_stream(triggers::child_changes(
            scoped::<PartialObjectMeta<ServiceAccount>>(&client, ns),
            children,
            applied,
        ))
        .reconcile_on(related_triggers)
        .with_config(Config::default().concurrency(config.concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context);
    health.set(Phase::Running);
    info!(
        namespace = config.namespace.as_deref().unwrap_or("(all)"),
        "controller running"
    );
    running
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => debug!(table = %object, "reconciled"),
                // A deleted SnapshotTable's children going away wake it
                // once more; there is nothing left to do.
                Err(controller::Error::ObjectNotFound(object)) => {
                    debug!(table = %object, "gone before its reconcile");
                }
                Err(error) => warn!(%error, "controller error"),
            }
        })
        .await;
    info!("controller stopped");
    true
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + DeserializeOwned,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Polls until SnapshotTables can be listed: a missing CRD (a GitOps tool
/// applying it after the operator) is waited for, not crashed on.
async fn wait_for_crd(tables: &Api<SnapshotTable>) {
    loop {
        match tables.list(&ListParams::default().limit(1)).await {
            Ok(_) => return,
            Err(kube::Error::Api(status)) if status.is_not_found() => {
                info!(
                    "waiting for the SnapshotTable CRD (snapshottables.laredo.io); install it with the chart or from crds/"
                );
            }
            Err(error) => warn!(%error, "cannot list SnapshotTables yet"),
        }
        tokio::time::sleep(CRD_POLL).await;
    }
}
