//! Step 2 (pure): one writer per destination location across every
//! SnapshotTable the operator sees.
//!
//! A location is where a table's manifest lives: for S3, endpoint + bucket +
//! prefix + key prefix (the key prefix defaults to `<table>/`, so this is the
//! "(table, destination prefix)" pair); for a local destination on a shared
//! `existingClaim`, the claim + path + key prefix. A local destination on the
//! claim the StatefulSet creates belongs to its resource alone and never
//! conflicts.
//!
//! The older claim wins: resources are ranked by `creationTimestamp`, then
//! `uid`, and walked oldest first; a resource is active unless one of its
//! locations is held by an active older one. A blocked resource holds
//! nothing, so it cannot block a third one, and when the winner goes away the
//! next in line becomes active at its next reconcile (the controller triggers
//! that reconcile through [`related`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::crd::SnapshotTable;
use crate::reconcile::validate::validate;

/// The resource that holds a location another one wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// Namespace of the winner.
    pub namespace: String,
    /// Name of the winner.
    pub name: String,
    /// The location both want.
    pub location: String,
}

impl Blocker {
    /// `namespace/name`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Rank: older first; `uid` breaks ties; objects without a timestamp (never
/// from the API server) rank last.
/// Borrowed: every reconcile ranks every resource.
fn rank(table: &SnapshotTable) -> (bool, Option<&Time>, &str) {
    let created = table.metadata.creation_timestamp.as_ref();
    (
        created.is_none(),
        created,
        table.metadata.uid.as_deref().unwrap_or_default(),
    )
}

fn same_object(a: &SnapshotTable, b: &SnapshotTable) -> bool {
    match (a.uid(), b.uid()) {
        (Some(a), Some(b)) => a == b,
        _ => a.namespace() == b.namespace() && a.name_any() == b.name_any(),
    }
}

/// The locations a resource claims; `None` for resources that claim nothing
/// (invalid spec, being deleted).
pub fn locations(table: &SnapshotTable) -> Option<Vec<String>> {
    if table.metadata.deletion_timestamp.is_some() {
        return None;
    }
    validate(table).ok().map(|v| v.locations)
}

/// The locations of each SnapshotTable, computed once per generation: every
/// reconcile asks for those of every older resource, and validating a
/// thousand specs per reconcile was most of an idle operator's CPU.
#[derive(Debug, Default)]
pub struct LocationCache {
    by_uid: Mutex<HashMap<String, CachedLocations>>,
}

/// The generation the locations were computed from, and the locations
/// (`None`: the resource claims nothing).
type CachedLocations = (Option<i64>, Option<Arc<[String]>>);

impl LocationCache {
    /// [`locations`] of `table`, from the cache while its generation and
    /// deletion mark are unchanged.
    pub fn of(&self, table: &SnapshotTable) -> Option<Arc<[String]>> {
        if table.metadata.deletion_timestamp.is_some() {
            return None;
        }
        let Some(uid) = table.uid() else {
            return locations(table).map(Arc::from);
        };
        let generation = table.metadata.generation;
        let mut cache = self
            .by_uid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((seen, cached)) = cache.get(&uid)
            && *seen == generation
        {
            return cached.clone();
        }
        let computed = locations(table).map(Arc::from);
        cache.insert(uid, (generation, computed.clone()));
        computed
    }

    /// Forgets resources no longer in `all`, once the cache has grown to
    /// twice their number.
    fn prune(&self, all: &[Arc<SnapshotTable>]) {
        let mut cache = self
            .by_uid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() > 2 * all.len() + 16 {
            let live: HashSet<String> = all.iter().filter_map(|t| t.uid()).collect();
            cache.retain(|uid, _| live.contains(uid));
        }
    }
}

/// Who blocks `me` from running its writer, given every SnapshotTable known
/// (`all` may contain `me`, possibly in an older version; `me` is taken as
/// given).
pub fn blocker(
    me: &SnapshotTable,
    my_locations: &[String],
    all: &[Arc<SnapshotTable>],
    cache: &LocationCache,
) -> Option<Blocker> {
    if my_locations.is_empty() {
        return None;
    }
    cache.prune(all);
    let my_rank = rank(me);
    let mut others: Vec<(&SnapshotTable, Arc<[String]>)> = all
        .iter()
        .map(Arc::as_ref)
        .filter(|t| !same_object(t, me))
        .filter(|t| rank(t) < my_rank)
        .filter_map(|t| Some((t, cache.of(t)?)))
        .collect();
    others.sort_by_key(|(t, _)| rank(t));
    let mut held: BTreeMap<&str, &SnapshotTable> = BTreeMap::new();
    for (table, locations) in &others {
        if locations.iter().any(|l| held.contains_key(l.as_str())) {
            continue;
        }
        for location in locations.iter() {
            held.insert(location, table);
        }
    }
    my_locations.iter().find_map(|location| {
        held.get(location.as_str()).map(|winner| Blocker {
            namespace: winner.namespace().unwrap_or_default(),
            name: winner.name_any(),
            location: location.clone(),
        })
    })
}

/// The other resources that share a location with `changed`: when it is
/// created, changed or deleted, their claims may resolve differently.
pub fn related(
    changed: &SnapshotTable,
    all: &[Arc<SnapshotTable>],
) -> Vec<ObjectRef<SnapshotTable>> {
    // A deleted object still tells where it was: ignore the deletion mark.
    let mut probe = changed.clone();
    probe.metadata.deletion_timestamp = None;
    let Some(mine) = locations(&probe) else {
        return Vec::new();
    };
    all.iter()
        .filter(|t| !same_object(t, changed))
        .filter(|t| locations(t).is_some_and(|theirs| theirs.iter().any(|l| mine.contains(l))))
        .map(|t| ObjectRef::from_obj(t.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{s3_table, with_age};

    fn all(tables: &[&SnapshotTable]) -> Vec<Arc<SnapshotTable>> {
        tables.iter().map(|t| Arc::new((*t).clone())).collect()
    }

    fn blocker_of(me: &SnapshotTable, tables: &[&SnapshotTable]) -> Option<String> {
        let mine = locations(me).unwrap();
        blocker(me, &mine, &all(tables), &LocationCache::default()).map(|b| b.name)
    }

    #[test]
    fn the_older_claim_wins() {
        let old = with_age(s3_table("old", "bucket", "archive/"), 100, "b");
        let new = with_age(s3_table("new", "bucket", "archive/"), 10, "a");
        assert_eq!(blocker_of(&new, &[&old, &new]), Some("old".into()));
        assert_eq!(blocker_of(&old, &[&old, &new]), None);
    }

    #[test]
    fn uid_breaks_a_tie_in_age() {
        let a = with_age(s3_table("a", "bucket", "archive/"), 50, "uid-1");
        let b = with_age(s3_table("b", "bucket", "archive/"), 50, "uid-2");
        assert_eq!(blocker_of(&b, &[&a, &b]), Some("a".into()));
        assert_eq!(blocker_of(&a, &[&a, &b]), None);
    }

    #[test]
    fn different_prefixes_do_not_conflict() {
        let old = with_age(s3_table("old", "bucket", "one/"), 100, "b");
        let new = with_age(s3_table("new", "bucket", "two/"), 10, "a");
        assert_eq!(blocker_of(&new, &[&old, &new]), None);
    }

    #[test]
    fn a_blocked_resource_blocks_nobody() {
        // a holds X; b wants X and Y (blocked); c wants Y and must run.
        let a = with_age(s3_table("a", "x", "p/"), 300, "1");
        let mut b = with_age(s3_table("b", "x", "p/"), 200, "2");
        b.spec
            .destinations
            .push(s3_table("tmp", "y", "p/").spec.destinations.remove(0));
        let c = with_age(s3_table("c", "y", "p/"), 100, "3");
        assert_eq!(blocker_of(&b, &[&a, &b, &c]), Some("a".into()));
        assert_eq!(blocker_of(&c, &[&a, &b, &c]), None);
    }

    #[test]
    fn a_deleted_or_invalid_winner_releases_its_claim() {
        let mut old = with_age(s3_table("old", "bucket", "archive/"), 100, "b");
        let new = with_age(s3_table("new", "bucket", "archive/"), 10, "a");
        old.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        assert_eq!(blocker_of(&new, &[&old, &new]), None);
        let mut invalid = with_age(s3_table("old", "bucket", "archive/"), 100, "b");
        invalid.spec.source.table.clear();
        assert_eq!(blocker_of(&new, &[&invalid, &new]), None);
    }

    #[test]
    fn related_finds_the_others_on_the_same_location() {
        let old = with_age(s3_table("old", "bucket", "archive/"), 100, "b");
        let new = with_age(s3_table("new", "bucket", "archive/"), 10, "a");
        let elsewhere = with_age(s3_table("elsewhere", "bucket", "other/"), 10, "c");
        let mut deleted = old.clone();
        deleted.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        let refs = related(&deleted, &all(&[&new, &elsewhere]));
        assert_eq!(refs, vec![ObjectRef::from_obj(&new)]);
    }
}
