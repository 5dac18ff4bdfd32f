//! Parquet objects into spool files: a snapshot of the whole table in key
//! order (row groups encoded on every core and written as they are ready),
//! a diff's net changes. Bytes stream to the spool file through the same
//! writer as the other formats (size and CRC-32C computed on the way).

use std::io;

use super::{Spool, SpoolFile, SpoolWriter};
use crate::archive::ArchiveError;
use crate::archive::format::DiffEntry;
use crate::archive::format::parquet::{Naming, ParquetSchema, write_diff, write_snapshot};
use crate::config::Format;
use crate::table::Table;

/// The spool writer as the `io::Write` the Parquet writer writes to.
struct Sink(SpoolWriter);

impl io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write(bytes).map_err(io::Error::other)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Spool {
    /// Encodes every row of `table` as a Parquet snapshot of `schema`, in
    /// key order.
    pub fn parquet_snapshot(
        &self,
        table: &Table,
        schema: &ParquetSchema,
        naming: Naming<'_>,
        id: &str,
    ) -> Result<SpoolFile, ArchiveError> {
        let workers = crate::blocking::worker_threads();
        let rows = table.keyed_rows();
        let writer = SpoolWriter::create(&self.dir()?, id, Format::Parquet, Some(self.snapshots))?;
        let Sink(writer) = write_snapshot(Sink(writer), &rows, schema, naming, workers)
            .map_err(ArchiveError::Parquet)?;
        writer.finish()
    }

    /// Encodes a diff's entries as a Parquet diff of `schema` at `position`.
    pub fn parquet_diff(
        &self,
        entries: &[DiffEntry<'_>],
        position: &str,
        schema: &ParquetSchema,
        naming: Naming<'_>,
        id: &str,
    ) -> Result<SpoolFile, ArchiveError> {
        let writer = SpoolWriter::create(&self.dir()?, id, Format::Parquet, None)?;
        let Sink(writer) = write_diff(Sink(writer), entries, position, schema, naming)
            .map_err(ArchiveError::Parquet)?;
        writer.finish()
    }
}
