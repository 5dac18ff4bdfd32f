//! The writer's StatefulSet: one replica (a StatefulSet never runs two pods
//! of one identity, unlike a Deployment during a rollout), a hardened pod,
//! and a data volume for local destinations.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    HTTPGetAction, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecurityContext, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use snapshot_contract::names::{
    CONFIG_DIR, CONFIG_ENV, CONFIG_PATH, HEALTH_LIVE_PATH, HEALTH_READY_PATH, HTTP_PORT, WRITER_UID,
};

use super::{BuildSettings, child_name, selector_labels};
use crate::crd::SnapshotTable;
use crate::reconcile::validate::{DataVolume, ValidatedSpec};

/// Pod-template annotation carrying the hash of the config and identity, so a
/// change to either rolls the writer.
pub const CONFIG_HASH_ANNOTATION: &str = "laredo.io/config-hash";
const DATA_VOLUME: &str = "data";

/// The StatefulSet running the writer: one pod, none while the resource is
/// suspended (the pod's SIGTERM makes the writer flush and commit first).
pub(super) fn stateful_set(
    table: &SnapshotTable,
    validated: &ValidatedSpec,
    settings: &BuildSettings,
    meta: ObjectMeta,
    config_hash: &str,
) -> StatefulSet {
    let writer = table.spec.writer.clone().unwrap_or_default();
    let name = child_name(table);
    let mut annotations = writer.pod_annotations.clone().unwrap_or_default();
    annotations.insert(CONFIG_HASH_ANNOTATION.into(), config_hash.into());

    let mut volumes = vec![
        Volume {
            name: "tmp".into(),
            // Spool files of artifacts being written; the root filesystem
            // is read-only.
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: name.clone(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![
        VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "config".into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
    ];
    let mut claim_templates = None;
    if let Some(volume) = &validated.data_volume {
        mounts.push(VolumeMount {
            name: DATA_VOLUME.into(),
            mount_path: volume.mount_path.clone(),
            ..VolumeMount::default()
        });
        match &volume.existing_claim {
            Some(claim) => volumes.push(Volume {
                name: DATA_VOLUME.into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.clone(),
                    read_only: Some(false),
                }),
                ..Volume::default()
            }),
            None => claim_templates = Some(vec![claim_template(volume)]),
        }
    }

    let probe = |path: &str, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Probe::default()
    };
    let container = Container {
        name: "writer".into(),
        image: Some(
            writer
                .image
                .clone()
                .unwrap_or_else(|| settings.default_image.clone()),
        ),
        image_pull_policy: writer.image_pull_policy.clone(),
        args: Some(vec!["--config".into(), CONFIG_PATH.into()]),
        env: Some(
            std::iter::once(EnvVar {
                name: CONFIG_ENV.into(),
                value: Some(CONFIG_PATH.into()),
                ..EnvVar::default()
            })
            .chain(writer.env.clone().unwrap_or_default())
            .collect(),
        ),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: i32::from(HTTP_PORT),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        // Ready once the initial base snapshot is durable everywhere; that
        // can take a while on a large table, which only delays readiness.
        readiness_probe: Some(probe(HEALTH_READY_PATH, 10, 3)),
        liveness_probe: Some(probe(HEALTH_LIVE_PATH, 20, 3)),
        resources: Some(writer.resources.clone().unwrap_or_else(default_resources)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let pod = PodSpec {
        containers: vec![container],
        service_account_name: Some(
            writer
                .service_account_name
                .clone()
                .unwrap_or_else(|| name.clone()),
        ),
        automount_service_account_token: Some(false),
        termination_grace_period_seconds: Some(validated.grace_period_seconds),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(i64::from(WRITER_UID)),
            run_as_group: Some(i64::from(WRITER_UID)),
            fs_group: Some(i64::from(WRITER_UID)),
            fs_group_change_policy: Some("OnRootMismatch".into()),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        node_selector: writer.node_selector.clone(),
        tolerations: writer.tolerations.clone(),
        affinity: writer.affinity.clone(),
        image_pull_secrets: writer.image_pull_secrets.clone(),
        volumes: Some(volumes),
        ..PodSpec::default()
    };
    StatefulSet {
        metadata: meta,
        spec: Some(StatefulSetSpec {
            replicas: Some(if table.is_suspended() { 0 } else { 1 }),
            service_name: Some(name),
            selector: LabelSelector {
                match_labels: Some(selector_labels(table)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(super::labels(table)),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            volume_claim_templates: claim_templates,
            // The archive on a local volume outlives the SnapshotTable: the
            // claim is kept (Kubernetes' default retention, Retain). The
            // policy field is not sent: it only restates that default, and
            // servers before 1.23 reject it in a server-side apply.
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

fn claim_template(volume: &DataVolume) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.into()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: volume.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".into(),
                    Quantity(volume.size.clone()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

/// Requests without limits: the writer's memory grows with the table, and a
/// limit too low kills it mid-snapshot; set limits in the spec when wanted.
fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".into(), Quantity("100m".into())),
            ("memory".into(), Quantity("256Mi".into())),
        ])),
        ..ResourceRequirements::default()
    }
}
