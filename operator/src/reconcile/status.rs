//! Step 6: the SnapshotTable's status, computed (purely) from what the
//! reconcile observed, and written with server-side apply on the status
//! subresource when it differs from the current one.
//!
//! Epoch, head position and readiness come from the writer's `/status`, not
//! from what the operator intended. Conditions keep their
//! `lastTransitionTime` unless their status flips.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};

use crate::crd::{
    CONDITION_CONFLICT, CONDITION_DEGRADED, CONDITION_READY, CONDITION_STALE, HandledRebase,
    STATE_SUSPENDED, STATE_SUSPENDING, SnapshotTable, SnapshotTableStatus,
};
use snapshot_contract::status::TableStatus;

use crate::reconcile::claims::Blocker;
use crate::reconcile::freshness;
use crate::reconcile::validate::{InvalidSpec, bound_identity};
use crate::writer_client::WriterCallError;
use crate::{Error, MANAGER};

mod conditions;
mod report;

pub(crate) use conditions::condition;
use conditions::{NO_CONFLICT, suspended_conditions, writer_conditions};
pub use report::artifact;
use report::{carry_writer_fields, reflect};

/// What one reconcile found out.
#[derive(Debug)]
pub enum Observation<'a> {
    /// The spec is invalid; nothing was applied.
    Invalid(&'a InvalidSpec),
    /// An older SnapshotTable owns a location; this one runs no writer.
    Conflict(&'a Blocker),
    /// `spec.suspend` is true: the StatefulSet asks for no pod.
    Suspended {
        /// Writer pods still there (flushing their final diff).
        pods_left: i32,
        /// The writer's `/status` entry, if one is left and it answered.
        report: Option<&'a TableStatus>,
    },
    /// The workload is applied; the writer answered (or did not).
    Writer {
        /// The writer's API address.
        url: &'a str,
        /// Its entry in `/status`, or why it could not be read.
        report: Result<&'a TableStatus, &'a WriterCallError>,
    },
}

/// The status after this reconcile. `rebase` is a re-base handled in this
/// reconcile, if any.
pub fn desired(
    table: &SnapshotTable,
    observation: &Observation<'_>,
    rebase: Option<HandledRebase>,
    now: &Time,
) -> SnapshotTableStatus {
    let current = table.status.clone().unwrap_or_default();
    let generation = table.metadata.generation;
    let mut next = SnapshotTableStatus {
        observed_generation: generation,
        last_handled_rebase: rebase.or_else(|| current.last_handled_rebase.clone()),
        ..SnapshotTableStatus::default()
    };
    let conditions: [(&str, bool, &str, String); 3] = match observation {
        Observation::Invalid(errors) => {
            // The workload, if any, keeps running the last valid spec: keep
            // reporting what it reported.
            carry_writer_fields(&current, &mut next);
            next.bound = current.bound.clone();
            [
                (
                    CONDITION_READY,
                    false,
                    "InvalidSpec",
                    "the spec is invalid; see the Degraded condition".into(),
                ),
                (CONDITION_CONFLICT, false, "NoConflict", NO_CONFLICT.into()),
                (CONDITION_DEGRADED, true, "InvalidSpec", errors.to_string()),
            ]
        }
        Observation::Conflict(blocker) => {
            let message = format!(
                "{} is written by SnapshotTable {}, which claimed it first; this resource runs no writer until that one is deleted",
                blocker.location,
                blocker.reference()
            );
            next.ready = Some(false);
            next.bound = current.bound.clone();
            [
                (
                    CONDITION_READY,
                    false,
                    "Conflict",
                    format!("waiting for SnapshotTable {}", blocker.reference()),
                ),
                (CONDITION_CONFLICT, true, "ClaimedByOther", message),
                (
                    CONDITION_DEGRADED,
                    false,
                    "AsExpected",
                    "the spec is valid; no writer runs while the conflict lasts".into(),
                ),
            ]
        }
        Observation::Suspended { pods_left, report } => {
            next.bound = Some(bound_identity(&table.spec));
            match report {
                Some(report) => reflect(report, &mut next),
                None => {
                    carry_writer_fields(&current, &mut next);
                    // No writer holds anything any more.
                    next.buffered_changes = None;
                    next.behind = None;
                }
            }
            next.writer_url = current.writer_url.clone();
            next.ready = Some(false);
            suspended_conditions(&mut next, *pods_left)
        }
        Observation::Writer { url, report } => {
            next.writer_url = Some((*url).to_owned());
            // The workload was applied from this spec: its archive is bound.
            next.bound = Some(bound_identity(&table.spec));
            match report {
                Ok(report) => {
                    reflect(report, &mut next);
                    writer_conditions(report)
                }
                Err(error) => {
                    carry_writer_fields(&current, &mut next);
                    if matches!(
                        next.state.as_deref(),
                        Some(STATE_SUSPENDING | STATE_SUSPENDED)
                    ) {
                        // Resumed: the writer has not said what it does yet.
                        next.state = None;
                    }
                    next.ready = Some(false);
                    [
                        (
                            CONDITION_READY,
                            false,
                            "WriterUnreachable",
                            error.to_string(),
                        ),
                        (CONDITION_CONFLICT, false, "NoConflict", NO_CONFLICT.into()),
                        (
                            CONDITION_DEGRADED,
                            false,
                            "AsExpected",
                            "no error known: the writer could not be asked (see Ready)".into(),
                        ),
                    ]
                }
            }
        }
    };
    let (stale, stale_reason, stale_message) =
        freshness::condition(observation, &current, &table.spec, now.0);
    next.conditions = conditions
        .into_iter()
        .chain([(CONDITION_STALE, stale, stale_reason.as_str(), stale_message)])
        .map(|(type_, status, reason, message)| {
            condition(
                current.condition(type_),
                type_,
                status,
                reason,
                message,
                generation,
                now,
            )
        })
        .collect();
    next
}

/// Writes `status` unless it equals the current one.
pub async fn patch(
    api: &Api<SnapshotTable>,
    table: &SnapshotTable,
    status: &SnapshotTableStatus,
) -> Result<bool, Error> {
    if table.status.as_ref() == Some(status) {
        return Ok(false);
    }
    let body = serde_json::json!({
        "apiVersion": SnapshotTable::api_version(&()),
        "kind": SnapshotTable::kind(&()),
        "status": status,
    });
    api.patch_status(
        &table.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|source| Error::on_table("patch status of", table, source))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use snapshot_contract::status::TableState;

    use super::*;
    use crate::crd::ArtifactRef;
    use crate::fixtures::{local_table, writer_report};

    fn at(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
    }

    /// A writer that answers, but not yet with its status.
    fn unavailable() -> WriterCallError {
        WriterCallError::Status {
            url: "u/status".into(),
            status: 503,
            body: "starting".into(),
        }
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let mut table = local_table("orders");
        let report = writer_report("public.orders", false, 0);
        let observation = Observation::Writer {
            url: "http://w",
            report: Ok(&report),
        };
        let first = desired(&table, &observation, None, &at(100));
        table.status = Some(first.clone());
        let again = desired(&table, &observation, None, &at(200));
        assert_eq!(again, first, "nothing changed, nothing moves");

        let ready = writer_report("public.orders", true, 1);
        let observation = Observation::Writer {
            url: "http://w",
            report: Ok(&ready),
        };
        let flipped = desired(&table, &observation, None, &at(300));
        let ready_condition = flipped.condition(CONDITION_READY).unwrap();
        assert_eq!(ready_condition.status, "True");
        assert_eq!(ready_condition.last_transition_time, at(300));
        let conflict = flipped.condition(CONDITION_CONFLICT).unwrap();
        assert_eq!(
            conflict.last_transition_time,
            at(100),
            "Conflict stayed False"
        );
        assert_eq!(flipped.epoch, Some(1));
    }

    #[test]
    fn a_fenced_writer_is_a_conflict_and_a_degraded_one_is_degraded() {
        let table = local_table("orders");
        let mut report = writer_report("public.orders", true, 4);
        report.state = TableState::Fenced;
        let status = desired(
            &table,
            &Observation::Writer {
                url: "u",
                report: Ok(&report),
            },
            None,
            &at(1),
        );
        assert!(status.is_true(CONDITION_CONFLICT));
        assert_eq!(
            status.condition(CONDITION_CONFLICT).unwrap().reason,
            "Fenced"
        );

        report.state = TableState::Degraded;
        report.last_error = Some(snapshot_contract::status::ErrorStatus {
            scope: snapshot_contract::status::ErrorScope::Destination,
            message: "access denied".into(),
            at: "t".into(),
        });
        let status = desired(
            &table,
            &Observation::Writer {
                url: "u",
                report: Ok(&report),
            },
            None,
            &at(1),
        );
        assert!(status.is_true(CONDITION_DEGRADED));
        assert!(
            status
                .condition(CONDITION_DEGRADED)
                .unwrap()
                .message
                .contains("access denied")
        );
        assert!(!status.is_true(CONDITION_CONFLICT));
    }

    #[test]
    fn an_unreachable_writer_keeps_the_last_reported_position() {
        let mut table = local_table("orders");
        let report = writer_report("public.orders", true, 2);
        table.status = Some(desired(
            &table,
            &Observation::Writer {
                url: "u",
                report: Ok(&report),
            },
            None,
            &at(1),
        ));
        let unavailable = unavailable();
        let status = desired(
            &table,
            &Observation::Writer {
                url: "u",
                report: Err(&unavailable),
            },
            None,
            &at(2),
        );
        assert_eq!(status.epoch, Some(2));
        assert_eq!(status.ready, Some(false));
        let ready = status.condition(CONDITION_READY).unwrap();
        assert_eq!(
            (ready.reason.as_str(), ready.message.as_str()),
            ("WriterUnreachable", "u/status: HTTP 503: starting")
        );
    }
    /// Servers before 1.21 turn an empty string into `null` in a server-side
    /// apply, and reject `null` where the schema wants a string: no status
    /// this step computes may hold one.
    #[test]
    fn no_status_holds_an_empty_string() {
        fn empty_strings(value: &serde_json::Value, path: &str, found: &mut Vec<String>) {
            match value {
                serde_json::Value::String(s) if s.is_empty() => found.push(path.to_owned()),
                serde_json::Value::Object(map) => map
                    .iter()
                    .for_each(|(k, v)| empty_strings(v, &format!("{path}.{k}"), found)),
                serde_json::Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .for_each(|(i, v)| empty_strings(v, &format!("{path}[{i}]"), found)),
                _ => {}
            }
        }
        let table = local_table("orders");
        let invalid = InvalidSpec(vec![crate::reconcile::validate::FieldError {
            path: "spec.table".into(),
            message: "must not be empty".into(),
        }]);
        let blocker = Blocker {
            namespace: "ns".into(),
            name: "other".into(),
            location: "local:/data".into(),
        };
        let mut fresh = writer_report("public.orders", false, 0);
        fresh.head_position.clear();
        let mut fenced = writer_report("public.orders", true, 3);
        fenced.state = TableState::Fenced;
        let mut ready = writer_report("public.orders", true, 1);
        ready.last_commit_at = Some("2026-01-02T03:04:05Z".into());
        ready.behind = Some(snapshot_contract::status::BehindStatus {
            sequences: Some(3),
            position: Some(String::new()),
            since: Some(String::new()),
            seconds: Some(1),
        });
        let unavailable = unavailable();
        let observations = [
            Observation::Invalid(&invalid),
            Observation::Conflict(&blocker),
            Observation::Writer {
                url: "u",
                report: Ok(&fresh),
            },
            Observation::Writer {
                url: "u",
                report: Ok(&ready),
            },
            Observation::Writer {
                url: "u",
                report: Ok(&fenced),
            },
            Observation::Writer {
                url: "u",
                report: Err(&unavailable),
            },
            Observation::Suspended {
                pods_left: 0,
                report: None,
            },
            Observation::Suspended {
                pods_left: 1,
                report: Some(&ready),
            },
        ];
        let rebase = HandledRebase {
            value: String::new(),
            at: at(5),
            epoch_before: Some(1),
            snapshot: Some(ArtifactRef {
                epoch: 2,
                position: String::new(),
                at: "2026-01-02T03:04:05Z".into(),
                records: Some(0),
                bytes: Some(0),
            }),
        };
        for observation in &observations {
            let status = desired(&table, observation, Some(rebase.clone()), &at(1));
            assert_eq!(status.conditions.len(), 4, "{observation:?}");
            let mut found = Vec::new();
            empty_strings(
                &serde_json::to_value(&status).unwrap(),
                "status",
                &mut found,
            );
            assert!(
                found.is_empty(),
                "{observation:?}: empty strings at {found:?}"
            );
        }
    }
}
