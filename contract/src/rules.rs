//! Validation messages the operator's CRD states again as CEL rules
//! (`x-kubernetes-validations`). The writer's validation says them, the
//! operator runs that validation on the config it renders, and the CRD's
//! rules quote the same constants: a mistake reads the same at admission, in
//! the SnapshotTable's status and in `check-config`. They name no key in
//! either spelling (`min_interval` here, `minInterval` in the CRD): the path
//! in front of each message does.

/// `snapshot.min_interval` longer than `snapshot.max_interval`.
pub const MIN_OVER_MAX: &str = "the minimum re-base interval must not be longer than the maximum";
/// `source.reconnect.initial_backoff` longer than `max_backoff`.
pub const BACKOFF_ORDER: &str = "the initial reconnect backoff must not be longer than the maximum";
/// A row filter with none or several of its predicates.
pub const FILTER_ONE_KIND: &str = "a filter needs exactly one of equals, prefix, in";
/// A destination names a credential profile no one defines.
pub const DESTINATION_PROFILE_UNDEFINED: &str =
    "a destination names a credential profile that is not defined";
/// An event sink names a credential profile no one defines.
pub const SINK_PROFILE_UNDEFINED: &str =
    "an event sink names a credential profile that is not defined";
