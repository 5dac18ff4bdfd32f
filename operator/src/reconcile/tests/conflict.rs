//! One writer per location: the younger resource waits, and takes over
//! when the winner goes.

use super::*;

/// Two resources on one location, the younger already reporting `Conflict`.
fn reported_conflict() -> (SnapshotTable, SnapshotTable) {
    let first = with_age(s3_table("first", "bucket", "archive/"), 100, "uid-first");
    let mut second = with_age(s3_table("second", "bucket", "archive/"), 10, "uid-second");
    let blocker = claims::blocker(
        &second,
        &validate::validate(&second).unwrap().locations,
        &[Arc::new(first.clone())],
        &claims::LocationCache::default(),
    )
    .unwrap();
    let at = Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_100).unwrap());
    second.status = Some(status::desired(
        &second,
        &Observation::Conflict(&blocker),
        None,
        &at,
    ));
    (first, second)
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
        assert!(
            message.contains("s3://aws/bucket/archive/orders/manifest.json"),
            "{message}"
        );
        assert_eq!(condition(status, "Ready")["reason"], "Conflict");
        assert!(status["writerUrl"].is_null());
    }));
    let (result, _, _) = run(&second, &[&first, &second], &writer.url, expected).await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(5)));

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
    let (first, second) = reported_conflict();
    let (result, bodies, _) = run(&second, &[&first, &second], &writer.url, vec![]).await;
    result.unwrap();
    assert!(bodies.is_empty());
}

#[tokio::test]
async fn a_conflict_resolves_when_the_winner_is_deleted() {
    let writer = FakeWriter::start(json!([writer_status_json("public.orders", false, 0)])).await;
    let (mut first, second) = reported_conflict();
    let at = Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_100).unwrap());

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
