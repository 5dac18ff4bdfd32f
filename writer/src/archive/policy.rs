//! The re-base policy: when to write a new base snapshot instead of a diff.
//!
//! Pure and clock-free: the caller passes the elapsed times. Every trigger is
//! optional (an omitted config key disables it); comparisons are `>=`, as in
//! laredo. Unlike laredo, the policy is evaluated on every timer tick, also
//! when no change is buffered, so `max_interval` re-bases a quiet table.
//! `min_interval` is a floor for every trigger; forced snapshots
//! (`POST /snapshot`, the operator's `rebase=now`) bypass the policy.

use std::fmt;
use std::time::Duration;

use crate::config::SnapshotPolicyConfig;

/// Why a snapshot was written; named in the log line and the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The archive had no snapshot yet.
    Initial,
    /// Requested by an operator or API call.
    Forced,
    /// The source replaced the whole table (a full snapshot after a reconnect
    /// that could not resume, or a server re-baseline): the changes across the
    /// gap are unknown, so a new base starts a new epoch.
    SourceResync,
    /// `snapshot.max_interval` passed since the last snapshot.
    MaxInterval,
    /// The diff reached `snapshot.max_diff_bytes`.
    MaxDiffBytes,
    /// The diff reached `snapshot.max_diff_fraction` of the last snapshot.
    MaxDiffFraction,
    /// Changes since the last snapshot reached `snapshot.max_churn_records`.
    MaxChurnRecords,
    /// Changes since the last snapshot reached `snapshot.max_churn_fraction`
    /// of the row count.
    MaxChurnFraction,
    /// The Parquet schema changed (other columns announced, a new column in
    /// the rows, or Parquet added to the config): the Parquet files of one
    /// epoch share one schema.
    SchemaChange,
}

impl Trigger {
    /// The config key (or `initial`/`forced`), as logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Initial => "initial",
            Trigger::Forced => "forced",
            Trigger::SourceResync => "source_resync",
            Trigger::MaxInterval => "max_interval",
            Trigger::MaxDiffBytes => "max_diff_bytes",
            Trigger::MaxDiffFraction => "max_diff_fraction",
            Trigger::MaxChurnRecords => "max_churn_records",
            Trigger::MaxChurnFraction => "max_churn_fraction",
            Trigger::SchemaChange => "schema_change",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the policy looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PolicyInputs {
    /// Time since the last committed snapshot; `None` when there is none.
    pub since_snapshot: Option<Duration>,
    /// Size of the pending diff in its first format (0 when nothing changed).
    pub diff_bytes: u64,
    /// Size of the last snapshot in its first format.
    pub last_snapshot_bytes: u64,
    /// Changes since the last snapshot.
    pub churn: u64,
    /// Rows in the table.
    pub row_count: u64,
}

/// The decision for one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Write a snapshot in a new epoch.
    Snapshot(Trigger),
    /// Write the pending diff (if it is not empty).
    Diff,
}

/// Decides between a re-base and a diff.
pub fn decide(config: &SnapshotPolicyConfig, inputs: &PolicyInputs) -> Decision {
    let Some(since) = inputs.since_snapshot else {
        return Decision::Snapshot(Trigger::Initial);
    };
    if config.min_interval.is_some_and(|min| since < min.0) {
        return Decision::Diff;
    }
    let reached_fraction = |value: u64, fraction: Option<f64>, base: u64| {
        fraction.is_some_and(|f| base > 0 && value as f64 >= f * base as f64)
    };
    let trigger = if config.max_interval.is_some_and(|max| since >= max.0) {
        Trigger::MaxInterval
    } else if config
        .max_diff_bytes
        .is_some_and(|max| inputs.diff_bytes > 0 && inputs.diff_bytes >= max.0)
    {
        Trigger::MaxDiffBytes
    } else if inputs.diff_bytes > 0
        && reached_fraction(
            inputs.diff_bytes,
            config.max_diff_fraction,
            inputs.last_snapshot_bytes,
        )
    {
        Trigger::MaxDiffFraction
    } else if config
        .max_churn_records
        .is_some_and(|max| inputs.churn > 0 && inputs.churn >= max)
    {
        Trigger::MaxChurnRecords
    } else if inputs.churn > 0
        && reached_fraction(inputs.churn, config.max_churn_fraction, inputs.row_count)
    {
        Trigger::MaxChurnFraction
    } else {
        return Decision::Diff;
    };
    Decision::Snapshot(trigger)
}

/// How long the caller's timer may sleep before the next evaluation: the diff
/// interval since the last flush, or sooner if `max_interval` falls due first.
pub fn next_tick_in(
    config: &SnapshotPolicyConfig,
    diff_interval: Duration,
    since_flush: Duration,
    since_snapshot: Option<Duration>,
) -> Duration {
    let diff_due = diff_interval.saturating_sub(since_flush);
    match (config.max_interval, since_snapshot) {
        (Some(max), Some(since)) => diff_due.min(max.0.saturating_sub(since)),
        _ => diff_due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ByteSize, GoDuration};

    const MIN: Duration = Duration::from_secs(60);

    fn inputs(since_secs: u64) -> PolicyInputs {
        PolicyInputs {
            since_snapshot: Some(Duration::from_secs(since_secs)),
            diff_bytes: 100,
            last_snapshot_bytes: 1000,
            churn: 10,
            row_count: 100,
        }
    }

    #[test]
    fn no_snapshot_yet_means_initial() {
        let decision = decide(&SnapshotPolicyConfig::default(), &PolicyInputs::default());
        assert_eq!(decision, Decision::Snapshot(Trigger::Initial));
    }

    #[test]
    fn omitted_keys_disable_their_trigger() {
        let config = SnapshotPolicyConfig::default();
        let huge = PolicyInputs {
            diff_bytes: u64::MAX,
            churn: u64::MAX,
            ..inputs(u64::MAX / 2)
        };
        assert_eq!(decide(&config, &huge), Decision::Diff);
    }

    #[test]
    fn each_trigger_fires_at_its_threshold() {
        let cases: Vec<(SnapshotPolicyConfig, Trigger)> = vec![
            (
                SnapshotPolicyConfig {
                    max_interval: Some(GoDuration(MIN)),
                    ..Default::default()
                },
                Trigger::MaxInterval,
            ),
            (
                SnapshotPolicyConfig {
                    max_diff_bytes: Some(ByteSize(100)),
                    ..Default::default()
                },
                Trigger::MaxDiffBytes,
            ),
            (
                SnapshotPolicyConfig {
                    max_diff_fraction: Some(0.1),
                    ..Default::default()
                },
                Trigger::MaxDiffFraction,
            ),
            (
                SnapshotPolicyConfig {
                    max_churn_records: Some(10),
                    ..Default::default()
                },
                Trigger::MaxChurnRecords,
            ),
            (
                SnapshotPolicyConfig {
                    max_churn_fraction: Some(0.1),
                    ..Default::default()
                },
                Trigger::MaxChurnFraction,
            ),
        ];
        for (config, trigger) in cases {
            assert_eq!(
                decide(&config, &inputs(60)),
                Decision::Snapshot(trigger),
                "{trigger}"
            );
            // Just below the threshold nothing fires.
            let below = PolicyInputs {
                diff_bytes: 99,
                churn: 9,
                ..inputs(59)
            };
            assert_eq!(decide(&config, &below), Decision::Diff, "{trigger}");
        }
    }

    #[test]
    fn max_interval_fires_on_a_quiet_table() {
        let config = SnapshotPolicyConfig {
            max_interval: Some(GoDuration(MIN)),
            ..Default::default()
        };
        let quiet = PolicyInputs {
            diff_bytes: 0,
            churn: 0,
            ..inputs(61)
        };
        assert_eq!(
            decide(&config, &quiet),
            Decision::Snapshot(Trigger::MaxInterval)
        );
        // Size and churn triggers need something to have changed.
        let config = SnapshotPolicyConfig {
            max_churn_records: Some(0),
            max_diff_bytes: Some(ByteSize(0)),
            ..Default::default()
        };
        assert_eq!(decide(&config, &quiet), Decision::Diff);
    }

    #[test]
    fn min_interval_is_a_floor_for_every_trigger() {
        let config = SnapshotPolicyConfig {
            min_interval: Some(GoDuration(MIN)),
            max_interval: Some(GoDuration(Duration::from_secs(1))),
            max_churn_records: Some(1),
            ..Default::default()
        };
        assert_eq!(decide(&config, &inputs(59)), Decision::Diff);
        assert_eq!(
            decide(&config, &inputs(60)),
            Decision::Snapshot(Trigger::MaxInterval)
        );
    }

    #[test]
    fn fractions_need_a_base() {
        let config = SnapshotPolicyConfig {
            max_diff_fraction: Some(0.1),
            max_churn_fraction: Some(0.1),
            ..Default::default()
        };
        let no_base = PolicyInputs {
            last_snapshot_bytes: 0,
            row_count: 0,
            ..inputs(60)
        };
        assert_eq!(decide(&config, &no_base), Decision::Diff);
    }

    #[test]
    fn the_timer_wakes_for_max_interval() {
        let config = SnapshotPolicyConfig {
            max_interval: Some(GoDuration(MIN)),
            ..Default::default()
        };
        let thirty = Duration::from_secs(30);
        assert_eq!(
            next_tick_in(
                &config,
                thirty,
                Duration::from_secs(10),
                Some(Duration::from_secs(55))
            ),
            Duration::from_secs(5)
        );
        assert_eq!(
            next_tick_in(&config, thirty, Duration::from_secs(10), None),
            Duration::from_secs(20)
        );
    }
}
