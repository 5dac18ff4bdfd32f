//! Step 3 (pure): the child objects of one SnapshotTable: a ConfigMap with
//! the writer config (the validated spec's, serialized by the contract), a ServiceAccount (with the IRSA role), a
//! Service for the writer's HTTP API, and a single-replica StatefulSet.
//!
//! All are named `<name>-writer`, labelled, and owned by the SnapshotTable
//! (`controller` owner reference), so deleting the resource garbage-collects
//! them; no finalizer is needed.

mod workload;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use snapshot_contract::names::{CONFIG_FILE_NAME, HTTP_PORT};

use crate::crd::SnapshotTable;
use crate::reconcile::validate::ValidatedSpec;
use crate::{Error, MANAGER};

pub use workload::CONFIG_HASH_ANNOTATION;

/// The ServiceAccount annotation EKS's pod-identity webhook reads.
pub const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
/// Label naming the SnapshotTable a child belongs to.
pub const TABLE_LABEL: &str = "laredo.io/snapshot-table";
/// `app.kubernetes.io/managed-by` value; the operator's child watches select on it.
pub const MANAGED_BY: &str = MANAGER;

/// Operator-wide inputs to the build.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// Writer image when the spec names none.
    pub default_image: String,
}

/// The desired children of one SnapshotTable.
#[derive(Debug, Clone, PartialEq)]
pub struct Children {
    /// The rendered writer config.
    pub config_map: ConfigMap,
    /// The writer's identity; `None` when `writer.serviceAccountName`
    /// overrides it.
    pub service_account: Option<ServiceAccount>,
    /// The writer's HTTP API (also what `/status` is polled through).
    pub service: Service,
    /// The writer itself, one replica.
    pub stateful_set: StatefulSet,
    /// Hash of everything that needs a pod restart when it changes.
    pub config_hash: String,
}

/// Name of every child of `table`.
pub fn child_name(table: &SnapshotTable) -> String {
    format!("{}-writer", table.name_any())
}

/// Labels on every child and on the writer pod.
pub fn labels(table: &SnapshotTable) -> BTreeMap<String, String> {
    let mut labels = selector_labels(table);
    labels.insert("app.kubernetes.io/component".into(), "writer".into());
    labels.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
    labels.insert(TABLE_LABEL.into(), table.name_any());
    labels
}

/// The StatefulSet's and Service's selector (immutable on a StatefulSet, so
/// it never changes).
pub fn selector_labels(table: &SnapshotTable) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "snapshot-writer".into()),
        ("app.kubernetes.io/instance".into(), table.name_any()),
    ])
}

/// Builds the children of `table`.
pub fn build(
    table: &SnapshotTable,
    validated: &ValidatedSpec,
    settings: &BuildSettings,
) -> Result<Children, Error> {
    // The contract's own serialization: keys at their default are left
    // out, so an unchanged spec renders the same text (and hash), and a
    // writer older than the operator still reads it.
    let config = serde_yaml::to_string(&validated.config)?;
    let role = validated.irsa.as_ref().map(|r| r.role_arn.as_str());
    let service_account_override = table
        .spec
        .writer
        .as_ref()
        .and_then(|w| w.service_account_name.clone());
    let config_hash = config_hash(&config, role, service_account_override.as_deref());
    let meta = child_meta(table)?;

    let config_map = ConfigMap {
        metadata: meta.clone(),
        data: Some(BTreeMap::from([(CONFIG_FILE_NAME.to_owned(), config)])),
        ..ConfigMap::default()
    };
    let service_account = match service_account_override {
        Some(_) => None,
        None => Some(ServiceAccount {
            metadata: ObjectMeta {
                annotations: role
                    .map(|arn| BTreeMap::from([(IRSA_ANNOTATION.to_owned(), arn.to_owned())])),
                ..meta.clone()
            },
            // The writer does not talk to the Kubernetes API.
            automount_service_account_token: Some(false),
            ..ServiceAccount::default()
        }),
    };
    let service = Service {
        metadata: meta.clone(),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(table)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: i32::from(HTTP_PORT),
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            // The operator reads `/status` through this Service while the
            // writer is still syncing (not ready), and Prometheus scrapes it.
            publish_not_ready_addresses: Some(true),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let stateful_set = workload::stateful_set(table, validated, settings, meta, &config_hash);
    Ok(Children {
        config_map,
        service_account,
        service,
        stateful_set,
        config_hash,
    })
}

/// Metadata shared by the children: name, namespace, labels, owner.
fn child_meta(table: &SnapshotTable) -> Result<ObjectMeta, Error> {
    let owner = table
        .controller_owner_ref(&())
        .ok_or(Error::MissingMetadata("metadata.uid"))?;
    Ok(ObjectMeta {
        name: Some(child_name(table)),
        namespace: Some(
            table
                .namespace()
                .ok_or(Error::MissingMetadata("metadata.namespace"))?,
        ),
        labels: Some(labels(table)),
        owner_references: Some(vec![owner]),
        ..ObjectMeta::default()
    })
}

/// SHA-256 over what the writer reads only at start: its config and its
/// identity (the IRSA role is injected into the pod at creation).
fn config_hash(config: &str, role: Option<&str>, service_account: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    for part in [config, role.unwrap_or(""), service_account.unwrap_or("")] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..8])
}

#[cfg(test)]
mod tests;
