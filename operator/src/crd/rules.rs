//! The messages of the CRD's CEL rules, in one place: the rules in the
//! schema and the operator's own validation
//! ([`crate::reconcile::validate`]) report a mistake in the same words.
//! Servers before 1.25 drop CEL rules, so there the operator's validation is
//! the only check, and its `Degraded` condition must read like the
//! admission error a newer server gives.

/// `metadata.name` too long for the names derived from it.
pub const NAME_TOO_LONG: &str = "metadata.name must be at most 45 characters: the writer's StatefulSet, pod and revision labels are derived from it";
/// `keyPrefix` changed.
pub const KEY_PREFIX_IMMUTABLE: &str = "keyPrefix is immutable: it is where the archive lives; create a new SnapshotTable to write elsewhere";
/// `writer.storage` changed.
pub const STORAGE_IMMUTABLE: &str =
    "writer.storage is immutable: a StatefulSet's volume claim template cannot change";
/// A destination's identity changed.
pub const DESTINATIONS_IMMUTABLE: &str = "destination identities (kind, endpoint, bucket, prefix, path) are immutable; create a new SnapshotTable to write elsewhere";
/// A destination names an undefined credential profile.
pub const DESTINATION_PROFILE_UNDEFINED: &str =
    "a destination names a credential profile that spec.credentials does not define";
/// An event sink names an undefined credential profile.
pub const SINK_PROFILE_UNDEFINED: &str =
    "an event sink names a credential profile that spec.credentials does not define";
/// An `irsa` profile with `writer.serviceAccountName` set.
pub const IRSA_WITH_OWN_ACCOUNT: &str = "an irsa profile annotates the ServiceAccount the operator creates; with writer.serviceAccountName set, annotate that ServiceAccount yourself and use an ambient profile";
/// More than one `irsa` profile.
pub const ONE_IRSA_PROFILE: &str =
    "at most one irsa profile: a pod has one ServiceAccount, hence one web identity";
/// `snapshot.minInterval` longer than `snapshot.maxInterval`.
pub const MIN_OVER_MAX: &str = "minInterval must not be longer than maxInterval";
/// A credential profile with none or several kinds.
pub const PROFILE_ONE_KIND: &str =
    "a credential profile needs exactly one of irsa, assumeRole, ambient";
/// A destination with none or several kinds.
pub const DESTINATION_ONE_KIND: &str = "a destination needs exactly one of local, s3";
/// An event sink with none or several kinds.
pub const SINK_ONE_KIND: &str = "an event sink needs exactly one of sns, sqs, kinesis";
/// A row filter with none or several kinds.
pub const FILTER_ONE_KIND: &str = "a filter needs exactly one of equals, prefix, in";
/// `source.schema` changed.
pub const SCHEMA_IMMUTABLE: &str = "source.schema is immutable: a SnapshotTable archives one table; create a new one for another table";
/// `source.table` changed.
pub const TABLE_IMMUTABLE: &str = "source.table is immutable: a SnapshotTable archives one table; create a new one for another table";
/// `reconnect.initialBackoff` longer than `reconnect.maxBackoff`.
pub const BACKOFF_ORDER: &str = "initialBackoff must not be longer than maxBackoff";
