//! Creating, updating, reflecting status, failing, and deleting.

use super::*;

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
    let url = closed_url().await;
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
