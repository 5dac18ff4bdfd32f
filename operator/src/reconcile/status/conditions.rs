//! The conditions a status holds besides `Stale` (`reconcile::freshness`):
//! `Ready`, `Conflict` and `Degraded` of a suspended table and of a writer's
//! report, and the rule that keeps a condition's `lastTransitionTime` until
//! its status flips.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use snapshot_contract::status::{TableState, TableStatus};

use crate::crd::{
    CONDITION_CONFLICT, CONDITION_DEGRADED, CONDITION_READY, STATE_SUSPENDED, STATE_SUSPENDING,
    SnapshotTableStatus,
};

/// The `Conflict=False` message. Every condition carries a message: servers
/// before 1.21 turn an empty string into `null` in a server-side apply and
/// then reject the status as invalid.
pub(super) const NO_CONFLICT: &str = "no other SnapshotTable claims this resource's destinations";

/// A suspended table's state and conditions: suspending while a pod is
/// left, suspended once none is.
pub(super) fn suspended_conditions(
    next: &mut SnapshotTableStatus,
    pods_left: i32,
) -> [(&'static str, bool, &'static str, String); 3] {
    let head = match (next.epoch, next.head_position.as_deref()) {
        (Some(epoch), Some(position)) => format!("epoch {epoch} at position {position}"),
        (Some(epoch), None) => format!("epoch {epoch}"),
        _ => "no committed artifact".into(),
    };
    let ready = if pods_left > 0 {
        next.state = Some(STATE_SUSPENDING.into());
        (
            CONDITION_READY,
            false,
            "Suspending",
            format!(
                "spec.suspend is true: the writer flushes its final diff and commits before it stops (writer pods left: {pods_left})"
            ),
        )
    } else {
        next.state = Some(STATE_SUSPENDED.into());
        (
            CONDITION_READY,
            false,
            "Suspended",
            format!(
                "spec.suspend is true: no writer runs; the archive's head is {head}, and setting spec.suspend to false continues it"
            ),
        )
    };
    [
        ready,
        (CONDITION_CONFLICT, false, "NoConflict", NO_CONFLICT.into()),
        (
            CONDITION_DEGRADED,
            false,
            "Suspended",
            "no writer runs while the resource is suspended".into(),
        ),
    ]
}

pub(super) fn writer_conditions(
    report: &TableStatus,
) -> [(&'static str, bool, &'static str, String); 3] {
    let ready = if report.ready {
        (
            CONDITION_READY,
            true,
            "WriterReady",
            format!("epoch {} durable on every destination", report.epoch),
        )
    } else {
        (
            CONDITION_READY,
            false,
            "WriterNotReady",
            format!("the writer is {}", report.state),
        )
    };
    let error = report
        .last_error
        .as_ref()
        .map(|e| format!("{} error at {}: {}", e.scope, e.at, e.message));
    let conflict = if report.state == TableState::Fenced {
        let message = error
            .clone()
            .unwrap_or_else(|| "another writer committed the manifest".into());
        (
            CONDITION_CONFLICT,
            true,
            "Fenced",
            format!("the writer stopped: another writer owns the archive ({message})"),
        )
    } else {
        (CONDITION_CONFLICT, false, "NoConflict", NO_CONFLICT.into())
    };
    let degraded = match (report.state == TableState::Degraded, error) {
        (true, error) => (
            CONDITION_DEGRADED,
            true,
            "WriterDegraded",
            error.unwrap_or_else(|| "the writer is degraded".into()),
        ),
        (false, Some(error)) => (CONDITION_DEGRADED, true, "WriterError", error),
        (false, None) => (
            CONDITION_DEGRADED,
            false,
            "AsExpected",
            "the writer reports no error".into(),
        ),
    };
    [ready, conflict, degraded]
}

/// A condition whose `lastTransitionTime` stays as it was unless the status
/// changes.
pub(crate) fn condition(
    previous: Option<&Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let last_transition_time = match previous {
        Some(previous) if previous.status == status => previous.last_transition_time.clone(),
        _ => now.clone(),
    };
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}
