//! The writer's Parquet objects: which schema a snapshot and a diff are
//! written with, and when the schema calls for a new epoch.
//!
//! The Parquet files of one epoch share one schema, the manifest's
//! `columns` of the epoch: the columns the source announced, else those of
//! the epoch before plus any new column the table's rows hold (untyped, so
//! text). A diff is written with the epoch's schema; a new snapshot (a new
//! epoch, [`Trigger::SchemaChange`](crate::archive::Trigger::SchemaChange))
//! comes first when the source announces
//! other columns, when a change holds a column the epoch's schema lacks
//! (only where no columns were announced: an announced schema that a row
//! does not fit is an error), or when the epoch has no Parquet snapshot yet
//! (Parquet was added to the config).

use super::ArchiveWriter;
use super::artifact::Draft;
use crate::archive::ArchiveError;
use crate::archive::changes::ChangeBuffer;
use crate::archive::format::DiffEntry;
use crate::archive::format::parquet::{Naming, ParquetSchema};
use crate::archive::manifest::ManifestColumn;
use crate::archive::spool::SpoolFile;
use crate::config::Format;
use crate::table::{KeySpec, Table};
use laredo_wire::RawStructEntries;

impl ArchiveWriter {
    fn writes_parquet(&self) -> bool {
        self.settings.snapshot_formats.contains(&Format::Parquet)
            || self.settings.diff_formats.contains(&Format::Parquet)
    }

    fn schema(&self, columns: &[ManifestColumn]) -> Result<ParquetSchema, ArchiveError> {
        ParquetSchema::new(columns, &self.settings.key_fields)
            .map_err(|error| ArchiveError::Parquet(error.into()))
    }

    /// The columns a snapshot of `table` is written with (module docs).
    fn snapshot_columns(&self, table: &Table) -> Vec<ManifestColumn> {
        if !self.settings.columns.is_empty() {
            return self.settings.columns.clone();
        }
        let mut columns = self.store.target().columns.clone();
        let mut known: hashbrown::HashSet<Vec<u8>> =
            columns.iter().map(|c| c.name.as_bytes().to_vec()).collect();
        for (_, row) in table.iter() {
            for entry in RawStructEntries::new(row.as_bytes()) {
                let Ok((name, _)) = entry else { break };
                if !known.contains(name)
                    && let Ok(text) = std::str::from_utf8(name)
                {
                    known.insert(name.to_vec());
                    columns.push(ManifestColumn {
                        name: text.to_owned(),
                        nullable: true,
                        primary_key: self.settings.key_fields.iter().any(|k| k == text),
                        ordinal_position: columns.len() as i64 + 1,
                        ..ManifestColumn::default()
                    });
                }
            }
        }
        columns
    }

    /// Why the next artifact must be a snapshot before any diff (module
    /// docs), if it must.
    pub(super) fn parquet_needs_new_epoch(&self, buffer: &ChangeBuffer) -> Option<&'static str> {
        if !self.writes_parquet() {
            return None;
        }
        let target = self.store.target();
        let epoch_snapshot = target.last_snapshot()?;
        if self.settings.snapshot_formats.contains(&Format::Parquet)
            && !epoch_snapshot.formats.contains_key(Format::Parquet.id())
        {
            return Some("the epoch has no Parquet snapshot");
        }
        if !self.settings.columns.is_empty() {
            return (self.settings.columns != target.columns)
                .then_some("the source announced other columns");
        }
        let schema = self.schema(&target.columns).ok()?;
        let unknown = buffer.net_changes().iter().any(|entry| {
            [entry.new, entry.old].into_iter().flatten().any(|row| {
                RawStructEntries::new(row)
                    .any(|e| e.is_ok_and(|(name, _)| schema.index_of(name).is_none()))
            })
        });
        unknown.then_some("a change holds a column the epoch's schema lacks")
    }

    /// The Parquet object of a snapshot of `table`, when Parquet is a
    /// snapshot format; the columns it was written with go to the draft.
    pub(super) fn parquet_snapshot(
        &self,
        table: &Table,
        draft: &mut Draft,
    ) -> Result<Option<SpoolFile>, ArchiveError> {
        if !self.settings.snapshot_formats.contains(&Format::Parquet) {
            return Ok(None);
        }
        let key = KeySpec::new(self.settings.key_fields.clone());
        let naming = Naming {
            table: &self.settings.table,
            key: &key,
        };
        // The columns too are found on the blocking side: without announced
        // ones, every row is read for its column names.
        let (file, columns) = crate::blocking::run(|| {
            let columns = self.snapshot_columns(table);
            let schema = self.schema(&columns)?;
            let file = self
                .spool
                .parquet_snapshot(table, &schema, naming, &draft.id)?;
            Ok::<_, ArchiveError>((file, columns))
        })
        .map_err(|message| ArchiveError::Panicked {
            what: format!("encoding the Parquet snapshot {}", draft.id),
            message,
        })??;
        draft.columns = Some(columns);
        Ok(Some(file))
    }

    /// The Parquet object of a diff of `entries` at `position`, written
    /// with the epoch's schema, when Parquet is a diff format.
    pub(super) fn parquet_diff(
        &self,
        entries: &[DiffEntry<'_>],
        position: &str,
        id: &str,
    ) -> Result<Option<SpoolFile>, ArchiveError> {
        if !self.settings.diff_formats.contains(&Format::Parquet) {
            return Ok(None);
        }
        let target = self.store.target();
        let columns = match target.columns.is_empty() {
            true => &self.settings.columns,
            false => &target.columns,
        };
        let schema = self.schema(columns)?;
        let key = KeySpec::new(self.settings.key_fields.clone());
        let naming = Naming {
            table: &self.settings.table,
            key: &key,
        };
        self.spool
            .parquet_diff(entries, position, &schema, naming, id)
            .map(Some)
    }

    /// Encodes the Parquet object of a diff again for the position its
    /// draft moved to (the object holds its position), in place of the one
    /// in `files`.
    pub(super) fn reencode_parquet_diff(
        &self,
        draft: &Draft,
        files: &mut [SpoolFile],
        buffer: &ChangeBuffer,
    ) -> Result<(), ArchiveError> {
        let Some(slot) = files.iter().position(|f| f.format == Format::Parquet) else {
            return Ok(());
        };
        if draft.kind != crate::archive::ArtifactKind::Diff {
            return Ok(());
        }
        let entries = buffer.net_changes();
        // A spool file of its own: the one it replaces removes its path
        // when it is dropped.
        let id = format!("{}-{}", draft.id, super::new_id());
        if let Some(file) = self.parquet_diff(&entries, &draft.position, &id)? {
            files[slot] = file;
        }
        Ok(())
    }
}
