//! The messages of the CRD's CEL rules, in one place: the rules in the
//! schema and the operator's own validation
//! ([`crate::reconcile::validate`]) report a mistake in the same words.
//! Servers before 1.25 drop CEL rules, so there the operator's validation is
//! the only check, and its `Degraded` condition must read like the
//! admission error a newer server gives.
//!
//! Rules on what the writer's config validation also checks use its
//! messages ([`snapshot_contract::rules`]): that validation runs on the
//! config the operator renders, so the text is one text on all three sides.

pub use snapshot_contract::rules::{
    BACKOFF_ORDER, DESTINATION_PROFILE_UNDEFINED, FILTER_ONE_KIND, MIN_OVER_MAX,
    SINK_PROFILE_UNDEFINED,
};

/// `metadata.name` too long for the names derived from it.
pub const NAME_TOO_LONG: &str = "metadata.name must be at most 45 characters: the writer's StatefulSet, pod and revision labels are derived from it";
/// `keyPrefix` changed.
pub const KEY_PREFIX_IMMUTABLE: &str = "keyPrefix is immutable: it is where the archive lives; create a new SnapshotTable to write elsewhere";
/// `writer.storage` changed.
pub const STORAGE_IMMUTABLE: &str =
    "writer.storage is immutable: a StatefulSet's volume claim template cannot change";
/// A destination's identity changed.
pub const DESTINATIONS_IMMUTABLE: &str = "destination identities (kind, endpoint, bucket, prefix, path) are immutable; create a new SnapshotTable to write elsewhere";
/// An `irsa` profile with `writer.serviceAccountName` set.
pub const IRSA_WITH_OWN_ACCOUNT: &str = "an irsa profile annotates the ServiceAccount the operator creates; with writer.serviceAccountName set, annotate that ServiceAccount yourself and use an ambient profile";
/// More than one `irsa` profile.
pub const ONE_IRSA_PROFILE: &str =
    "at most one irsa profile: a pod has one ServiceAccount, hence one web identity";
/// A credential profile with none or several kinds.
pub const PROFILE_ONE_KIND: &str =
    "a credential profile needs exactly one of irsa, assumeRole, ambient";
/// A destination with none or several kinds.
pub const DESTINATION_ONE_KIND: &str = "a destination needs exactly one of local, s3";
/// An event sink with none or several kinds.
pub const SINK_ONE_KIND: &str = "an event sink needs exactly one of sns, sqs, kinesis";
/// `source.schema` changed.
pub const SCHEMA_IMMUTABLE: &str = "source.schema is immutable: a SnapshotTable archives one table; create a new one for another table";
/// `source.table` changed.
pub const TABLE_IMMUTABLE: &str = "source.table is immutable: a SnapshotTable archives one table; create a new one for another table";
