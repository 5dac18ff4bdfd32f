//! Step 5: a re-base requested by annotation (`kubectl annotate
//! snapshottable NAME rebase=now`, or `laredo.io/rebase=now`) is passed to
//! the writer as `POST /snapshot?table=…`; once accepted, the annotation is
//! removed and the request recorded in `status.lastHandledRebase`.
//!
//! The annotation's value is an opaque request token. The removal is a JSON
//! patch that first tests the value, so a newer request written meanwhile is
//! kept (and handled by the next reconcile) rather than lost.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use snapshot_contract::status::TableStatus;

use super::{Context, status};
use crate::Error;
use crate::crd::{HandledRebase, SnapshotTable};
use crate::writer_client::WriterCallError;

/// The annotation as users type it.
pub const REBASE_ANNOTATION: &str = "rebase";
/// The qualified form of the same annotation.
pub const QUALIFIED_REBASE_ANNOTATION: &str = "laredo.io/rebase";

/// A pending re-base request: the annotations that carry it and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebaseRequest {
    /// `(key, value)` of every re-base annotation present.
    pub annotations: Vec<(&'static str, String)>,
}

impl RebaseRequest {
    /// The request token recorded in status: the qualified annotation's
    /// value when both are set.
    pub fn value(&self) -> &str {
        self.annotations
            .last()
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// The pending re-base request of `table`, if any.
pub fn requested(table: &SnapshotTable) -> Option<RebaseRequest> {
    let annotations: Vec<(&'static str, String)> = [REBASE_ANNOTATION, QUALIFIED_REBASE_ANNOTATION]
        .into_iter()
        .filter_map(|key| {
            table
                .annotations()
                .get(key)
                .map(|value| (key, value.clone()))
        })
        .collect();
    (!annotations.is_empty()).then_some(RebaseRequest { annotations })
}

/// Removes the request's annotations if they still carry the handled values.
/// A value changed meanwhile is a new request: it stays.
pub async fn remove_annotations(
    api: &Api<SnapshotTable>,
    table: &SnapshotTable,
    request: &RebaseRequest,
) -> Result<(), Error> {
    for (key, value) in &request.annotations {
        let pointer = format!(
            "/metadata/annotations/{}",
            key.replace('~', "~0").replace('/', "~1")
        );
        let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
            { "op": "test", "path": pointer, "value": value },
            { "op": "remove", "path": pointer },
        ]))
        .map_err(|e| Error::Render(serde::ser::Error::custom(e)))?;
        match api
            .patch(
                &table.name_any(),
                &PatchParams::default(),
                &Patch::Json::<()>(patch),
            )
            .await
        {
            Ok(_) => {}
            // The test failed: the annotation changed or went away.
            Err(kube::Error::Api(status)) if status.is_invalid() => {}
            Err(source) => {
                return Err(Error::on_table(
                    "remove the rebase annotation of",
                    table,
                    source,
                ));
            }
        }
    }
    Ok(())
}

/// Passes a re-base request to the writer; what it accepted, or why not (a
/// refused or impossible re-base, returned after the status is written so it
/// is retried with backoff).
pub async fn forward(
    table: &SnapshotTable,
    ctx: &Context,
    request: &RebaseRequest,
    url: &str,
    qualified_table: &str,
    report: &Result<TableStatus, WriterCallError>,
    now: &Time,
) -> Result<Option<HandledRebase>, Error> {
    let (outcome, asked) = match report {
        Ok(_) => (
            ctx.writer.request_snapshot(url, qualified_table).await,
            true,
        ),
        // Its status could not be read: the re-base is not tried.
        Err(error) => (Err(error.clone()), false),
    };
    match outcome {
        Ok(made) => {
            let epoch_before = report
                .as_ref()
                .ok()
                .map(|r| i64::try_from(r.epoch).unwrap_or(i64::MAX));
            let made_note = match &made {
                Some(made) => format!(
                    "; it committed epoch {} at position {:?}",
                    made.epoch, made.position
                ),
                None => String::new(),
            };
            let note = format!(
                "the writer accepted re-base request {:?} (epoch before: {}){made_note}",
                request.value(),
                epoch_before.unwrap_or_default()
            );
            ctx.publish(table, EventType::Normal, "Rebased", note).await;
            Ok(Some(HandledRebase {
                value: request.value().to_owned(),
                at: now.clone(),
                epoch_before,
                snapshot: made.as_ref().map(status::artifact),
            }))
        }
        Err(source) => {
            let why = if asked {
                ""
            } else {
                "the writer is unreachable: "
            };
            let note = format!(
                "re-base request {:?} failed, will retry: {why}{source}",
                request.value()
            );
            ctx.publish(table, EventType::Warning, "RebaseFailed", note)
                .await;
            Err(Error::Rebase {
                table: qualified_table.to_owned(),
                url: url.to_owned(),
                source: Box::new(source),
            })
        }
    }
}
