//! The manifest commit protocol over several destinations.
//!
//! Artifacts are put on every destination first (by the writer); then the
//! manifest is written to every destination with compare-and-swap against the
//! revision last seen there. The commit point is the first destination that
//! stores it; a destination that failed transiently is brought up to date
//! (with the newest manifest, whose artifacts it already holds) at the start
//! of the next attempt, before anything new is written.
//!
//! On a conflict the stored manifest is re-read. If it names another table,
//! two tables share one place (one process can run both, so the identity
//! alone cannot tell): this writer is **fenced** without touching it. If
//! this writer's identity committed it (a request that timed out but
//! landed), the write is retried on top of it ([`ManifestCasRetried`]); if
//! another identity did, this writer is **fenced** ([`Fenced`]): it stops
//! writing for good, sets the `fenced` metric and logs the other writer's
//! identity. A write that fails on a destination, also one whose retries
//! ran out, is logged and counted there ([`ManifestWriteFailed`]).
//!
//! The manifest in memory is only ever replaced by one that a destination has
//! stored ([`ManifestStore::committed`]); a manifest whose writes all failed
//! stays the pending target, retried unchanged until it lands somewhere, so a
//! failed commit never leaves a divergent in-memory manifest or duplicate
//! entries (laredo's §3.6 defects).

use std::sync::Arc;

use bytes::Bytes;
use futures::future::join_all;

use super::ArchiveError;
use super::keys::manifest_key;
use super::manifest::Manifest;
use super::retention::Deletion;
use crate::dest::{DestError, Destination, Revision};
use crate::metrics::TableMetrics;
use crate::telemetry::internal_events::{
    DestinationFailed, Fenced, FencedBy, ManifestCasRetried, ManifestWriteFailed,
    RetentionDeleteFailed,
};
use crate::telemetry::with_causes;

/// How many conflicts with our own landed writes one put may resolve.
const MAX_CAS_RETRIES: usize = 5;

/// Why this writer stopped writing for good.
#[derive(Debug, Clone)]
enum Fence {
    /// Another writer identity committed the manifest.
    Writer(Option<String>),
    /// The manifest now names another table.
    Table(String),
}

#[derive(Debug)]
struct DestState {
    revision: Option<Revision>,
    holds_target: bool,
    deletions: Vec<Deletion>,
}

/// The manifest as stored on every destination.
#[derive(Debug)]
pub struct ManifestStore {
    dests: Vec<Arc<dyn Destination>>,
    key: String,
    identity: String,
    metrics: TableMetrics,
    committed: Manifest,
    target: Manifest,
    target_body: Bytes,
    states: Vec<DestState>,
    /// The destination where the fence was seen, and why.
    fenced: Option<(String, Fence)>,
}

enum PutFailure {
    Fenced(Fence),
    Failed(ArchiveError),
}

impl ManifestStore {
    /// Reads the manifest from every destination and takes the most advanced
    /// one (an empty manifest for `table` when none exists). Lagging
    /// destinations are listed by [`lagging`](Self::lagging) and brought up
    /// to date by [`sync`](Self::sync).
    pub async fn open(
        dests: Vec<Arc<dyn Destination>>,
        key_prefix: &str,
        table: &str,
        identity: String,
        metrics: TableMetrics,
    ) -> Result<Self, ArchiveError> {
        if dests.is_empty() {
            return Err(ArchiveError::NoDestination);
        }
        let key = manifest_key(key_prefix);
        let reads = join_all(dests.iter().map(|dest| dest.get(&key))).await;
        let mut stored = Vec::with_capacity(dests.len());
        for (dest, read) in dests.iter().zip(reads) {
            let read =
                read.inspect_err(|_| metrics.emit(DestinationFailed { dest: dest.name() }))?;
            let parsed = match read {
                None => None,
                Some(versioned) => {
                    let manifest = Manifest::parse(&versioned.body).map_err(|error| {
                        ArchiveError::Manifest {
                            dest: dest.name().to_owned(),
                            key: key.clone(),
                            error,
                        }
                    })?;
                    if manifest.table != table && !manifest.table.is_empty() {
                        return Err(ArchiveError::WrongTable {
                            dest: dest.name().to_owned(),
                            key: key.clone(),
                            found: manifest.table,
                            expected: table.to_owned(),
                        });
                    }
                    Some((manifest, versioned.revision))
                }
            };
            stored.push(parsed);
        }
        let best = stored
            .iter()
            .flatten()
            .map(|(manifest, _)| manifest)
            .max_by(|a, b| a.progress_cmp(b))
            .cloned();
        let target = best.clone().unwrap_or_else(|| Manifest::new(table));
        let states = stored
            .into_iter()
            .map(|entry| {
                let holds_target = match (&entry, &best) {
                    (Some((manifest, _)), Some(best)) => manifest == best,
                    (None, None) => true,
                    _ => false,
                };
                DestState {
                    revision: entry.map(|(_, revision)| revision),
                    holds_target,
                    deletions: Vec::new(),
                }
            })
            .collect();
        Ok(Self {
            dests,
            key,
            identity,
            metrics,
            committed: target.clone(),
            target_body: Bytes::from(target.to_json()),
            target,
            states,
            fenced: None,
        })
    }

    /// The newest manifest stored on at least one destination.
    pub fn committed(&self) -> &Manifest {
        &self.committed
    }

    /// The manifest the next artifact builds on: the committed one, or a newer
    /// one whose writes are still pending.
    pub fn target(&self) -> &Manifest {
        &self.target
    }

    /// Names of destinations that do not yet hold the target manifest.
    pub fn lagging(&self) -> Vec<String> {
        self.dests
            .iter()
            .zip(&self.states)
            .filter(|(_, state)| !state.holds_target)
            .map(|(dest, _)| dest.name().to_owned())
            .collect()
    }

    /// Indices of destinations that hold the target manifest.
    pub fn holders(&self) -> Vec<usize> {
        (0..self.states.len())
            .filter(|i| self.states[*i].holds_target)
            .collect()
    }

    /// The destinations, in config order.
    pub fn destinations(&self) -> &[Arc<dyn Destination>] {
        &self.dests
    }

    /// The fencing error, if this writer was fenced.
    pub fn fenced_error(&self) -> Option<ArchiveError> {
        self.fenced.as_ref().map(|(dest, fence)| match fence {
            Fence::Writer(other) => ArchiveError::Fenced {
                dest: dest.clone(),
                other: other.clone(),
                ours: self.identity.clone(),
            },
            Fence::Table(found) => ArchiveError::FencedByTable {
                dest: dest.clone(),
                key: self.key.clone(),
                found: found.clone(),
                expected: self.target.table.clone(),
            },
        })
    }

    /// Makes `candidate` the target and writes it everywhere; deletions run on
    /// each destination once it stores the candidate. Succeeds when at least
    /// one destination stored it.
    pub async fn commit(
        &mut self,
        candidate: Manifest,
        deletions: Vec<Deletion>,
    ) -> Result<(), ArchiveError> {
        if let Some(fenced) = self.fenced_error() {
            return Err(fenced);
        }
        self.target_body = Bytes::from(candidate.to_json());
        self.target = candidate;
        for state in &mut self.states {
            state.holds_target = false;
            state.deletions.extend(deletions.iter().cloned());
        }
        self.sync().await
    }

    /// Writes the target manifest to every destination that lacks it, then
    /// runs their queued deletions. Succeeds when the target is stored on at
    /// least one destination (the others are retried next time).
    pub async fn sync(&mut self) -> Result<(), ArchiveError> {
        if let Some(fenced) = self.fenced_error() {
            return Err(fenced);
        }
        let pending: Vec<usize> = (0..self.states.len())
            .filter(|i| !self.states[*i].holds_target)
            .collect();
        let puts = join_all(pending.iter().map(|i| self.put_one(*i))).await;
        let mut last_error = None;
        for (i, result) in pending.into_iter().zip(puts) {
            match result {
                Ok(revision) => {
                    self.states[i].revision = Some(revision);
                    self.states[i].holds_target = true;
                }
                Err(PutFailure::Fenced(fence)) => {
                    let dest = self.dests[i].name().to_owned();
                    let by = match &fence {
                        Fence::Writer(other) => FencedBy::Writer {
                            other: other.as_deref(),
                            ours: &self.identity,
                        },
                        Fence::Table(found) => FencedBy::Table { other: found },
                    };
                    self.metrics.emit(Fenced { dest: &dest, by });
                    self.fenced = Some((dest, fence));
                    return Err(self.fenced_error().unwrap_or(ArchiveError::NoDestination));
                }
                Err(PutFailure::Failed(error)) => {
                    self.metrics.emit(ManifestWriteFailed {
                        dest: self.dests[i].name(),
                        error: &error,
                    });
                    last_error = Some(error);
                }
            }
        }
        if self.states.iter().any(|s| s.holds_target) {
            if self.committed != self.target {
                self.committed = self.target.clone();
            }
            self.run_deletions().await;
            if let Some(error) = last_error {
                // Committed (stored somewhere); the lagging destinations are
                // retried first thing next time.
                tracing::warn!(lagging = ?self.lagging(), error = %with_causes(&error), "manifest committed but not on every destination yet");
            }
            return Ok(());
        }
        Err(ArchiveError::NotCommitted(last_error.map(Box::new)))
    }

    async fn put_one(&self, index: usize) -> Result<Revision, PutFailure> {
        let dest = &self.dests[index];
        let mut expected = self.states[index].revision.clone();
        for _ in 0..=MAX_CAS_RETRIES {
            match dest
                .put_if(&self.key, self.target_body.clone(), expected.as_ref())
                .await
            {
                Ok(revision) => return Ok(revision),
                Err(DestError::Conflict { .. }) => {}
                Err(error) => return Err(PutFailure::Failed(error.into())),
            }
            let stored = dest
                .get(&self.key)
                .await
                .map_err(|error| PutFailure::Failed(error.into()))?;
            let Some(stored) = stored else {
                expected = None;
                self.metrics.emit(ManifestCasRetried { dest: dest.name() });
                continue;
            };
            if stored.body == self.target_body {
                // Our own earlier request landed.
                return Ok(stored.revision);
            }
            let parsed = Manifest::parse(&stored.body).ok();
            // Another table's manifest is never ours to replace, whoever
            // wrote it: the same process may run both tables.
            if let Some(found) = parsed
                .as_ref()
                .map(|m| &m.table)
                .filter(|t| !t.is_empty() && **t != self.target.table)
            {
                return Err(PutFailure::Fenced(Fence::Table(found.clone())));
            }
            let writer = parsed.and_then(|m| m.writer);
            if writer.as_deref() != Some(self.identity.as_str()) {
                return Err(PutFailure::Fenced(Fence::Writer(writer)));
            }
            // Written by this writer (a request that timed out but landed):
            // our target supersedes it.
            expected = Some(stored.revision);
            self.metrics.emit(ManifestCasRetried { dest: dest.name() });
        }
        Err(PutFailure::Failed(ArchiveError::CasExhausted {
            dest: dest.name().to_owned(),
        }))
    }

    async fn run_deletions(&mut self) {
        for (dest, state) in self.dests.iter().zip(&mut self.states) {
            if !state.holds_target || state.deletions.is_empty() {
                continue;
            }
            let mut left = Vec::new();
            for deletion in std::mem::take(&mut state.deletions) {
                let keys = match &deletion {
                    Deletion::Key(key) => Ok(vec![key.clone()]),
                    Deletion::EpochPrefix(prefix) => dest.list(prefix).await,
                };
                let result = match keys {
                    Ok(keys) => {
                        let mut outcome = Ok(());
                        for key in keys {
                            if let Err(error) = dest.delete(&key).await {
                                outcome = Err(error);
                            }
                        }
                        outcome
                    }
                    Err(error) => Err(error),
                };
                if let Err(error) = result {
                    self.metrics.emit(RetentionDeleteFailed {
                        dest: dest.name(),
                        deletion: &deletion,
                        error: &error,
                    });
                    left.push(deletion);
                }
            }
            state.deletions = left;
        }
    }
}
