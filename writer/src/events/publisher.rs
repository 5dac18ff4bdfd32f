//! One table's event publisher: a bounded queue and a background task per
//! sink.
//!
//! Events are advisory, and a consumer that sees a newer event can read the
//! manifest for everything before it, so when a sink falls behind (down,
//! throttled) its queue keeps the newest events and drops the oldest, counted
//! in `snapshotter_events_dropped_total{sink}` and logged. Each task works on
//! the oldest queued event until the sink accepts it (at least once),
//! retrying with jittered exponential backoff capped at
//! [`PublisherOptions::max_backoff`]; every failed attempt is counted in
//! `snapshotter_event_errors_total{sink}` and logged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::{Event, EventSink};
use crate::aws::jittered_backoff;
use crate::metrics::TableMetrics;
use crate::telemetry::internal_events::{EventDropped, EventPublishFailed, EventPublished};

/// Queue and retry settings of an [`EventPublisher`].
#[derive(Debug, Clone)]
pub struct PublisherOptions {
    /// Events queued per sink before the oldest is dropped (default 1000).
    pub queue_capacity: usize,
    /// First retry delay after a failed publish (default 500 ms).
    pub initial_backoff: Duration,
    /// Largest retry delay (default 60 s).
    pub max_backoff: Duration,
}

impl Default for PublisherOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 1000,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// Publishes one table's events to its sinks without ever blocking the
/// caller. Needs a Tokio runtime.
#[derive(Debug)]
pub struct EventPublisher {
    queues: Vec<Arc<SinkQueue>>,
    tasks: Vec<JoinHandle<()>>,
    metrics: TableMetrics,
    capacity: usize,
}

#[derive(Debug)]
struct SinkQueue {
    label: String,
    state: Mutex<QueueState>,
    wake: Notify,
}

#[derive(Debug, Default)]
struct QueueState {
    events: VecDeque<Queued>,
    next_seq: u64,
    closed: bool,
}

#[derive(Debug, Clone)]
struct Queued {
    seq: u64,
    event: Arc<Event>,
    payload: Arc<str>,
}

impl SinkQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // The state stays consistent under any panic (plain pushes and pops).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventPublisher {
    /// Starts a task per sink.
    pub fn start(
        sinks: Vec<Arc<dyn EventSink>>,
        metrics: TableMetrics,
        options: PublisherOptions,
    ) -> Self {
        let mut queues = Vec::with_capacity(sinks.len());
        let mut tasks = Vec::with_capacity(sinks.len());
        for sink in sinks {
            metrics.track_sink(sink.label());
            let queue = Arc::new(SinkQueue {
                label: sink.label().to_owned(),
                state: Mutex::new(QueueState::default()),
                wake: Notify::new(),
            });
            // In the caller's span (the table's), like its own log lines.
            tasks.push(tokio::spawn(
                deliver(sink, Arc::clone(&queue), metrics.clone(), options.clone())
                    .in_current_span(),
            ));
            queues.push(queue);
        }
        Self {
            queues,
            tasks,
            metrics,
            capacity: options.queue_capacity.max(1),
        }
    }

    /// Queues `event` for every sink and returns at once.
    pub fn publish(&self, event: Event) {
        let payload: Arc<str> = event.to_json().into();
        let event = Arc::new(event);
        for queue in &self.queues {
            let mut state = queue.lock();
            if state.closed {
                continue;
            }
            if state.events.len() >= self.capacity
                && let Some(dropped) = state.events.pop_front()
            {
                self.metrics.emit(EventDropped {
                    sink: &queue.label,
                    to_position: &dropped.event.to_position,
                    capacity: self.capacity,
                });
            }
            let seq = state.next_seq;
            state.next_seq += 1;
            state.events.push_back(Queued {
                seq,
                event: Arc::clone(&event),
                payload: Arc::clone(&payload),
            });
            drop(state);
            queue.wake.notify_one();
        }
    }

    /// Events queued and not yet accepted, over all sinks.
    pub fn pending(&self) -> usize {
        self.queues.iter().map(|q| q.lock().events.len()).sum()
    }

    /// Stops taking events and tries to deliver the queued ones for at most
    /// `deadline`; returns how many were left undelivered (and logs them).
    pub async fn shutdown(mut self, deadline: Duration) -> usize {
        for queue in &self.queues {
            queue.lock().closed = true;
            queue.wake.notify_one();
        }
        let tasks = std::mem::take(&mut self.tasks);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        if tokio::time::timeout(deadline, futures::future::join_all(tasks))
            .await
            .is_err()
        {
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
        let mut undelivered = 0;
        for queue in &self.queues {
            let left = queue.lock().events.len();
            if left > 0 {
                tracing::warn!(
                    sink = %queue.label,
                    undelivered = left,
                    "shutdown: events not delivered before the deadline"
                );
            }
            undelivered += left;
        }
        undelivered
    }
}

impl Drop for EventPublisher {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

/// Delivers a queue's events, oldest first, until it is closed and empty.
async fn deliver(
    sink: Arc<dyn EventSink>,
    queue: Arc<SinkQueue>,
    metrics: TableMetrics,
    options: PublisherOptions,
) {
    let mut failures: u32 = 0;
    loop {
        let next = {
            let state = queue.lock();
            match state.events.front() {
                Some(queued) => Some(queued.clone()),
                None if state.closed => return,
                None => None,
            }
        };
        let Some(queued) = next else {
            // A notify_one sent since the check left a permit: nothing is missed.
            queue.wake.notified().await;
            continue;
        };
        match sink.send(&queued.event, &queued.payload).await {
            Ok(()) => {
                failures = 0;
                metrics.emit(EventPublished { sink: &queue.label });
                let mut state = queue.lock();
                // The event may have been dropped as the oldest while in flight.
                if state.events.front().is_some_and(|q| q.seq == queued.seq) {
                    state.events.pop_front();
                }
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                let delay =
                    jittered_backoff(options.initial_backoff, options.max_backoff, failures);
                metrics.emit(EventPublishFailed {
                    sink: &queue.label,
                    to_position: &queued.event.to_position,
                    attempt: failures,
                    retry_in: delay,
                    error: &err,
                });
                tokio::time::sleep(delay).await;
            }
        }
    }
}

#[cfg(test)]
mod tests;
