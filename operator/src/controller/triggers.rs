//! What wakes a SnapshotTable's reconcile, besides its own requeue.
//!
//! - **The SnapshotTable changed**: its generation (spec), annotations
//!   (`rebase=now` does not bump the generation), labels or deletion mark.
//!   Status-only changes, most of them the operator's own status writes, do
//!   not: reacting to them would double every reconcile.
//! - **Another SnapshotTable on the same location** was changed or deleted:
//!   a claim may resolve differently (sent as object references).
//! - **A child was changed by someone else, or deleted**
//!   ([`AppliedChildren::observe`]): the operator's own applies and the
//!   controller manager's StatefulSet status updates wake nobody.
//!
//! Children are watched by metadata only: the operator needs their owner,
//! generation and resource version, not their specs.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use futures::channel::mpsc::UnboundedSender;
use futures::{Stream, StreamExt, future};
use kube::api::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::crd::SnapshotTable;
use crate::reconcile::applied::{AppliedChildren, ChildEvent};
use crate::reconcile::apply::child_key;
use crate::reconcile::claims;

/// The SnapshotTables to reconcile, from one watch that also fills the
/// controller's store through `writer`. Related resources go to `related`.
pub fn table_changes(
    api: Api<SnapshotTable>,
    config: watcher::Config,
    writer: Writer<SnapshotTable>,
    related: UnboundedSender<ObjectRef<SnapshotTable>>,
) -> impl Stream<Item = Result<SnapshotTable, watcher::Error>> + Send {
    let store = writer.as_reader();
    let mut seen = DesiredState::default();
    watcher(api, config)
        .default_backoff()
        // The store keeps every SnapshotTable; their field-manager records
        // are the largest part of each object and the operator never reads them.
        .modify(|table| table.managed_fields_mut().clear())
        .reflect(writer)
        .filter_map(move |event| {
            let next = match event {
                Ok(watcher::Event::InitApply(table)) => seen.changed(&table).then_some(Ok(table)),
                Ok(watcher::Event::Apply(table)) => {
                    let changed = seen.changed(&table);
                    if changed {
                        send_related(&table, &store, &related);
                    }
                    changed.then_some(Ok(table))
                }
                Ok(watcher::Event::Delete(table)) => {
                    seen.forget(&table);
                    send_related(&table, &store, &related);
                    None
                }
                Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                Err(error) => Some(Err(error)),
            };
            future::ready(next)
        })
}

/// The children of kind `K` whose owners should reconcile; `api` lists
/// metadata only.
pub fn child_changes<K>(
    api: Api<PartialObjectMeta<K>>,
    config: watcher::Config,
    applied: Arc<AppliedChildren>,
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    watcher(api, config)
        .default_backoff()
        .filter_map(move |event| {
            let (meta, kind) = match event {
                Ok(watcher::Event::InitApply(meta)) => (meta, ChildEvent::Listed),
                Ok(watcher::Event::Apply(meta)) => (meta, ChildEvent::Changed),
                Ok(watcher::Event::Delete(meta)) => (meta, ChildEvent::Deleted),
                Ok(watcher::Event::Init | watcher::Event::InitDone) => {
                    return future::ready(None);
                }
                Err(error) => return future::ready(Some(Err(error))),
            };
            let key = child_key::<K>(
                meta.metadata.namespace.as_deref().unwrap_or_default(),
                meta.metadata.name.as_deref().unwrap_or_default(),
            );
            let wake = applied.observe(key, &meta.metadata, kind);
            future::ready(wake.then_some(Ok(meta)))
        })
}

fn send_related(
    table: &SnapshotTable,
    store: &Store<SnapshotTable>,
    related: &UnboundedSender<ObjectRef<SnapshotTable>>,
) {
    for other in claims::related(table, &store.state()) {
        // The receiver lives as long as the controller; after it stops,
        // nobody needs the trigger.
        let _ = related.unbounded_send(other);
    }
}

/// The last seen desired state of each SnapshotTable, as a hash of what a
/// reconcile acts on (everything but status).
#[derive(Default)]
struct DesiredState(HashMap<ObjectRef<SnapshotTable>, u64>);

impl DesiredState {
    /// Records `table`; whether its desired state differs from the last seen.
    fn changed(&mut self, table: &SnapshotTable) -> bool {
        let mut hasher = DefaultHasher::new();
        let meta = table.meta();
        meta.uid.hash(&mut hasher);
        meta.generation.hash(&mut hasher);
        meta.annotations.hash(&mut hasher);
        meta.labels.hash(&mut hasher);
        meta.deletion_timestamp.is_some().hash(&mut hasher);
        let hash = hasher.finish();
        self.0.insert(ObjectRef::from_obj(table), hash) != Some(hash)
    }

    fn forget(&mut self, table: &SnapshotTable) {
        self.0.remove(&ObjectRef::from_obj(table));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::crd::SnapshotTableStatus;
    use crate::fixtures::local_table;

    #[test]
    fn status_writes_do_not_count_as_changes_but_annotations_do() {
        let mut seen = DesiredState::default();
        let mut table = local_table("orders");
        assert!(seen.changed(&table), "first sight");
        assert!(!seen.changed(&table), "a relist of the same object");

        table.status = Some(SnapshotTableStatus {
            epoch: Some(3),
            ..SnapshotTableStatus::default()
        });
        assert!(!seen.changed(&table), "the operator's own status write");

        table.metadata.annotations = Some(BTreeMap::from([("rebase".into(), "now".into())]));
        assert!(seen.changed(&table), "kubectl annotate … rebase=now");

        table.metadata.generation = Some(table.metadata.generation.unwrap_or(1) + 1);
        assert!(seen.changed(&table), "a spec change");

        seen.forget(&table);
        assert!(seen.changed(&table), "recreated under the same name");
    }
}
