//! Restoring the table at the archive head, so a restarted writer continues
//! the chain where the manifest ends instead of opening a new epoch from a
//! full sync.

use std::sync::Arc;

use super::{ArchiveWriter, Restored};
use crate::archive::reader::ArchiveReader;
use crate::archive::{ArchiveError, SourceMark};
use crate::table::{KeySpec, Table};

impl ArchiveWriter {
    /// Rebuilds the table and the source mark at the manifest head, so a
    /// restart can continue the chain. `None` when there is no snapshot yet.
    pub async fn restore(&self) -> Result<Option<Restored>, ArchiveError> {
        let manifest = self.store.committed().clone();
        if manifest.last_snapshot().is_none() {
            return Ok(None);
        }
        let holder = self.store.holders().first().copied().unwrap_or(0);
        let dest = Arc::clone(&self.store.destinations()[holder]);
        let reader = ArchiveReader::new(dest, &self.settings.key_prefix, manifest.clone());
        let key = KeySpec::new(self.settings.key_fields.clone());
        let rebuilt = reader
            .rebuild(None, &key, &crate::archive::READ_PREFERENCE)
            .await?;
        let mut table = Table::new(key);
        table.reserve(rebuilt.rows.len());
        for (key, row) in rebuilt.rows.iter() {
            let unreadable = |source| ArchiveError::RowUnreadable {
                key: key.to_owned(),
                source,
            };
            let encoded = row
                .to_struct_bytes()
                .map_err(|message| unreadable(message.into()))?;
            table
                .upsert_encoded(&encoded)
                .map_err(|error| unreadable(error.into()))?;
        }
        let mark = manifest.source.clone().unwrap_or_else(|| SourceMark {
            position: manifest.head_position.clone(),
            ..SourceMark::default()
        });
        Ok(Some(Restored {
            table,
            mark,
            epoch: manifest.epoch,
            position: manifest.head_position,
        }))
    }
}
