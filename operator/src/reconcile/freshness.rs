//! The `Stale` condition (pure): the archive's head has not moved for
//! longer than `spec.staleAfter` while something waits to be committed:
//! changes buffered in the writer, or a disconnected source (the writer
//! cannot know what it misses). An idle table with nothing to write is
//! never stale. The next commit clears it. Its messages do not carry the
//! time that passes, so an unchanged table's status is not rewritten on
//! every refresh.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::EventType;
use snapshot_contract::GoDuration;
use snapshot_contract::config::DiffConfig;
use snapshot_contract::status::TableStatus;

use super::status::Observation;
use crate::crd::{CONDITION_STALE, SnapshotTableSpec, SnapshotTableStatus};

/// `spec.staleAfter` when the spec sets none: this many diff intervals.
pub const DEFAULT_DIFF_INTERVALS: u32 = 3;

/// The reason of `Stale=False` while the writer commits.
pub const FRESH: &str = "Fresh";

/// The threshold in effect: `spec.staleAfter`, else
/// [`DEFAULT_DIFF_INTERVALS`] diff intervals (validation rejects a
/// `staleAfter` that does not parse, see [`check`]).
pub fn stale_after(spec: &SnapshotTableSpec) -> Duration {
    if let Some(after) = spec
        .stale_after
        .as_deref()
        .and_then(|t| GoDuration::parse(t).ok())
    {
        return after.0;
    }
    let interval = spec
        .diff
        .as_ref()
        .and_then(|d| d.interval.as_deref())
        .and_then(|t| GoDuration::parse(t).ok())
        .unwrap_or_else(|| DiffConfig::default().interval);
    interval.0.saturating_mul(DEFAULT_DIFF_INTERVALS)
}

/// The problem with `spec.staleAfter`, if any.
pub fn check(spec: &SnapshotTableSpec) -> Option<String> {
    match GoDuration::parse(spec.stale_after.as_deref()?) {
        Err(message) => Some(message),
        Ok(after) if after.0.is_zero() => Some("must be longer than 0".into()),
        Ok(_) => None,
    }
}

/// `Stale`'s status, reason and message for a writer's report at `now`.
pub fn assess(
    report: &TableStatus,
    stale_after: Duration,
    now: Timestamp,
) -> (bool, &'static str, String) {
    let threshold = GoDuration(stale_after);
    let Some(last) = report.last_commit_at.as_deref() else {
        return (
            false,
            "NoCommitYet",
            "no artifact is committed yet; Ready says when the first is".into(),
        );
    };
    let Some(age) = age(last, now) else {
        return (
            false,
            "Unknown",
            format!("the writer's last commit time {last:?} is not a time"),
        );
    };
    let fresh = (
        false,
        FRESH,
        format!(
            "the head was committed within staleAfter ({threshold}), or nothing waits to be committed"
        ),
    );
    if age <= stale_after {
        return fresh;
    }
    let error = report
        .last_error
        .as_ref()
        .map(|e| format!("; last error ({}): {}", e.scope, e.message))
        .unwrap_or_default();
    if report.buffer_depth > 0 {
        (
            true,
            "ChangesNotCommitted",
            format!(
                "nothing committed since {last}, longer than staleAfter ({threshold}), while changes wait in the writer's buffer{error}"
            ),
        )
    } else if !report.source.connected {
        (
            true,
            "SourceDisconnected",
            format!(
                "nothing committed since {last}, longer than staleAfter ({threshold}), and the source is disconnected: the writer cannot know what it misses{error}"
            ),
        )
    } else {
        fresh
    }
}

/// `Stale`'s status, reason and message after `observation`: assessed from
/// the writer's report; the `current` one kept while the writer cannot be
/// asked (or the spec is invalid and the old writer runs on); false where
/// no writer runs.
pub fn condition(
    observation: &Observation<'_>,
    current: &SnapshotTableStatus,
    spec: &SnapshotTableSpec,
    now: Timestamp,
) -> (bool, String, String) {
    let keep = |reason: &str, message: &str| match current.condition(CONDITION_STALE) {
        Some(c) => (c.status == "True", c.reason.clone(), c.message.clone()),
        None => (false, reason.to_owned(), message.to_owned()),
    };
    let (stale, reason, message) = match observation {
        Observation::Writer { report: Ok(report), .. } => assess(report, stale_after(spec), now),
        Observation::Writer { report: Err(_), .. } => {
            return keep("WriterUnreachable", "the writer cannot be asked; see Ready");
        }
        Observation::Invalid(_) => {
            return keep("InvalidSpec", "the spec is invalid; see Degraded");
        }
        Observation::Suspended { .. } => (
            false,
            "Suspended",
            "no writer runs while the resource is suspended; the head stays where its final commit left it".into(),
        ),
        Observation::Conflict(_) => (
            false,
            "Conflict",
            "no writer runs for this resource while the conflict lasts".into(),
        ),
    };
    (stale, reason.to_owned(), message)
}

/// How long until a report that waits to commit turns stale, to look again
/// then; `None` when nothing waits or it is stale already.
pub fn due_in(report: &TableStatus, stale_after: Duration, now: Timestamp) -> Option<Duration> {
    let waiting = report.buffer_depth > 0 || !report.source.connected;
    let age = age(report.last_commit_at.as_deref()?, now)?;
    (waiting && age <= stale_after).then(|| stale_after - age)
}

/// When to look at the writer again: at `refresh`, or just after waiting
/// changes would turn stale if that is sooner (so `Stale` flips within its
/// threshold, not up to a refresh interval late).
pub fn next_look(
    refresh: Duration,
    report: Option<&TableStatus>,
    stale_after: Duration,
    now: Timestamp,
) -> Duration {
    match report.and_then(|r| due_in(r, stale_after, now)) {
        Some(due) => refresh.min(due + STALE_MARGIN),
        None => refresh,
    }
}

/// How long after waiting changes would turn stale the writer is asked
/// again: past the threshold, not on it.
const STALE_MARGIN: Duration = Duration::from_secs(1);

fn age(at: &str, now: Timestamp) -> Option<Duration> {
    let at: Timestamp = at.parse().ok()?;
    Some(Duration::try_from(now.duration_since(at)).unwrap_or(Duration::ZERO))
}

/// The Event of a flip of `Stale` from `previous` to `next`: `Stale` when
/// it turns true, `Fresh` when a commit clears it.
pub fn flip(
    previous: Option<&SnapshotTableStatus>,
    next: &SnapshotTableStatus,
) -> Option<(EventType, &'static str, String)> {
    let was = previous.is_some_and(|s| s.is_true(CONDITION_STALE));
    let now = next.condition(CONDITION_STALE)?;
    match (was, now.status.as_str(), now.reason.as_str()) {
        (false, "True", _) => Some((EventType::Warning, "Stale", now.message.clone())),
        (true, "False", FRESH) => {
            let at = next.last_commit_at.as_deref().unwrap_or("now");
            let note = format!("the head moves again: the writer committed at {at}");
            Some((EventType::Normal, "Fresh", note))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::DiffSpec;
    use crate::fixtures::{local_table, writer_report};

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    /// A live writer that last committed at second 1000, with `buffered`
    /// changes and its source `connected`.
    fn report(buffered: u64, connected: bool) -> TableStatus {
        let mut report = writer_report("public.orders", true, 1);
        report.last_commit_at = Some(at(1_000).to_string());
        report.buffer_depth = buffered;
        report.source.connected = connected;
        report
    }

    #[test]
    fn the_threshold_is_the_spec_or_three_diff_intervals() {
        let mut spec = local_table("orders").spec;
        assert_eq!(stale_after(&spec), Duration::from_secs(90));
        spec.diff = Some(DiffSpec {
            interval: Some("10s".into()),
        });
        assert_eq!(stale_after(&spec), Duration::from_secs(30));
        spec.stale_after = Some("5m".into());
        assert_eq!(stale_after(&spec), Duration::from_secs(300));
        assert_eq!(check(&spec), None);
        spec.stale_after = Some("0s".into());
        assert_eq!(check(&spec).as_deref(), Some("must be longer than 0"));
        spec.stale_after = Some("soon".into());
        assert!(check(&spec).unwrap().contains("invalid duration"));
    }

    #[test]
    fn stale_only_past_the_threshold_and_only_while_something_waits() {
        let after = Duration::from_secs(30);
        let stale = |report: &TableStatus, now| assess(report, after, at(now));
        assert!(!stale(&report(5, true), 1_030).0, "at the threshold");
        let (is, reason, message) = stale(&report(5, true), 1_031);
        assert!(is);
        assert_eq!(reason, "ChangesNotCommitted");
        assert!(
            message.contains("1970-01-01T00:16:40Z") && message.contains("30s"),
            "{message}"
        );
        assert_eq!(stale(&report(0, false), 1_100).1, "SourceDisconnected");
        assert_eq!(
            stale(&report(0, true), 9_999),
            (false, FRESH, stale(&report(5, true), 1_001).2)
        );
        let mut first = report(5, true);
        first.last_commit_at = None;
        assert_eq!(stale(&first, 9_999).1, "NoCommitYet");
    }

    #[test]
    fn the_next_look_is_when_waiting_changes_would_turn_stale() {
        let after = Duration::from_secs(30);
        assert_eq!(
            due_in(&report(5, true), after, at(1_010)),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            due_in(&report(0, true), after, at(1_010)),
            None,
            "nothing waits"
        );
        assert_eq!(
            due_in(&report(5, true), after, at(1_040)),
            None,
            "stale already"
        );
        let refresh = Duration::from_secs(60);
        let look = |report: &TableStatus, now| next_look(refresh, Some(report), after, at(now));
        assert_eq!(look(&report(5, true), 1_010), Duration::from_secs(21));
        assert_eq!(look(&report(0, true), 1_010), refresh);
        assert_eq!(
            next_look(refresh, None, after, at(1_010)),
            refresh,
            "unreachable"
        );
    }

    #[test]
    fn a_flip_to_stale_warns_and_the_next_commit_says_fresh() {
        let with = |status: bool, reason: &str| {
            let mut s = SnapshotTableStatus::default();
            s.conditions.push(crate::reconcile::status::condition(
                None,
                CONDITION_STALE,
                status,
                reason,
                "m".into(),
                None,
                &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(1)),
            ));
            s.last_commit_at = Some("2026-01-02T03:04:05Z".into());
            s
        };
        let fresh = with(false, FRESH);
        let stale = with(true, "ChangesNotCommitted");
        let (kind, reason, _) = flip(Some(&fresh), &stale).unwrap();
        assert_eq!((kind, reason), (EventType::Warning, "Stale"));
        assert_eq!(flip(None, &stale).unwrap().1, "Stale");
        let (kind, reason, note) = flip(Some(&stale), &fresh).unwrap();
        assert_eq!((kind, reason), (EventType::Normal, "Fresh"));
        assert!(note.contains("2026-01-02T03:04:05Z"), "{note}");
        assert_eq!(flip(Some(&stale), &stale), None, "no flip, no Event");
        assert_eq!(flip(Some(&fresh), &fresh), None);
        assert_eq!(
            flip(Some(&stale), &with(false, "Suspended")),
            None,
            "suspending is not a commit"
        );
    }
}
