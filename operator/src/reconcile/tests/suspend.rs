//! `spec.suspend`: the StatefulSet goes to zero, the status follows the
//! writer down (`suspending`, then `suspended`), and resuming starts it
//! again; an Event at each step.

use super::*;

/// `table` suspended at `generation`, its status as a reconcile with
/// `pods_left` writer pods (and the writer reporting `report`) wrote it.
fn suspended(
    table: SnapshotTable,
    generation: i64,
    pods_left: i32,
    report: &TableStatus,
) -> SnapshotTable {
    let mut table = settled(table, "http://w", report, generation);
    table.spec.suspend = Some(true);
    table.metadata.generation = Some(generation);
    let at = Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_200).unwrap());
    let observation = Observation::Suspended {
        pods_left,
        report: Some(report),
    };
    let mut status = status::desired(&table, &observation, None, &at);
    status.observed_generation = Some(generation);
    table.status = Some(status);
    table
}

/// The StatefulSet's read, answered with `replicas` pods at `observed`.
fn stateful_set_read(replicas: i32, observed: i64) -> Expect {
    Expect::new(
        Method::GET,
        child_path("apps/v1", "statefulsets", "orders-writer"),
    )
    .respond(
        200,
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "orders-writer", "namespace": "default", "generation": 2},
            "status": {"replicas": replicas, "observedGeneration": observed},
        }),
    )
}

#[tokio::test]
async fn suspending_scales_the_writer_to_zero_and_follows_its_final_flush() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", true, 3)])).await;
    let mut table = settled(
        local_table("orders"),
        &writer.url,
        &writer_report("public.orders", true, 3),
        1,
    );
    table.spec.suspend = Some(true);
    table.metadata.generation = Some(2);
    let mut expected = child_applies("orders", no_check, no_check, |sts| {
        assert_eq!(sts["spec"]["replicas"], 0, "no writer pod: {sts}");
    });
    expected.push(Expect::event("default", "Updated", "Normal"));
    expected.push(stateful_set_read(1, 2));
    expected.push(Expect::event("default", "Suspending", "Normal"));
    expected.push(status_patch(&table, |status| {
        assert_eq!(status["state"], "suspending");
        assert_eq!(status["ready"], false);
        assert_eq!(status["epoch"], 3, "the writer still answers");
        let ready = condition(status, "Ready");
        assert_eq!(
            (&ready["status"], &ready["reason"]),
            (&json!("False"), &json!("Suspending"))
        );
        assert!(
            ready["message"].as_str().unwrap().contains("final diff"),
            "{ready}"
        );
        assert_eq!(condition(status, "Degraded")["status"], "False");
    }));
    let (result, _, _) = run(&table, &[&table], &writer.url, expected).await;
    assert_eq!(
        result.unwrap(),
        Action::requeue(Duration::from_secs(5)),
        "a pod is left: look again soon"
    );
    assert!(writer.snapshot_requests().is_empty());
}

#[tokio::test]
async fn once_no_writer_pod_is_left_the_table_is_suspended() {
    let report = writer_report("public.orders", true, 3);
    let mut table = suspended(local_table("orders"), 2, 1, &report);
    // A re-base asked for meanwhile waits for the resume.
    table.metadata.annotations = Some(BTreeMap::from([("rebase".into(), "now".into())]));
    let url = closed_url().await;
    let mut expected = child_applies("orders", no_check, no_check, |sts| {
        assert_eq!(sts["spec"]["replicas"], 0);
    });
    expected.push(stateful_set_read(0, 2));
    expected.push(
        Expect::event("default", "Suspended", "Normal").body(|event| {
            let note = event["note"].as_str().unwrap();
            assert!(note.contains("epoch 3 at position 0/16B3748"), "{note}");
        }),
    );
    expected.push(status_patch(&table, |status| {
        assert_eq!(status["state"], "suspended");
        assert_eq!(status["epoch"], 3, "the head the writer last reported");
        assert!(status["lastHandledRebase"].is_null());
        let ready = condition(status, "Ready");
        assert_eq!(
            (&ready["status"], &ready["reason"]),
            (&json!("False"), &json!("Suspended"))
        );
        // The condition did not flip: it keeps its transition time.
        assert_eq!(ready["lastTransitionTime"], "2023-11-14T22:16:40Z");
    }));
    let (result, _, _) = run(&table, &[&table], &url, expected).await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(30)));
}

#[tokio::test]
async fn resuming_starts_the_writer_again_and_says_so() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", false, 3)])).await;
    let mut table = suspended(
        local_table("orders"),
        2,
        0,
        &writer_report("public.orders", true, 3),
    );
    table.spec.suspend = Some(false);
    table.metadata.generation = Some(3);
    let mut expected = child_applies("orders", no_check, no_check, |sts| {
        assert_eq!(sts["spec"]["replicas"], 1);
    });
    expected.push(Expect::event("default", "Updated", "Normal"));
    expected.push(Expect::event("default", "Resumed", "Normal").body(|event| {
        let note = event["note"].as_str().unwrap();
        assert!(note.contains("in epoch 3"), "{note}");
    }));
    expected.push(status_patch(&table, |status| {
        assert_eq!(status["state"], "syncing", "what the writer says again");
        assert_eq!(condition(status, "Ready")["reason"], "WriterNotReady");
    }));
    let (result, _, _) = run(&table, &[&table], &writer.url, expected).await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(5)));
}

#[tokio::test]
async fn a_resumed_writer_that_is_not_up_yet_is_no_longer_called_suspended() {
    let url = closed_url().await;
    let mut table = suspended(
        local_table("orders"),
        2,
        0,
        &writer_report("public.orders", true, 3),
    );
    table.spec.suspend = None;
    table.metadata.generation = Some(3);
    let mut expected = child_applies("orders", no_check, no_check, no_check);
    expected.push(Expect::event("default", "Updated", "Normal"));
    expected.push(Expect::event("default", "Resumed", "Normal"));
    expected.push(status_patch(&table, |status| {
        assert!(status["state"].is_null(), "{status}");
        assert_eq!(status["epoch"], 3);
        assert_eq!(condition(status, "Ready")["reason"], "WriterUnreachable");
    }));
    let (result, _, _) = run(&table, &[&table], &url, expected).await;
    result.unwrap();
}
