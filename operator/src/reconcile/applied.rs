//! What the operator last applied to each child, so that a reconcile that
//! changes nothing sends nothing, and the child watches wake a SnapshotTable
//! only for someone else's change to its children.
//!
//! An entry holds the digest of the body last applied and the version the
//! server answered with: the `generation` where the kind has one (a
//! StatefulSet: the controller manager's status updates leave it alone), else
//! the `resourceVersion`. A child whose watched version differs from the
//! recorded one was changed by someone else (or deleted): the entry turns
//! stale and the next reconcile applies it again, repairing the drift.
//!
//! The cache is memory only. After a restart it is empty, every
//! SnapshotTable is reconciled from the initial list, and each child is
//! applied once more (a no-op on the server when nothing drifted).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use kube::api::ObjectMeta;

/// One child: its kind and where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChildKey {
    /// The kind (`StatefulSet`, `ConfigMap`, …).
    pub kind: &'static str,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

#[derive(Debug)]
struct Applied {
    digest: u64,
    /// `None` while the apply is in flight: the watch may deliver its own
    /// write before the answer arrives, and that is not drift.
    version: Option<String>,
    stale: bool,
}

/// What a watch event on a child means for its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEvent {
    /// Listed when a watch (re)starts.
    Listed,
    /// Created or changed.
    Changed,
    /// Deleted.
    Deleted,
}

/// The children applied so far, shared by the reconciles and the watches.
#[derive(Debug, Default)]
pub struct AppliedChildren {
    entries: Mutex<HashMap<ChildKey, Applied>>,
    /// Per owner (namespace, name): the uid and generation its children were
    /// last built from, and their keys and digests. The children depend on
    /// nothing else of the owner, so a status refresh of an unchanged owner
    /// needs neither a build nor an apply.
    owners: Mutex<HashMap<(String, String), BuiltFrom>>,
}

#[derive(Debug, Clone)]
struct BuiltFrom {
    uid: String,
    generation: Option<i64>,
    children: Vec<(ChildKey, u64)>,
}

impl AppliedChildren {
    /// Whether `body` (digested with [`digest`]) was applied last and the
    /// child has not changed since.
    pub fn is_current(&self, key: &ChildKey, digest: u64) -> bool {
        self.with(|entries| {
            entries
                .get(key)
                .is_some_and(|a| a.digest == digest && a.version.is_some() && !a.stale)
        })
    }

    /// Marks an apply of `digest` as in flight.
    pub fn begin(&self, key: ChildKey, digest: u64) {
        self.with(|entries| {
            entries.insert(
                key,
                Applied {
                    digest,
                    version: None,
                    stale: false,
                },
            );
        });
    }

    /// Records the server's answer to an apply begun with [`Self::begin`].
    pub fn record(&self, key: &ChildKey, meta: &ObjectMeta) {
        self.with(|entries| {
            if let Some(applied) = entries.get_mut(key) {
                applied.version = Some(version(meta));
            }
        });
    }

    /// Forgets a child (a failed apply, a deletion by the operator).
    pub fn forget(&self, key: &ChildKey) {
        self.with(|entries| {
            entries.remove(key);
        });
    }

    /// Takes in a watch event on a child; returns whether its owner should
    /// reconcile: a deletion, or a change the operator did not make.
    ///
    /// A child the operator has not applied since it started wakes nobody
    /// unless deleted: every SnapshotTable is reconciled from the initial
    /// list anyway, and that reconcile applies it.
    pub fn observe(&self, key: ChildKey, meta: &ObjectMeta, event: ChildEvent) -> bool {
        self.with(|entries| match event {
            ChildEvent::Deleted => {
                entries.remove(&key);
                true
            }
            ChildEvent::Listed | ChildEvent::Changed => match entries.get_mut(&key) {
                None => false,
                Some(applied) => match &applied.version {
                    None => false,
                    Some(seen) if *seen == version(meta) => false,
                    Some(_) => {
                        applied.stale = true;
                        true
                    }
                },
            },
        })
    }

    /// Whether the children of the owner `namespace/name` were built from
    /// this `uid` and `generation`, applied, and are all still current.
    pub fn owner_is_current(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        generation: Option<i64>,
    ) -> bool {
        let built = {
            let owners = self
                .owners
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match owners.get(&(namespace.to_owned(), name.to_owned())) {
                Some(built) if built.uid == uid && built.generation == generation => {
                    built.children.clone()
                }
                _ => return false,
            }
        };
        built
            .iter()
            .all(|(key, digest)| self.is_current(key, *digest))
    }

    /// Records that the owner's children, built from `uid` and
    /// `generation`, were applied with these digests.
    pub fn record_owner(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        generation: Option<i64>,
        children: Vec<(ChildKey, u64)>,
    ) {
        self.owners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                (namespace.to_owned(), name.to_owned()),
                BuiltFrom {
                    uid: uid.to_owned(),
                    generation,
                    children,
                },
            );
    }

    /// Number of children known.
    pub fn len(&self) -> usize {
        self.with(|entries| entries.len())
    }

    /// Whether no child is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<ChildKey, Applied>) -> T) -> T {
        // A panic while holding the lock cannot leave an entry half-written
        // (every update is one insert or field store): use the map as is.
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut entries)
    }
}

/// The digest of an object body as applied.
pub fn digest(body: &serde_json::Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    hasher.finish()
}

/// The version a change by someone else moves: the generation where the kind
/// has one, else the resource version.
fn version(meta: &ObjectMeta) -> String {
    match meta.generation {
        Some(generation) => format!("g{generation}"),
        None => format!("r{}", meta.resource_version.as_deref().unwrap_or("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ChildKey {
        ChildKey {
            kind: "StatefulSet",
            namespace: "ns".into(),
            name: "orders-writer".into(),
        }
    }

    fn meta(generation: Option<i64>, resource_version: &str) -> ObjectMeta {
        ObjectMeta {
            generation,
            resource_version: Some(resource_version.into()),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn an_applied_child_is_current_until_someone_else_changes_it() {
        let applied = AppliedChildren::default();
        assert!(!applied.is_current(&key(), 7), "never applied");
        applied.begin(key(), 7);
        assert!(!applied.is_current(&key(), 7), "in flight");
        // The watch delivers the operator's own write before the answer.
        assert!(!applied.observe(key(), &meta(Some(1), "10"), ChildEvent::Changed));
        applied.record(&key(), &meta(Some(1), "10"));
        assert!(applied.is_current(&key(), 7));
        assert!(!applied.is_current(&key(), 8), "a new body is applied");

        // The controller manager's status update: same generation.
        assert!(!applied.observe(key(), &meta(Some(1), "11"), ChildEvent::Changed));
        assert!(applied.is_current(&key(), 7));

        // A user's edit of the spec.
        assert!(applied.observe(key(), &meta(Some(2), "12"), ChildEvent::Changed));
        assert!(!applied.is_current(&key(), 7), "drift is applied over");
    }

    #[test]
    fn kinds_without_a_generation_compare_resource_versions() {
        let applied = AppliedChildren::default();
        applied.begin(key(), 1);
        applied.record(&key(), &meta(None, "5"));
        assert!(!applied.observe(key(), &meta(None, "5"), ChildEvent::Listed));
        assert!(applied.observe(key(), &meta(None, "6"), ChildEvent::Listed));
        assert!(!applied.is_current(&key(), 1));
    }

    #[test]
    fn a_deletion_always_wakes_the_owner_and_forgets_the_child() {
        let applied = AppliedChildren::default();
        assert!(applied.observe(key(), &meta(Some(1), "1"), ChildEvent::Deleted));
        applied.begin(key(), 1);
        applied.record(&key(), &meta(Some(1), "1"));
        assert!(applied.observe(key(), &meta(Some(1), "1"), ChildEvent::Deleted));
        assert!(applied.is_empty());
        assert!(
            !applied.observe(key(), &meta(Some(1), "1"), ChildEvent::Changed),
            "unknown children wake nobody: the initial list reconciles every owner"
        );
    }

    #[test]
    fn an_owner_is_current_while_its_generation_and_children_are() {
        let applied = AppliedChildren::default();
        assert!(!applied.owner_is_current("ns", "orders", "u1", Some(1)));
        applied.begin(key(), 7);
        applied.record(&key(), &meta(Some(1), "10"));
        applied.record_owner("ns", "orders", "u1", Some(1), vec![(key(), 7)]);
        assert!(applied.owner_is_current("ns", "orders", "u1", Some(1)));
        assert!(
            !applied.owner_is_current("ns", "orders", "u1", Some(2)),
            "a spec change"
        );
        assert!(
            !applied.owner_is_current("ns", "orders", "u2", Some(1)),
            "recreated"
        );
        assert!(applied.observe(key(), &meta(Some(2), "11"), ChildEvent::Changed));
        assert!(
            !applied.owner_is_current("ns", "orders", "u1", Some(1)),
            "a child drifted"
        );
    }
}
