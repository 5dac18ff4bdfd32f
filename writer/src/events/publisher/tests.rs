//! The queue and retry logic, with in-process sinks; the real services are
//! exercised by `writer/tests/aws/events.rs` against moto.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use tokio::sync::Semaphore;

use super::*;
use crate::events::{EventKind, SinkError};
use crate::metrics::Metrics;

/// Records what it accepted; fails the first `failures` attempts; each
/// attempt first takes a permit from `gate`.
#[derive(Debug)]
struct TestSink {
    accepted: Mutex<Vec<String>>,
    failures: AtomicU32,
    gate: Semaphore,
}

impl TestSink {
    fn new(failures: u32, open: bool) -> Arc<Self> {
        Arc::new(Self {
            accepted: Mutex::new(Vec::new()),
            failures: AtomicU32::new(failures),
            gate: Semaphore::new(if open { Semaphore::MAX_PERMITS } else { 0 }),
        })
    }

    fn accepted(&self) -> Vec<String> {
        self.accepted.lock().unwrap().clone()
    }
}

#[async_trait]
impl EventSink for TestSink {
    fn label(&self) -> &str {
        "test:sink"
    }

    async fn send(&self, event: &Event, _payload: &str) -> Result<(), SinkError> {
        self.gate.acquire().await.unwrap().forget();
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
            .is_ok()
        {
            return Err(SinkError {
                sink: "test:sink".into(),
                source: "unavailable".into(),
            });
        }
        self.accepted
            .lock()
            .unwrap()
            .push(event.to_position.clone());
        Ok(())
    }
}

fn event(to: u32) -> Event {
    Event {
        table: "public.t".into(),
        kind: EventKind::Diff,
        epoch: 1,
        from_position: Some(format!("{}", to - 1)),
        to_position: format!("{to}"),
        head_position: format!("{to}"),
        manifest_uri: "file:///a/t/manifest.json".into(),
        formats: BTreeMap::new(),
        created_at: jiff::Timestamp::now(),
        id: format!("diff-{to}"),
        writer: None,
    }
}

fn counter(metrics: &Metrics, name: &str) -> u64 {
    let prefix = format!("{name}{{sink=\"test:sink\",table=\"public.t\"}} ");
    metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or(0)
}

fn fast() -> PublisherOptions {
    PublisherOptions {
        queue_capacity: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not reached");
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest_events_and_keeps_the_newest() {
    let metrics = Metrics::new();
    let sink = TestSink::new(0, false);
    let publisher = EventPublisher::start(vec![sink.clone()], metrics.table("public.t"), fast());
    publisher.publish(event(1));
    // Let the task pick event 1 up and block in the sink.
    tokio::time::sleep(Duration::from_millis(20)).await;
    for to in 2..=6 {
        publisher.publish(event(to));
    }
    assert_eq!(counter(&metrics, "snapshotter_events_dropped_total"), 3);
    assert_eq!(publisher.pending(), 3);
    sink.gate.add_permits(100);
    until(|| sink.accepted().len() == 4).await;
    // Event 1 was already in flight when dropped from the queue, so it is
    // delivered; 2 and 3 were dropped; the newest three follow.
    assert_eq!(sink.accepted(), ["1", "4", "5", "6"]);
    assert_eq!(publisher.shutdown(Duration::from_secs(5)).await, 0);
    assert_eq!(counter(&metrics, "snapshotter_events_published_total"), 4);
}

#[tokio::test]
async fn failed_attempts_are_counted_and_retried_until_the_sink_accepts() {
    let metrics = Metrics::new();
    let sink = TestSink::new(3, true);
    let publisher = EventPublisher::start(vec![sink.clone()], metrics.table("public.t"), fast());
    publisher.publish(event(1));
    publisher.publish(event(2));
    until(|| sink.accepted().len() == 2).await;
    assert_eq!(sink.accepted(), ["1", "2"], "in order, each once");
    assert_eq!(counter(&metrics, "snapshotter_event_errors_total"), 3);
    assert_eq!(counter(&metrics, "snapshotter_events_published_total"), 2);
    assert_eq!(publisher.shutdown(Duration::from_secs(5)).await, 0);
}

#[tokio::test]
async fn shutdown_flushes_what_it_can_and_reports_the_rest() {
    let metrics = Metrics::new();
    let healthy = TestSink::new(0, true);
    let publisher = EventPublisher::start(vec![healthy.clone()], metrics.table("public.t"), fast());
    for to in 1..=3 {
        publisher.publish(event(to));
    }
    assert_eq!(publisher.shutdown(Duration::from_secs(5)).await, 0);
    assert_eq!(healthy.accepted(), ["1", "2", "3"]);

    let dead = TestSink::new(u32::MAX, true);
    let publisher = EventPublisher::start(vec![dead.clone()], metrics.table("public.t"), fast());
    publisher.publish(event(1));
    publisher.publish(event(2));
    assert_eq!(publisher.shutdown(Duration::from_millis(50)).await, 2);
    assert!(dead.accepted().is_empty());
}
