//! What happens to the advisory events ([`crate::events`]) on their way to a
//! sink: published, refused (retried), dropped from a full queue.

use std::error::Error;
use std::time::Duration;

use super::InternalEvent;
use crate::metrics::TableMetrics;
use crate::telemetry::with_causes;

/// A sink accepted an event.
pub struct EventPublished<'a> {
    /// The sink's label.
    pub sink: &'a str,
}

impl InternalEvent for EventPublished<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.event_published(self.sink);
    }
}

/// A sink refused an event; it is retried after `retry_in`.
pub struct EventPublishFailed<'a> {
    /// The sink's label.
    pub sink: &'a str,
    /// The event's position.
    pub to_position: &'a str,
    /// Failed attempts in a row.
    pub attempt: u32,
    /// The pause before the next attempt.
    pub retry_in: Duration,
    /// Why.
    pub error: &'a (dyn Error + 'static),
}

impl InternalEvent for EventPublishFailed<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.event_error(self.sink);
        tracing::warn!(
            sink = %self.sink,
            to_position = %self.to_position,
            attempt = self.attempt,
            retry_in_ms = super::millis(self.retry_in),
            error = %with_causes(self.error),
            "event publish failed; will retry"
        );
    }
}

/// A sink's queue was full: its oldest event was dropped undelivered.
pub struct EventDropped<'a> {
    /// The sink's label.
    pub sink: &'a str,
    /// The dropped event's position.
    pub to_position: &'a str,
    /// The queue's capacity.
    pub capacity: usize,
}

impl InternalEvent for EventDropped<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.event_dropped(self.sink);
        tracing::warn!(
            sink = %self.sink,
            dropped_to_position = %self.to_position,
            capacity = self.capacity,
            "event queue full: dropped the oldest event"
        );
    }
}
