//! Start-up cleaning of what a killed writer left on its destinations.
//!
//! Retention deletes a dropped epoch's objects only after a manifest without
//! them is stored; a kill between that commit and the deletions leaves the
//! objects behind, and later commits never list them again. At start-up
//! every epoch retention has retired (older than the newest `keep_epochs`,
//! [`Manifest::oldest_kept_epoch`]) and the stored manifest does not list is
//! deleted from each destination that stores the newest manifest, by the
//! same rule a commit would have applied. Newer epochs are left alone even
//! when the manifest does not list them: a concurrent writer's in-flight
//! artifact looks exactly like an orphan (see [`retention`](super::retention)).
//! Each destination's own scratch space is cleaned too
//! ([`Destination::clean_up`]).

use std::collections::BTreeSet;

use super::ArchiveWriter;
use crate::archive::keys::epoch_of_key;
use crate::dest::Destination;
use crate::telemetry::internal_events::RetiredEpochsDeleteFailed;
use crate::telemetry::with_causes;

impl ArchiveWriter {
    /// Cleans up after a killed writer (module docs). Failures are logged,
    /// not returned: leftovers cost space, not correctness, and the next
    /// start-up tries again.
    pub(super) async fn clean_up_after_kill(&self) {
        for dest in self.store.destinations() {
            if let Err(error) = dest.clean_up().await {
                tracing::warn!(dest = %dest.name(), error = %with_causes(&error), "could not remove a killed writer's temp files");
            }
        }
        let manifest = self.store.committed();
        let Some(oldest_kept) = manifest.oldest_kept_epoch(self.settings.keep_epochs) else {
            return;
        };
        let listed: BTreeSet<u64> = manifest.artifacts.iter().map(|a| a.epoch).collect();
        let retired = |epoch: &u64| *epoch < oldest_kept && !listed.contains(epoch);
        for index in self.store.holders() {
            let dest = &self.store.destinations()[index];
            if let Err(error) = self.delete_retired(dest.as_ref(), &retired).await {
                self.metrics.emit(RetiredEpochsDeleteFailed {
                    dest: dest.name(),
                    error: &error,
                });
            }
        }
    }

    async fn delete_retired(
        &self,
        dest: &dyn Destination,
        retired: &impl Fn(&u64) -> bool,
    ) -> Result<(), crate::dest::DestError> {
        let prefix = &self.settings.key_prefix;
        let keys: Vec<String> = dest
            .list(prefix)
            .await?
            .into_iter()
            .filter(|key| epoch_of_key(prefix, key).is_some_and(|epoch| retired(&epoch)))
            .collect();
        for key in &keys {
            dest.delete(key).await?;
        }
        if !keys.is_empty() {
            tracing::info!(dest = %dest.name(), objects = keys.len(), "deleted objects of retired epochs a killed writer left");
        }
        Ok(())
    }
}
