//! Capped exponential reconnect backoff that resets after a healthy stream.
//!
//! The rule: the first retry after a failure waits `initial_backoff`; each
//! further failure without a healthy stream in between doubles the wait, up
//! to `max_backoff`. A stream is *healthy* once it caught up with the server
//! (its snapshot ended, its journal catch-up finished, or a heartbeat came):
//! after such a stream the next wait starts again at `initial_backoff`. A
//! stream that keeps dying before catching up therefore backs off, even if
//! each attempt connects. laredo's Go client never resets, so one bad hour
//! leaves it reconnecting only every 30 s forever after.
//!
//! Each wait is jittered down by up to a quarter so a fleet of writers
//! restarted together does not reconnect in lockstep.

use std::time::Duration;

use rand::Rng;

/// The backoff state of one source.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `initial`, capped at `max` (raised to `initial` if lower).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            next: initial,
        }
    }

    /// The un-jittered wait the next failure will cause.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// The wait before the next attempt, advancing the backoff.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter = rand::rng().random_range(0.75..=1.0);
        delay.mul_f64(jitter)
    }

    /// Called after a healthy stream ended.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let mut waits = Vec::new();
        for _ in 0..5 {
            waits.push(backoff.peek());
            let delay = backoff.next_delay();
            assert!(delay <= waits[waits.len() - 1]);
            assert!(delay >= waits[waits.len() - 1].mul_f64(0.75));
        }
        let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 5, 5]);
        backoff.reset();
        assert_eq!(backoff.peek(), Duration::from_secs(1));
    }
}
