//! Every reconcile path against a mocked API server that checks each
//! request (method, path, query, body) in order, with a real HTTP server
//! standing in for the writer's API.

use std::collections::BTreeMap;

use http::Method;
use serde_json::{Value, json};

use super::*;
use crate::crd::{CONDITION_DEGRADED, CONDITION_READY, SnapshotTableStatus};
use crate::fixtures::{
    Expect, FakeWriter, child_applies, child_path, closed_url, context, local_table, mock_api,
    not_found, s3_table, status_path, with_age, with_irsa, writer_report, writer_status_json,
};
use crate::reconcile::build::{CONFIG_HASH_ANNOTATION, IRSA_ANNOTATION};
use snapshot_contract::names::CONFIG_FILE_NAME;
use snapshot_contract::status::TableStatus;

/// Runs one reconcile of `table` against `expected` API requests; fails on a
/// missing or an extra request.
pub(super) async fn run(
    table: &SnapshotTable,
    store: &[&SnapshotTable],
    writer_url: &str,
    expected: Vec<Expect>,
) -> (Result<Action, Error>, Vec<Value>, Arc<Context>) {
    let (client, verifier) = mock_api(expected);
    let ctx = context(client, store, writer_url);
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        reconcile(Arc::new(table.clone()), ctx.clone()),
    )
    .await
    .expect("the reconcile hung: it made a request the test did not expect");
    let bodies = verifier.finish().await;
    (result, bodies, ctx)
}

/// A table whose status is what a reconcile with the writer reporting
/// `report` produced, at generation `observed`.
pub(super) fn settled(
    mut table: SnapshotTable,
    url: &str,
    report: &TableStatus,
    observed: i64,
) -> SnapshotTable {
    let at = Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_100).unwrap());
    let mut status = status::desired(
        &table,
        &Observation::Writer {
            url,
            report: Ok(report),
        },
        None,
        &at,
    );
    status.observed_generation = Some(observed);
    table.status = Some(status);
    table
}

/// The answer of a status patch: the object (the client parses it).
pub(super) fn object(table: &SnapshotTable) -> Value {
    serde_json::to_value(table).unwrap()
}

pub(super) fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap()
}

pub(super) fn status_patch(
    table: &SnapshotTable,
    check: impl Fn(&Value) + Send + 'static,
) -> Expect {
    Expect::apply(status_path(table))
        .respond(200, object(table))
        .body(move |body| {
            assert_eq!(body["apiVersion"], "laredo.io/v1alpha1");
            assert_eq!(body["kind"], "SnapshotTable");
            check(&body["status"]);
        })
}

pub(super) fn no_check(_: &Value) {}

pub(super) fn config_of(config_map: &Value) -> snapshot_contract::WriterConfig {
    snapshot_contract::parse_str(config_map["data"][CONFIG_FILE_NAME].as_str().unwrap()).unwrap()
}

pub(super) fn pod_hash(stateful_set: &Value) -> String {
    stateful_set["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        .as_str()
        .unwrap()
        .to_owned()
}

mod conflict;
mod freshness;
mod rebase;
mod suspend;
mod workload;
