//! A suspended SnapshotTable (`spec.suspend: true`). The build step gives
//! its StatefulSet no replica, so the writer's pod gets SIGTERM: the writer
//! flushes a final diff, commits the manifest and stops (its grace period is
//! sized for that). This step follows it: `suspending` while a writer pod is
//! left (its `/status` still read, so the final commit shows when it can),
//! `suspended` once none is; Events say when it starts, when it is done and
//! when the resource resumes. Resuming starts the same writer, which
//! continues the chain from the archive's head in the same epoch.
//!
//! A re-base request made while suspended waits for the resume: there is
//! no writer to take it.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::status::{self, Observation};
use super::{Context, SHORT_REQUEUE, build};
use crate::Error;
use crate::crd::{STATE_SUSPENDED, STATE_SUSPENDING, SnapshotTable};

/// Follows a suspended resource's writer down: reads how many pods its
/// StatefulSet has left, asks a remaining writer for its status, publishes
/// the Events of the transition and writes the status.
pub(super) async fn hold(
    table: &SnapshotTable,
    ctx: &Context,
    api: &Api<SnapshotTable>,
    url: &str,
    qualified_table: &str,
    now: &Time,
) -> Result<Action, Error> {
    let namespace = table.namespace().unwrap_or_default();
    let name = build::child_name(table);
    let sets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &namespace);
    let set = sets
        .get_opt(&name)
        .await
        .map_err(|source| Error::kube("read", "StatefulSet", &namespace, &name, source))?;
    let pods_left = set.as_ref().map_or(0, pods_left);
    let report = match pods_left {
        0 => None,
        _ => ctx.writer.table_status(url, qualified_table).await.ok(),
    };
    let previous = previous_state(table);
    if !matches!(previous, Some(STATE_SUSPENDING | STATE_SUSPENDED)) {
        let note = "spec.suspend is true: scaling the writer to zero; it flushes its final diff and commits before it stops";
        ctx.publish(table, EventType::Normal, "Suspending", note.into())
            .await;
    }
    let observation = Observation::Suspended {
        pods_left,
        report: report.as_ref(),
    };
    let next = status::desired(table, &observation, None, now);
    if pods_left == 0 && previous != Some(STATE_SUSPENDED) {
        let note = next
            .condition(crate::crd::CONDITION_READY)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        ctx.publish(table, EventType::Normal, "Suspended", note)
            .await;
    }
    status::patch(api, table, &next).await?;
    Ok(Action::requeue(match pods_left {
        // Nothing changes until the spec does, and that wakes a reconcile.
        0 => ctx.settings.requeue_interval,
        _ => ctx.settings.requeue_interval.min(SHORT_REQUEUE),
    }))
}

/// Publishes `Resumed` when a resource that was suspended is not any more.
pub(super) async fn resumed(table: &SnapshotTable, ctx: &Context) {
    if table.is_suspended()
        || !matches!(
            previous_state(table),
            Some(STATE_SUSPENDING | STATE_SUSPENDED)
        )
    {
        return;
    }
    let head = table
        .status
        .as_ref()
        .and_then(|s| s.epoch)
        .map_or_else(String::new, |epoch| format!(" in epoch {epoch}"));
    let note = format!(
        "spec.suspend is false: starting the writer again; it continues the chain from the archive's head{head}"
    );
    ctx.publish(table, EventType::Normal, "Resumed", note).await;
}

fn previous_state(table: &SnapshotTable) -> Option<&str> {
    table.status.as_ref().and_then(|s| s.state.as_deref())
}

/// The pods a StatefulSet still has. One the controller has not caught up
/// with yet (its `observedGeneration` behind) counts as having one, so a
/// scale-down is not taken as done before the controller has acted on it.
pub fn pods_left(set: &StatefulSet) -> i32 {
    let Some(status) = &set.status else {
        // No controller has looked at it: it made no pod.
        return 0;
    };
    let behind = status
        .observed_generation
        .zip(set.metadata.generation)
        .is_some_and(|(seen, current)| seen < current);
    if behind {
        status.replicas.max(1)
    } else {
        status.replicas
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::StatefulSetStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn set(generation: i64, status: Option<(i64, i32)>) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                generation: Some(generation),
                ..ObjectMeta::default()
            },
            status: status.map(|(observed, replicas)| StatefulSetStatus {
                observed_generation: Some(observed),
                replicas,
                ..StatefulSetStatus::default()
            }),
            ..StatefulSet::default()
        }
    }

    #[test]
    fn pods_are_gone_once_the_controller_has_seen_the_scale_down_and_acted() {
        assert_eq!(pods_left(&set(2, Some((2, 1)))), 1, "terminating");
        assert_eq!(pods_left(&set(2, Some((2, 0)))), 0, "gone");
        assert_eq!(
            pods_left(&set(3, Some((2, 0)))),
            1,
            "the controller has not seen the latest spec yet"
        );
        assert_eq!(pods_left(&set(1, None)), 0, "no controller ever made one");
    }
}
