//! One reconcile of a SnapshotTable: validate → claims → build → apply →
//! rebase → status, each step its own module; a suspended resource
//! (`spec.suspend`) goes from apply to [`suspend`] instead.
//!
//! Waiting states (invalid spec, conflict, writer not ready) are reported in
//! status and requeued, not returned as errors; errors (API failures, a
//! rejected re-base) are retried with a per-object exponential backoff.

pub mod applied;
pub mod apply;
pub mod build;
pub mod claims;
pub mod freshness;
pub mod rebase;
pub mod status;
pub mod suspend;
pub mod validate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{info, warn};

use crate::Error;
use crate::crd::{CONDITION_CONFLICT, SnapshotTable};
use crate::metrics::Metrics;
use crate::writer_client::{WriterClient, writer_url};
use applied::AppliedChildren;
use build::BuildSettings;
use status::Observation;

/// Operator-wide settings of the reconcile.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The writer's API address with `{name}` and `{namespace}` placeholders.
    pub writer_url_template: String,
    /// How often a SnapshotTable's status is refreshed from its writer.
    pub requeue_interval: Duration,
    /// Inputs to the build step.
    pub build: BuildSettings,
}

/// What every reconcile shares.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Publishes Events on SnapshotTables; shared so repeated events
    /// aggregate into series.
    pub recorder: Recorder,
    /// Every SnapshotTable the controller watches, for claim resolution.
    pub store: Store<SnapshotTable>,
    /// Calls the writers' HTTP APIs.
    pub writer: WriterClient,
    /// Operator-wide settings.
    pub settings: Settings,
    /// Reconcile metrics.
    pub metrics: Arc<Metrics>,
    /// The children applied so far; shared with the child watches.
    pub applied: Arc<AppliedChildren>,
    /// Every SnapshotTable's locations, for the claims.
    pub locations: claims::LocationCache,
    /// Consecutive failures per object, for the retry backoff.
    failures: Mutex<HashMap<ObjectRef<SnapshotTable>, u32>>,
    /// Consecutive reconciles per object that could not reach its writer.
    unreachable: Mutex<HashMap<ObjectRef<SnapshotTable>, u32>>,
}

impl Context {
    /// A context for reconciles.
    pub fn new(
        client: Client,
        recorder: Recorder,
        store: Store<SnapshotTable>,
        settings: Settings,
        metrics: Arc<Metrics>,
        applied: Arc<AppliedChildren>,
    ) -> Self {
        Self {
            client,
            recorder,
            store,
            writer: WriterClient::new(),
            settings,
            metrics,
            applied,
            locations: claims::LocationCache::default(),
            failures: Mutex::new(HashMap::new()),
            unreachable: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more reconcile that could not reach the writer of `key`
    /// (`reached: false`), or resets the count; returns the count.
    fn unreachable_streak(&self, key: &ObjectRef<SnapshotTable>, reached: bool) -> u32 {
        let mut streaks = self
            .unreachable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if reached {
            streaks.remove(key);
            return 0;
        }
        let count = streaks.entry(key.clone()).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    async fn publish(&self, table: &SnapshotTable, type_: EventType, reason: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        // An Event is informational: failing to record one must not fail
        // the reconcile.
        if let Err(error) = self.recorder.publish(&event, &table.object_ref(&())).await {
            warn!(%error, reason, "could not publish event");
        }
    }
}

/// First retry after an error; doubled per consecutive failure.
const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest retry delay after errors.
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Requeue while the writer is not ready yet, a re-base was just made, or a
/// conflict waits to resolve; capped by the regular interval. An unreachable
/// writer (its pod not running yet) is asked again after twice as long each
/// time, up to the regular interval: a thousand pending pods must not keep
/// the operator busy.
const SHORT_REQUEUE: Duration = Duration::from_secs(5);

/// Reconciles one SnapshotTable; records metrics, and an Event on failure.
pub async fn reconcile(table: Arc<SnapshotTable>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_table(&table, &ctx).await;
    ctx.metrics
        .observe(started.elapsed(), result.as_ref().err());
    let key = ObjectRef::from_obj(table.as_ref());
    match &result {
        Ok(_) => {
            ctx.failures.lock().map(|mut f| f.remove(&key)).ok();
        }
        Err(error) => {
            warn!(table = %key, %error, "reconcile failed");
            if !matches!(error, Error::Rebase { .. }) {
                ctx.publish(
                    &table,
                    EventType::Warning,
                    "ReconcileError",
                    error.to_string(),
                )
                .await;
            }
        }
    }
    result
}

/// The retry delay after a failed reconcile: exponential per object.
pub fn error_policy(table: Arc<SnapshotTable>, _error: &Error, ctx: Arc<Context>) -> Action {
    let key = ObjectRef::from_obj(table.as_ref());
    let failures = ctx
        .failures
        .lock()
        .map(|mut f| {
            let count = f.entry(key).or_insert(0);
            *count = count.saturating_add(1);
            *count
        })
        .unwrap_or(1);
    Action::requeue(backoff(failures))
}

/// `BACKOFF_BASE * 2^(failures-1)`, at most `BACKOFF_MAX`.
pub fn backoff(failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
}

async fn reconcile_table(table: &SnapshotTable, ctx: &Context) -> Result<Action, Error> {
    if table.metadata.deletion_timestamp.is_some() {
        // Children go with the owner (garbage collection); nothing to do.
        return Ok(Action::await_change());
    }
    let namespace = table
        .namespace()
        .ok_or(Error::MissingMetadata("metadata.namespace"))?;
    let name = table.name_any();
    let api: Api<SnapshotTable> = Api::namespaced(ctx.client.clone(), &namespace);
    let new_generation =
        table.status.as_ref().and_then(|s| s.observed_generation) != table.metadata.generation;
    let now = Time(k8s_openapi::jiff::Timestamp::now());

    let validated = match validate::validate(table) {
        Ok(validated) => validated,
        Err(invalid) => {
            if new_generation {
                ctx.publish(
                    table,
                    EventType::Warning,
                    "InvalidSpec",
                    invalid.to_string(),
                )
                .await;
            }
            let next = status::desired(table, &Observation::Invalid(&invalid), None, &now);
            status::patch(&api, table, &next).await?;
            return Ok(Action::await_change());
        }
    };

    // Claims need every SnapshotTable; the store fills with the first list.
    let _ = ctx.store.wait_until_ready().await;
    let was_in_conflict = table
        .status
        .as_ref()
        .is_some_and(|s| s.is_true(CONDITION_CONFLICT));
    if let Some(blocker) = claims::blocker(
        table,
        &validated.locations,
        &ctx.store.state(),
        &ctx.locations,
    ) {
        return wait_for_winner(table, ctx, &api, &blocker, was_in_conflict, &now).await;
    }
    if was_in_conflict {
        let note =
            "no other SnapshotTable claims this resource's destinations; starting its writer";
        ctx.publish(table, EventType::Normal, "ConflictResolved", note.into())
            .await;
    }

    let uid = table.uid().unwrap_or_default();
    let generation = table.metadata.generation;
    // A status refresh of an unchanged resource builds and sends nothing.
    let children = if !new_generation
        && ctx
            .applied
            .owner_is_current(&namespace, &name, &uid, generation)
    {
        None
    } else {
        let children = build::build(table, &validated, &ctx.settings.build)?;
        let (sent, digests) =
            apply::apply_children(&ctx.client, &ctx.applied, &namespace, &children).await?;
        ctx.metrics.applied(sent);
        ctx.applied
            .record_owner(&namespace, &name, &uid, generation, digests);
        Some(children)
    };
    let writer_name = build::child_name(table);
    let own_account = table
        .spec
        .writer
        .as_ref()
        .and_then(|w| w.service_account_name.as_deref());
    if new_generation && own_account.is_some_and(|account| account != writer_name) {
        apply::delete_service_account(&ctx.client, &ctx.applied, &namespace, &writer_name).await?;
    }
    if let (true, Some(children)) = (new_generation, &children) {
        let (reason, verb) = match table.status.as_ref().and_then(|s| s.observed_generation) {
            None => ("Created", "created"),
            Some(_) => ("Updated", "updated"),
        };
        info!(table = %format!("{namespace}/{name}"), hash = %children.config_hash, "{verb} writer workload");
        let note = format!(
            "{verb} the writer workload {writer_name} (config hash {})",
            children.config_hash
        );
        ctx.publish(table, EventType::Normal, reason, note).await;
    }

    let url = writer_url(&ctx.settings.writer_url_template, &name, &namespace);
    if table.is_suspended() {
        return suspend::hold(table, ctx, &api, &url, &validated.table, &now).await;
    }
    suspend::resumed(table, ctx).await;
    let report = ctx.writer.table_status(&url, &validated.table).await;
    let request = rebase::requested(table);
    let rebase = match &request {
        Some(request) => {
            rebase::forward(table, ctx, request, &url, &validated.table, &report, &now).await
        }
        None => Ok(None),
    };
    let handled = rebase.as_ref().ok().cloned().flatten();

    let ready = report.as_ref().is_ok_and(|r| r.ready);
    let observation = Observation::Writer {
        url: &url,
        report: report.as_ref(),
    };
    let next = status::desired(table, &observation, handled.clone(), &now);
    if let Some((kind, reason, note)) = freshness::flip(table.status.as_ref(), &next) {
        ctx.publish(table, kind, reason, note).await;
    }
    status::patch(&api, table, &next).await?;
    // The record first, then the annotation: the removal wakes the next
    // reconcile, and the object it reads must already hold the record (a
    // status written after it could be overwritten from a stale copy).
    if let (Some(request), Some(_)) = (&request, &handled) {
        rebase::remove_annotations(&api, table, request).await?;
    }
    rebase?;
    let streak = ctx.unreachable_streak(&ObjectRef::from_obj(table), report.is_ok());
    let refresh = next_refresh(
        ctx.settings.requeue_interval,
        ready && handled.is_none(),
        streak,
    );
    let stale_after = freshness::stale_after(&table.spec);
    let look = freshness::next_look(refresh, report.as_ref().ok(), stale_after, now.0);
    Ok(Action::requeue(look))
}

/// When to look at the writer again: the regular interval once it is ready
/// and nothing is in flight; soon while it syncs or a re-base was just made;
/// backing off from soon to the interval while it cannot be reached
/// (`unreachable` consecutive times).
pub fn next_refresh(interval: Duration, settled: bool, unreachable: u32) -> Duration {
    if settled {
        return interval;
    }
    let factor = 2u32.saturating_pow(unreachable.saturating_sub(1).min(16));
    SHORT_REQUEUE.saturating_mul(factor).min(interval)
}

/// A younger resource on a claimed location: no workload (its children, if
/// any, are removed when the conflict is first seen), `Conflict` in status.
async fn wait_for_winner(
    table: &SnapshotTable,
    ctx: &Context,
    api: &Api<SnapshotTable>,
    blocker: &claims::Blocker,
    was_in_conflict: bool,
    now: &Time,
) -> Result<Action, Error> {
    if !was_in_conflict {
        // It may have run before the winner appeared in the store (or
        // before a restore): stop its writer.
        let namespace = table.namespace().unwrap_or_default();
        apply::delete_children(
            &ctx.client,
            &ctx.applied,
            &namespace,
            &build::child_name(table),
        )
        .await?;
        let note = format!(
            "{} is already written by SnapshotTable {}; no writer runs for this one until that is deleted",
            blocker.location,
            blocker.reference()
        );
        ctx.publish(table, EventType::Warning, "Conflict", note)
            .await;
    }
    let next = status::desired(table, &Observation::Conflict(blocker), None, now);
    status::patch(api, table, &next).await?;
    // The winner's deletion triggers this resource (see `controller`), but
    // that trigger can race the store's own update; a short requeue bounds
    // the wait, and costs nothing while the status is unchanged.
    Ok(Action::requeue(
        ctx.settings.requeue_interval.min(SHORT_REQUEUE),
    ))
}

#[cfg(test)]
mod tests;
