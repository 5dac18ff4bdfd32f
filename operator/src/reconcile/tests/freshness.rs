//! The `Stale` condition against a writer's report: it turns true with a
//! Warning Event once nothing was committed for longer than `staleAfter`
//! while changes wait, and the next commit clears it with a `Fresh` Event.

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::*;
use crate::crd::CONDITION_STALE;

/// The writer's report: live, `buffered` changes waiting, last commit
/// `age` seconds ago (real time: the reconcile reads the clock).
fn report(buffered: u64, age: i64) -> TableStatus {
    let mut report = writer_report("public.orders", true, 2);
    report.buffer_depth = buffered;
    let at = Timestamp::now() - SignedDuration::from_secs(age);
    report.last_commit_at = Some(at.to_string());
    report
}

#[tokio::test]
async fn buffered_changes_past_the_threshold_turn_stale_with_a_warning() {
    let fresh = report(5, 1);
    let waiting = report(5, 200);
    let writer = FakeWriter::start(json!([serde_json::to_value(&waiting).unwrap()])).await;
    let table = settled(local_table("orders"), &writer.url, &fresh, 1);
    assert_eq!(
        table
            .status
            .as_ref()
            .unwrap()
            .condition(CONDITION_STALE)
            .unwrap()
            .status,
        "False"
    );
    let mut expected = child_applies("orders", no_check, no_check, no_check);
    expected.push(Expect::event("default", "Stale", "Warning").body(|event| {
        let note = event["note"].as_str().unwrap();
        assert!(note.contains("longer than staleAfter (90s)"), "{note}");
    }));
    let last_commit = waiting.last_commit_at.clone().unwrap();
    expected.push(status_patch(&table, move |status| {
        let stale = condition(status, "Stale");
        assert_eq!(
            (&stale["status"], &stale["reason"]),
            (&json!("True"), &json!("ChangesNotCommitted"))
        );
        assert_eq!(status["bufferedChanges"], 5);
        assert_eq!(status["rows"], 10);
        assert_eq!(status["lastCommitAt"], last_commit.as_str());
        assert_eq!(condition(status, "Ready")["status"], "True", "still ready");
    }));
    let (result, _, _) = run(&table, &[&table], &writer.url, expected).await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(30)));
}

#[tokio::test]
async fn the_next_commit_clears_stale_and_says_fresh() {
    let writer = FakeWriter::start(json!([serde_json::to_value(report(3, 0)).unwrap()])).await;
    let table = settled(local_table("orders"), &writer.url, &report(5, 200), 1);
    // A status written while the head was stale.
    let mut table = table;
    let now = Time(Timestamp::now());
    table.status = Some(status::desired(
        &table,
        &Observation::Writer {
            url: &writer.url,
            report: Ok(&report(5, 200)),
        },
        None,
        &now,
    ));
    assert!(table.status.as_ref().unwrap().is_true(CONDITION_STALE));
    let mut expected = child_applies("orders", no_check, no_check, no_check);
    expected.push(Expect::event("default", "Fresh", "Normal").body(|event| {
        let note = event["note"].as_str().unwrap();
        assert!(note.starts_with("the head moves again"), "{note}");
    }));
    expected.push(status_patch(&table, |status| {
        let stale = condition(status, "Stale");
        assert_eq!(
            (&stale["status"], &stale["reason"]),
            (&json!("False"), &json!("Fresh"))
        );
        assert!(!stale["message"].as_str().unwrap().is_empty());
    }));
    let (result, _, _) = run(&table, &[&table], &writer.url, expected).await;
    result.unwrap();
}

#[tokio::test]
async fn an_idle_table_is_never_stale_and_its_status_is_not_rewritten() {
    let idle = report(0, 100_000);
    let writer = FakeWriter::start(json!([serde_json::to_value(&idle).unwrap()])).await;
    let table = settled(local_table("orders"), &writer.url, &idle, 1);
    // No Event and no status write: nothing changed.
    let (result, _, _) = run(
        &table,
        &[&table],
        &writer.url,
        child_applies("orders", no_check, no_check, no_check),
    )
    .await;
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(30)));
}
