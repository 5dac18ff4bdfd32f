//! Step 4: server-side apply of the children under one field manager
//! ([`MANAGER`]), forcing ownership of the fields the operator sets; and
//! their removal when a resource loses its claim.
//!
//! A child is applied when its body differs from the one last applied or
//! someone else changed it since ([`AppliedChildren`]): a reconcile that
//! only refreshes status sends no apply, and drift (an edited StatefulSet)
//! is repaired by the reconcile its watch event starts.

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::reconcile::applied::{AppliedChildren, ChildKey, digest};
use crate::reconcile::build::Children;
use crate::{Error, MANAGER};

/// Applies every child of one SnapshotTable in `namespace`, in the order the
/// writer needs them (config and identity before the pod that uses them),
/// skipping those applied before and unchanged since. Returns how many were
/// sent, and each child's key and digest.
pub async fn apply_children(
    client: &Client,
    applied: &AppliedChildren,
    namespace: &str,
    children: &Children,
) -> Result<(usize, Vec<(ChildKey, u64)>), Error> {
    let mut sent = 0;
    let mut digests = Vec::with_capacity(4);
    let mut one = |(count, key_digest): (usize, (ChildKey, u64))| {
        sent += count;
        digests.push(key_digest);
    };
    one(apply(client, applied, namespace, &children.config_map).await?);
    if let Some(account) = &children.service_account {
        one(apply(client, applied, namespace, account).await?);
    }
    one(apply(client, applied, namespace, &children.service).await?);
    one(apply(client, applied, namespace, &children.stateful_set).await?);
    Ok((sent, digests))
}

/// Server-side apply of one object, which must carry its name, unless it
/// is current. Returns 1 when an apply was sent, and the child's key and
/// digest.
async fn apply<K>(
    client: &Client,
    applied: &AppliedChildren,
    namespace: &str,
    object: &K,
) -> Result<(usize, (ChildKey, u64)), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let name = object.name_any();
    // SSA needs apiVersion and kind in the body; the typed structs leave
    // them out of their serialized form unless set.
    let mut body =
        serde_json::to_value(object).map_err(|e| Error::Render(serde::ser::Error::custom(e)))?;
    if let Some(map) = body.as_object_mut() {
        map.insert("apiVersion".into(), K::api_version(&()).into());
        map.insert("kind".into(), K::kind(&()).into());
    }
    let key = child_key::<K>(namespace, &name);
    let digest = digest(&body);
    if applied.is_current(&key, digest) {
        return Ok((0, (key, digest)));
    }
    applied.begin(key.clone(), digest);
    match api
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await
    {
        Ok(answer) => {
            applied.record(&key, answer.meta());
            Ok((1, (key, digest)))
        }
        Err(source) => {
            applied.forget(&key);
            Err(Error::kube("apply", K::kind(&()), namespace, &name, source))
        }
    }
}

/// The cache key of the child `name` of kind `K`.
pub fn child_key<K: Resource<DynamicType = ()>>(namespace: &str, name: &str) -> ChildKey {
    ChildKey {
        kind: kind_name::<K>(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

/// The kind as a static string: the four child kinds are known.
fn kind_name<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()).as_ref() {
        "StatefulSet" => "StatefulSet",
        "ConfigMap" => "ConfigMap",
        "Service" => "Service",
        "ServiceAccount" => "ServiceAccount",
        _ => "Other",
    }
}

/// Deletes the children named `name` in `namespace` (StatefulSet first, so
/// the writer stops before its config goes); missing ones are fine.
pub async fn delete_children(
    client: &Client,
    applied: &AppliedChildren,
    namespace: &str,
    name: &str,
) -> Result<(), Error> {
    delete::<StatefulSet>(client, applied, namespace, name).await?;
    delete::<Service>(client, applied, namespace, name).await?;
    delete::<ConfigMap>(client, applied, namespace, name).await?;
    delete::<ServiceAccount>(client, applied, namespace, name).await?;
    Ok(())
}

/// Deletes the ServiceAccount the operator created before the spec named
/// its own.
pub async fn delete_service_account(
    client: &Client,
    applied: &AppliedChildren,
    namespace: &str,
    name: &str,
) -> Result<(), Error> {
    delete::<ServiceAccount>(client, applied, namespace, name).await
}

async fn delete<K>(
    client: &Client,
    applied: &AppliedChildren,
    namespace: &str,
    name: &str,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    applied.forget(&child_key::<K>(namespace, name));
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(source) => Err(Error::kube("delete", K::kind(&()), namespace, name, source)),
    }
}
