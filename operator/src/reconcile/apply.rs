//! Step 4: server-side apply of the children under one field manager
//! ([`MANAGER`]), forcing ownership of the fields the operator sets; and
//! their removal when a resource loses its claim.
//!
//! Children are applied on every reconcile: an apply that changes nothing is
//! a no-op on the server, and drift (an edited StatefulSet) is repaired.

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::reconcile::build::Children;
use crate::{Error, MANAGER};

/// Applies every child of one SnapshotTable in `namespace`, in the order the
/// writer needs them (config and identity before the pod that uses them).
pub async fn apply_children(
    client: &Client,
    namespace: &str,
    children: &Children,
) -> Result<(), Error> {
    apply(client, namespace, &children.config_map).await?;
    if let Some(account) = &children.service_account {
        apply(client, namespace, account).await?;
    }
    apply(client, namespace, &children.service).await?;
    apply(client, namespace, &children.stateful_set).await?;
    Ok(())
}

/// Server-side apply of one object, which must carry its name.
async fn apply<K>(client: &Client, namespace: &str, object: &K) -> Result<(), Error>
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
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|source| Error::kube("apply", K::kind(&()), namespace, &name, source))?;
    Ok(())
}

/// Deletes the children named `name` in `namespace` (StatefulSet first, so
/// the writer stops before its config goes); missing ones are fine.
pub async fn delete_children(client: &Client, namespace: &str, name: &str) -> Result<(), Error> {
    delete::<StatefulSet>(client, namespace, name).await?;
    delete::<Service>(client, namespace, name).await?;
    delete::<ConfigMap>(client, namespace, name).await?;
    delete::<ServiceAccount>(client, namespace, name).await?;
    Ok(())
}

/// Deletes the ServiceAccount the operator created before the spec named
/// its own.
pub async fn delete_service_account(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<(), Error> {
    delete::<ServiceAccount>(client, namespace, name).await
}

async fn delete<K>(client: &Client, namespace: &str, name: &str) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(source) => Err(Error::kube("delete", K::kind(&()), namespace, name, source)),
    }
}
