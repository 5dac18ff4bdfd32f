//! Every reconcile path against a mocked API server that checks each
//! request (method, path, query, body) in order, with a real HTTP server
//! standing in for the writer's API.

use std::collections::BTreeMap;

use http::Method;
use serde_json::{Value, json};

use super::*;
use crate::crd::{
    CONDITION_DEGRADED, CONDITION_READY, CredentialProfileSpec, IrsaProfile, SnapshotTableStatus,
};
use crate::fixtures::{
    Expect, FakeWriter, child_applies, child_path, context, local_table, mock_api, not_found,
    s3_table, status_path, with_age, writer_report, writer_status_json,
};
use crate::reconcile::build::{CONFIG_HASH_ANNOTATION, CONFIG_KEY, IRSA_ANNOTATION};
use crate::writer_client::WriterTableStatus;

/// Runs one reconcile of `table` against `expected` API requests; fails on a
/// missing or an extra request.
async fn run(
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
fn settled(
    mut table: SnapshotTable,
    url: &str,
    report: &WriterTableStatus,
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
fn object(table: &SnapshotTable) -> Value {
    serde_json::to_value(table).unwrap()
}

fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap()
}

fn status_patch(table: &SnapshotTable, check: impl Fn(&Value) + Send + 'static) -> Expect {
    Expect::apply(status_path(table))
        .respond(200, object(table))
        .body(move |body| {
            assert_eq!(body["apiVersion"], "laredo.io/v1alpha1");
            assert_eq!(body["kind"], "SnapshotTable");
            check(&body["status"]);
        })
}

fn no_check(_: &Value) {}

fn config_of(config_map: &Value) -> snapshot_writer::config::WriterConfig {
    snapshot_writer::config::parse_str(config_map["data"][CONFIG_KEY].as_str().unwrap()).unwrap()
}

fn pod_hash(stateful_set: &Value) -> String {
    stateful_set["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        .as_str()
        .unwrap()
        .to_owned()
}

fn with_irsa(mut table: SnapshotTable, role: &str) -> SnapshotTable {
    table.spec.credentials = Some(BTreeMap::from([(
        "archive".to_owned(),
        CredentialProfileSpec {
            irsa: Some(IrsaProfile {
                role_arn: role.into(),
                region: None,
            }),
            assume_role: None,
            ambient: None,
        },
    )]));
    table
}

#[tokio::test]
async fn a_new_resource_gets_its_workload_an_event_and_a_status() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", false, 0)])).await;
    let table = local_table("orders");
    let mut expected = child_applies(
        "orders",
        |cm| {
            assert_eq!(cm["kind"], "ConfigMap");
            let config = config_of(cm);
            assert_eq!(config.tables[0].qualified_name(), "public.orders");
        },
        |sa| {
            assert_eq!(sa["kind"], "ServiceAccount");
            assert!(
                sa["metadata"]["annotations"].is_null(),
                "no role without an irsa profile: {sa}"
            );
        },
        |sts| {
            assert_eq!(sts["kind"], "StatefulSet");
            assert_eq!(sts["spec"]["replicas"], 1);
            assert_eq!(sts["metadata"]["ownerReferences"][0]["uid"], "uid-orders");
            assert_eq!(
                sts["spec"]["template"]["spec"]["containers"][0]["image"],
                "snapshot-writer:test"
            );
        },
    );
    expected.push(Expect::event("default", "Created", "Normal"));
    let url = writer.url.clone();
    expected.push(status_patch(&table, move |status| {
        assert_eq!(status["observedGeneration"], 1);
        assert_eq!(status["ready"], false);
        assert_eq!(status["state"], "syncing");
        assert_eq!(status["writerUrl"], url.as_str());
        let ready = condition(status, "Ready");
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("False"), Some("WriterNotReady"))
        );
        assert_eq!(condition(status, "Conflict")["status"], "False");
        assert_eq!(condition(status, "Degraded")["status"], "False");
    }));
    let (result, _, _) = run(&table, &[&table], &writer.url, expected).await;
    assert_eq!(
        result.unwrap(),
        Action::requeue(Duration::from_secs(5)),
        "not ready yet: poll soon"
    );
}

#[tokio::test]
async fn an_unchanged_resource_reapplies_the_same_objects_and_writes_nothing_else() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", true, 2)])).await;
    let table = settled(
        local_table("orders"),
        &writer.url,
        &writer_report("public.orders", true, 2),
        1,
    );
    let (first, first_bodies, _) = run(
        &table,
        &[&table],
        &writer.url,
        child_applies("orders", no_check, no_check, no_check),
    )
    .await;
    assert_eq!(first.unwrap(), Action::requeue(Duration::from_secs(30)));
    let (_, second_bodies, _) = run(
        &table,
        &[&table],
        &writer.url,
        child_applies("orders", no_check, no_check, no_check),
    )
    .await;
    assert_eq!(first_bodies, second_bodies, "applies are idempotent");
}

#[tokio::test]
async fn a_spec_change_updates_the_workload_and_says_so() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", true, 2)])).await;
    let mut table = settled(
        local_table("orders"),
        &writer.url,
        &writer_report("public.orders", true, 2),
        1,
    );
    table.metadata.generation = Some(2);
    table.spec.diff = Some(crate::crd::DiffSpec {
        interval: Some("5s".into()),
    });
    let mut expected = child_applies(
        "orders",
        |cm| {
            assert_eq!(
                config_of(cm).tables[0].diff.interval.0,
                Duration::from_secs(5)
            )
        },
        no_check,
        no_check,
    );
    expected.push(Expect::event("default", "Updated", "Normal"));
    expected.push(status_patch(&table, |status| {
        assert_eq!(status["observedGeneration"], 2);
        let ready = condition(status, "Ready");
        assert_eq!(
            ready["lastTransitionTime"], "2023-11-14T22:15:00Z",
            "Ready stayed True: no transition"
        );
        assert_eq!(ready["observedGeneration"], 2);
    }));
    let (result, _, _) = run(&table, &[&table], &writer.url, expected).await;
    result.unwrap();
}

#[tokio::test]
async fn a_role_change_annotates_the_account_and_rolls_the_pod() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", true, 2)])).await;
    let report = writer_report("public.orders", true, 2);
    let one = settled(
        with_irsa(local_table("orders"), "arn:aws:iam::123456789012:role/one"),
        &writer.url,
        &report,
        1,
    );
    let mut two = with_irsa(one.clone(), "arn:aws:iam::123456789012:role/two");
    two.metadata.generation = Some(2);

    let role_is = |role: &'static str| {
        move |sa: &Value| assert_eq!(sa["metadata"]["annotations"][IRSA_ANNOTATION], role, "{sa}")
    };
    let (_, before, _) = run(
        &one,
        &[&one],
        &writer.url,
        child_applies(
            "orders",
            no_check,
            role_is("arn:aws:iam::123456789012:role/one"),
            no_check,
        ),
    )
    .await;
    let mut expected = child_applies(
        "orders",
        no_check,
        role_is("arn:aws:iam::123456789012:role/two"),
        no_check,
    );
    expected.push(Expect::event("default", "Updated", "Normal"));
    expected.push(status_patch(&two, |status| {
        assert_eq!(status["observedGeneration"], 2)
    }));
    let (result, after, _) = run(&two, &[&two], &writer.url, expected).await;
    result.unwrap();
    assert_ne!(
        pod_hash(&before[3]),
        pod_hash(&after[3]),
        "the pod template changes, so the writer restarts with the new role"
    );
    assert_eq!(
        before[0], after[0],
        "the rendered config itself is unchanged"
    );
}

#[tokio::test]
async fn the_writers_report_is_reflected_in_status() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", true, 3)])).await;
    let table = settled(
        local_table("orders"),
        &writer.url,
        &writer_report("public.orders", false, 0),
        1,
    );
    let mut expected = child_applies("orders", no_check, no_check, no_check);
    expected.push(status_patch(&table, |status| {
        assert_eq!(status["epoch"], 3);
        assert_eq!(status["headPosition"], "0/16B3748");
        assert_eq!(status["ready"], true);
        assert_eq!(status["state"], "live");
        assert_eq!(status["lastSnapshot"]["at"], "2026-01-02T03:04:05Z");
        assert_eq!(status["lastSnapshot"]["epoch"], 3);
        let ready = condition(status, CONDITION_READY);
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("True"), Some("WriterReady"))
        );
        assert_ne!(
            ready["lastTransitionTime"], "2023-11-14T22:15:00Z",
            "Ready flipped: the transition time moves"
        );
        assert_eq!(
            condition(status, CONDITION_DEGRADED)["lastTransitionTime"],
            "2023-11-14T22:15:00Z"
        );
    }));
    let (result, _, _) = run(&table, &[&table], &writer.url, expected).await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(30)));
}

#[tokio::test]
async fn an_unreachable_writer_is_reported_not_failed() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let table = settled(
        local_table("orders"),
        "http://old",
        &writer_report("public.orders", true, 4),
        1,
    );
    let mut expected = child_applies("orders", no_check, no_check, no_check);
    expected.push(status_patch(&table, |status| {
        let ready = condition(status, CONDITION_READY);
        assert_eq!(ready["reason"], "WriterUnreachable");
        assert_eq!(status["epoch"], 4, "the last reported epoch stays");
    }));
    let (result, _, _) = run(&table, &[&table], &url, expected).await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(5)));
}

#[tokio::test]
async fn a_younger_resource_on_a_claimed_prefix_gets_a_conflict_and_no_writer() {
    let writer = FakeWriter::start(json!([])).await;
    let first = with_age(s3_table("first", "bucket", "archive/"), 100, "uid-first");
    let second = with_age(s3_table("second", "bucket", "archive/"), 10, "uid-second");
    let mut expected: Vec<Expect> = [
        ("apps/v1", "statefulsets"),
        ("", "services"),
        ("", "configmaps"),
        ("", "serviceaccounts"),
    ]
    .into_iter()
    .map(|(group, plural)| {
        Expect::new(Method::DELETE, child_path(group, plural, "second-writer"))
            .respond(404, not_found())
    })
    .collect();
    expected.push(
        Expect::event("default", "Conflict", "Warning").body(|event| {
            assert!(
                event["note"].as_str().unwrap().contains("default/first"),
                "{event}"
            );
            assert_eq!(event["regarding"]["name"], "second");
        }),
    );
    expected.push(status_patch(&second, |status| {
        let conflict = condition(status, "Conflict");
        assert_eq!(conflict["status"], "True");
        let message = conflict["message"].as_str().unwrap();
        assert!(message.contains("SnapshotTable default/first"), "{message}");
        assert!(message.contains("s3://bucket/archive/orders/"), "{message}");
        assert_eq!(condition(status, "Ready")["reason"], "Conflict");
        assert!(status["writerUrl"].is_null());
    }));
    let (result, _, _) = run(&second, &[&first, &second], &writer.url, expected).await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(30)));

    // The older one is unaffected: it runs its writer.
    let (result, _, _) = run(&first, &[&first, &second], &writer.url, {
        let mut expected = child_applies("first", no_check, no_check, no_check);
        expected.push(Expect::event("default", "Created", "Normal"));
        expected.push(status_patch(&first, no_check));
        expected
    })
    .await;
    result.unwrap();
}

#[tokio::test]
async fn a_conflict_already_reported_makes_no_requests() {
    let writer = FakeWriter::start(json!([])).await;
    let first = with_age(s3_table("first", "bucket", "archive/"), 100, "uid-first");
    let mut second = with_age(s3_table("second", "bucket", "archive/"), 10, "uid-second");
    let blocker = claims::blocker(
        &second,
        &validate::validate(&second).unwrap().locations,
        &[Arc::new(first.clone())],
    )
    .unwrap();
    let at = Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_100).unwrap());
    second.status = Some(status::desired(
        &second,
        &Observation::Conflict(&blocker),
        None,
        &at,
    ));
    let (result, bodies, _) = run(&second, &[&first, &second], &writer.url, vec![]).await;
    result.unwrap();
    assert!(bodies.is_empty());
}

#[tokio::test]
async fn a_conflict_resolves_when_the_winner_is_deleted() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", false, 0)])).await;
    let mut first = with_age(s3_table("first", "bucket", "archive/"), 100, "uid-first");
    let mut second = with_age(s3_table("second", "bucket", "archive/"), 10, "uid-second");
    let blocker = claims::blocker(
        &second,
        &validate::validate(&second).unwrap().locations,
        &[Arc::new(first.clone())],
    )
    .unwrap();
    let at = Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_100).unwrap());
    second.status = Some(status::desired(
        &second,
        &Observation::Conflict(&blocker),
        None,
        &at,
    ));

    // The winner's deletion event triggers the loser right away.
    first.metadata.deletion_timestamp = Some(at.clone());
    let triggered = claims::related(&first, &[Arc::new(second.clone())]);
    assert_eq!(triggered, vec![ObjectRef::from_obj(&second)]);

    let mut expected = vec![Expect::event("default", "ConflictResolved", "Normal")];
    expected.extend(child_applies("second", no_check, no_check, |sts| {
        assert_eq!(sts["spec"]["replicas"], 1)
    }));
    expected.push(status_patch(&second, |status| {
        let conflict = condition(status, "Conflict");
        assert_eq!(
            (conflict["status"].as_str(), conflict["reason"].as_str()),
            (Some("False"), Some("NoConflict"))
        );
        assert_ne!(conflict["lastTransitionTime"], "2023-11-14T22:15:00Z");
    }));
    let (result, _, _) = run(&second, &[&second], &writer.url, expected).await;
    result.unwrap();
}

#[tokio::test]
async fn a_rebase_request_reaches_the_writer_and_is_recorded() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", true, 3)])).await;
    let mut table = settled(
        local_table("orders"),
        &writer.url,
        &writer_report("public.orders", true, 3),
        1,
    );
    table.metadata.annotations = Some(BTreeMap::from([(
        "laredo.io/rebase".into(),
        "2026-05-01".into(),
    )]));
    let mut expected = child_applies("orders", no_check, no_check, no_check);
    expected.push(
        Expect::new(Method::PATCH, "/apis/laredo.io/v1alpha1/namespaces/default/snapshottables/orders")
            .respond(200, object(&table))
            .body(|patch| {
                assert_eq!(
                    patch,
                    &json!([
                        {"op": "test", "path": "/metadata/annotations/laredo.io~1rebase", "value": "2026-05-01"},
                        {"op": "remove", "path": "/metadata/annotations/laredo.io~1rebase"},
                    ])
                );
            }),
    );
    expected.push(Expect::event("default", "Rebased", "Normal"));
    expected.push(status_patch(&table, |status| {
        assert_eq!(status["lastHandledRebase"]["value"], "2026-05-01");
        assert_eq!(status["lastHandledRebase"]["epochBefore"], 3);
        assert!(status["lastHandledRebase"]["at"].is_string());
    }));
    let (result, _, _) = run(&table, &[&table], &writer.url, expected).await;
    assert_eq!(
        result.unwrap(),
        Action::requeue(Duration::from_secs(5)),
        "poll soon to see the new epoch"
    );
    assert_eq!(writer.snapshot_requests(), ["public.orders"]);
}

#[tokio::test]
async fn a_rejected_rebase_is_reported_kept_and_retried_with_backoff() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", true, 3)])).await;
    writer.answer_snapshot(
        200,
        json!({"public.orders": "a snapshot is already being written"}),
    );
    let mut table = settled(
        local_table("orders"),
        &writer.url,
        &writer_report("public.orders", false, 0),
        1,
    );
    table.metadata.annotations = Some(BTreeMap::from([("rebase".into(), "now".into())]));
    let mut expected = child_applies("orders", no_check, no_check, no_check);
    expected.push(
        Expect::event("default", "RebaseFailed", "Warning").body(|event| {
            assert!(
                event["note"]
                    .as_str()
                    .unwrap()
                    .contains("already being written"),
                "{event}"
            );
        }),
    );
    expected.push(status_patch(&table, |status| {
        assert!(status["lastHandledRebase"].is_null());
        assert_eq!(status["epoch"], 3, "the status is still refreshed");
    }));
    let (result, _, ctx) = run(&table, &[&table], &writer.url, expected).await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::Rebase { .. }), "{error}");
    assert_eq!(writer.snapshot_requests(), ["public.orders"]);
    let table = Arc::new(table);
    assert_eq!(
        error_policy(table.clone(), &error, ctx.clone()),
        Action::requeue(Duration::from_secs(5))
    );
    assert_eq!(
        error_policy(table, &error, ctx.clone()),
        Action::requeue(Duration::from_secs(10))
    );
    assert!(
        ctx.metrics
            .render()
            .contains("snapshot_operator_reconcile_errors_total{reason=\"rebase\"} 1")
    );
}

#[tokio::test]
async fn a_rebase_against_an_unreachable_writer_fails_without_touching_the_annotation() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut table = local_table("orders");
    table.status = Some(SnapshotTableStatus {
        observed_generation: Some(1),
        ..SnapshotTableStatus::default()
    });
    table.metadata.annotations = Some(BTreeMap::from([("rebase".into(), "now".into())]));
    let mut expected = child_applies("orders", no_check, no_check, no_check);
    expected.push(
        Expect::event("default", "RebaseFailed", "Warning").body(|event| {
            assert!(
                event["note"].as_str().unwrap().contains("unreachable"),
                "{event}"
            );
        }),
    );
    expected.push(status_patch(&table, no_check));
    let (result, _, _) = run(&table, &[&table], &url, expected).await;
    assert!(matches!(result, Err(Error::Rebase { .. })));
}

#[tokio::test]
async fn a_deleted_resource_is_left_to_garbage_collection() {
    let mut table = local_table("orders");
    table.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
    let (result, bodies, _) = run(&table, &[&table], "http://unused", vec![]).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(bodies.is_empty());
}

#[tokio::test]
async fn an_invalid_spec_is_reported_and_nothing_is_applied() {
    let mut table = local_table("orders");
    table.spec.snapshot = Some(crate::crd::SnapshotPolicySpec {
        max_interval: Some("1 day".into()),
        ..Default::default()
    });
    let expected = vec![
        Expect::event("default", "InvalidSpec", "Warning").body(|event| {
            assert_eq!(
                event["note"],
                r#"spec.snapshot.maxInterval: invalid duration "1 day""#
            );
        }),
        status_patch(&table, |status| {
            let degraded = condition(status, CONDITION_DEGRADED);
            assert_eq!(
                (degraded["status"].as_str(), degraded["reason"].as_str()),
                (Some("True"), Some("InvalidSpec"))
            );
            assert_eq!(
                degraded["message"],
                r#"spec.snapshot.maxInterval: invalid duration "1 day""#
            );
            assert_eq!(condition(status, CONDITION_READY)["status"], "False");
        }),
    ];
    let (result, _, _) = run(&table, &[&table], "http://unused", expected).await;
    assert_eq!(result.unwrap(), Action::await_change());
}

#[tokio::test]
async fn an_api_failure_is_an_error_with_a_warning_event() {
    let table = local_table("orders");
    let forbidden = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403, "message": "configmaps is forbidden", "metadata": {}});
    let expected = vec![
        Expect::apply(child_path("", "configmaps", "orders-writer")).respond(403, forbidden),
        Expect::event("default", "ReconcileError", "Warning").body(|event| {
            assert!(
                event["note"]
                    .as_str()
                    .unwrap()
                    .contains("apply ConfigMap default/orders-writer"),
                "{event}"
            );
        }),
    ];
    let (result, _, ctx) = run(&table, &[&table], "http://unused", expected).await;
    assert!(matches!(result, Err(Error::Kube { .. })));
    assert!(
        ctx.metrics
            .render()
            .contains("snapshot_operator_reconcile_errors_total{reason=\"kube_api\"} 1")
    );
}

#[tokio::test]
async fn a_service_account_override_removes_the_operators_account() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", true, 1)])).await;
    let mut table = settled(
        s3_table("orders", "bucket", "archive/"),
        &writer.url,
        &writer_report("public.orders", true, 1),
        1,
    );
    table.metadata.generation = Some(2);
    table.spec.writer = Some(crate::crd::WriterSpec {
        service_account_name: Some("platform".into()),
        ..Default::default()
    });
    let expected = vec![
        Expect::apply(child_path("", "configmaps", "orders-writer")),
        Expect::apply(child_path("", "services", "orders-writer")),
        Expect::apply(child_path("apps/v1", "statefulsets", "orders-writer")).body(|sts| {
            assert_eq!(
                sts["spec"]["template"]["spec"]["serviceAccountName"],
                "platform"
            )
        }),
        Expect::new(
            Method::DELETE,
            child_path("", "serviceaccounts", "orders-writer"),
        )
        .respond(404, not_found()),
        Expect::event("default", "Updated", "Normal"),
        status_patch(&table, no_check),
    ];
    let (result, _, _) = run(&table, &[&table], &writer.url, expected).await;
    result.unwrap();
}

#[test]
fn backoff_doubles_up_to_five_minutes() {
    assert_eq!(backoff(1), Duration::from_secs(5));
    assert_eq!(backoff(2), Duration::from_secs(10));
    assert_eq!(backoff(7), Duration::from_secs(300));
    assert_eq!(backoff(u32::MAX), Duration::from_secs(300));
}
