//! `spec.writer`: how the writer workload runs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, ResourceRequirements, Toleration,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the writer's pod. Everything is optional; the defaults run the
/// operator's default writer image with modest resource requests.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct WriterSpec {
    /// Container image of `snapshot-writer` (default: the operator's
    /// `--writer-image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub image: Option<String>,

    /// Image pull policy: `Always`, `IfNotPresent` or `Never` (default: the
    /// Kubernetes default for the image's tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Always", "IfNotPresent", "Never"]))]
    pub image_pull_policy: Option<String>,

    /// Secrets for pulling the image from a private registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,

    /// CPU and memory of the writer container (default requests: 100m CPU,
    /// 256Mi memory; no limits). The writer holds the whole table in memory:
    /// size the memory for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Extra environment variables of the writer container, e.g. static
    /// credentials for an S3-compatible store from a Secret
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`) or `RUST_LOG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,

    /// Node labels the writer pod must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// Tolerations of the writer pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,

    /// Affinity rules of the writer pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Seconds the pod gets after SIGTERM to flush its final diff and commit
    /// the manifest (default 60, at least 10). The writer's own shutdown
    /// deadline is set 5 seconds shorter so it finishes before the kill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 3600))]
    pub termination_grace_period_seconds: Option<i64>,

    /// Run the writer under this existing ServiceAccount instead of the one
    /// the operator creates (`<name>-writer`). The operator does not touch
    /// it, so it cannot carry an `irsa` profile's role for you.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,

    /// Extra annotations on the writer pod (e.g. for a service mesh or log
    /// shipper). Changing them rolls the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_annotations: Option<BTreeMap<String, String>>,

    /// The volume that holds `local` destinations. Ignored without a local
    /// destination. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
}

/// The writer's data volume for `local` destinations: a PersistentVolumeClaim
/// per SnapshotTable (from the StatefulSet's claim template, kept when the
/// SnapshotTable is deleted), or an existing claim.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Size of the claim the operator requests, e.g. `20Gi` (default `10Gi`).
    /// Ignored with `existingClaim`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"),
        length(max = 64)
    )]
    pub size: Option<String>,

    /// Storage class of the claim (default: the cluster's default class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub storage_class_name: Option<String>,

    /// Use this existing PersistentVolumeClaim instead of creating one. Two
    /// SnapshotTables that share a claim conflict when their local paths and
    /// key prefixes coincide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub existing_claim: Option<String>,

    /// Where the volume is mounted in the writer pod (default `/data`); every
    /// local destination's path must lie under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^/.+"), length(max = 1024))]
    pub mount_path: Option<String>,
}
