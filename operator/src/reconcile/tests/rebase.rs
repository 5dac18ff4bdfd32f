//! The `rebase` annotation: passed to the writer, recorded, removed; or
//! reported and retried.

use super::*;

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
    expected.push(Expect::event("default", "Rebased", "Normal").body(|event| {
        let note = event["note"].as_str().unwrap();
        assert!(
            note.contains("committed epoch 4 at position \"0/2000000\""),
            "{note}"
        );
    }));
    expected.push(status_patch(&table, |status| {
        assert_eq!(status["lastHandledRebase"]["value"], "2026-05-01");
        assert_eq!(status["lastHandledRebase"]["epochBefore"], 3);
        assert!(status["lastHandledRebase"]["at"].is_string());
        // What the writer answered it made.
        assert_eq!(
            status["lastHandledRebase"]["snapshot"],
            json!({"epoch": 4, "position": "0/2000000", "at": "2026-01-02T04:00:00Z", "records": 12, "bytes": 4096})
        );
    }));
    // The record is written before the annotation goes (see `reconcile`).
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
        500,
        json!({"public.orders": {"error": "a snapshot is already being written"}}),
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
    let url = closed_url().await;
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
