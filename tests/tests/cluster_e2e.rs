//! The operator against a real Kubernetes API server: the kit `.ci/test`
//! starts (kube-apiserver, kube-controller-manager and etcd built from
//! Debian's packages, `.ci/tools/kube-kit.sh`), kind, or any cluster
//! `KUBECONFIG` names. Without `KUBECONFIG` each test prints a notice and
//! passes, unless a cluster is required (`CI=true`, or
//! `LAREDO_CLUSTER_REQUIRED` set by `.ci/test` when it started the kit).
//!
//! No kubelet is needed: the operator runs in this process with its writer
//! address overridden, the writer (where one is needed) as a local process
//! started from the config the operator rendered; the writer pods the
//! StatefulSets ask for are never waited on. Each test works in a namespace
//! of its own.

#![allow(clippy::unwrap_used)]

mod cluster {
    pub mod daytwo;
    pub mod kit;
    pub mod lifecycle;
    pub mod local;
    pub mod story;
}

use cluster::kit::cluster;

/// Chart, children, readiness, `kubectl wait`, re-base, conflict, Events.
#[tokio::test]
async fn a_table_from_helm_install_to_rebase_and_conflict() {
    if let Some(client) = cluster("cluster story").await {
        cluster::story::story(client).await;
    }
}

/// Spec change → pod template hash, invalid spec → Degraded, deletion → GC.
#[tokio::test]
async fn spec_changes_invalid_specs_and_deletion() {
    if let Some(client) = cluster("cluster lifecycle").await {
        cluster::lifecycle::lifecycle(client).await;
    }
}

/// `spec.suspend`: final commit, zero replicas, `suspended`; resume continues
/// the same epoch.
#[tokio::test]
async fn suspend_flushes_and_stops_the_writer_and_resume_continues_its_epoch() {
    if let Some(client) = cluster("cluster suspend").await {
        cluster::daytwo::suspend_and_resume(client).await;
    }
}

/// A writer that stops committing while changes are buffered: `Stale=True`
/// within `staleAfter`, `False` after the next commit.
#[tokio::test]
async fn a_head_that_stops_moving_turns_stale_and_the_next_commit_clears_it() {
    if let Some(client) = cluster("cluster stale").await {
        cluster::daytwo::stale_and_fresh(client).await;
    }
}
