//! A snapshot or diff object, in JSONL, protobuf or Parquet, through the reader's
//! real path: an archive whose manifest lists the fuzzed bytes as one
//! object (its size recorded, its CRC-32C recorded or not) on a destination
//! held in memory, rebuilt by `ArchiveReader::rebuild` (fetch, size, CRC,
//! decode, keys, row count, diffs applied), printed as `read` prints it
//! (`RebuiltTable::write_jsonl`), and checked by `verify`, which decodes
//! every row whole.
//!
//! The first input byte chooses the shape: bit 7 set makes the object
//! Parquet, else bit 0 chooses JSONL or protobuf; bit 1 whether the object
//! is the snapshot or a diff after an empty snapshot, bit 2 whether the
//! CRC-32C is recorded, bit 3 whether the rows are keyed by `id` or by
//! `(id, k)`; bits 4-6 are the snapshot's `row_count`.
#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use snapshot_writer::archive::retention::artifact_key;
use snapshot_writer::archive::verify::verify_keyed;
use snapshot_writer::archive::{ArchiveReader, Artifact, ArtifactKind, FormatRef, Manifest};
use snapshot_writer::config::Format;
use snapshot_writer::dest::{DestError, Destination, PutMode, Revision, Versioned};
use snapshot_writer::table::KeySpec;

/// Objects in memory: the reader only reads, so writes are refused.
#[derive(Debug, Default)]
struct Memory {
    objects: Mutex<HashMap<String, Bytes>>,
}

impl Memory {
    fn refused(&self, operation: &'static str, key: &str) -> DestError {
        DestError::Failed {
            dest: self.name().to_owned(),
            operation,
            key: key.to_owned(),
            source: "the fuzz destination is read-only".into(),
            transient: false,
        }
    }
}

#[async_trait]
impl Destination for Memory {
    fn name(&self) -> &str {
        "memory"
    }

    fn uri(&self, key: &str) -> String {
        format!("memory:///{key}")
    }

    async fn put_file(&self, key: &str, _: &Path, _: PutMode) -> Result<(), DestError> {
        Err(self.refused("put", key))
    }

    async fn get(&self, key: &str) -> Result<Option<Versioned>, DestError> {
        let objects = self.objects.lock().map_err(|_| self.refused("get", key))?;
        Ok(objects.get(key).map(|body| Versioned {
            body: body.clone(),
            revision: Revision("1".to_owned()),
        }))
    }

    async fn put_if(
        &self,
        key: &str,
        _: Bytes,
        _: Option<&Revision>,
    ) -> Result<Revision, DestError> {
        Err(self.refused("put", key))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, DestError> {
        Ok(self.get(key).await?.map(|o| o.body.len() as u64))
    }

    async fn delete(&self, key: &str) -> Result<(), DestError> {
        Err(self.refused("delete", key))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, DestError> {
        let objects = self
            .objects
            .lock()
            .map_err(|_| self.refused("list", prefix))?;
        Ok(objects
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

const PREFIX: &str = "t/";

fn artifact(kind: ArtifactKind, format: Format, body: &[u8], crc: bool, rows: u64) -> Artifact {
    let (from, to) = match kind {
        ArtifactKind::Snapshot => (None, "0/10"),
        ArtifactKind::Diff => (Some("0/10".to_owned()), "0/20"),
    };
    let format_ref = FormatRef {
        uri: String::new(),
        size_bytes: body.len() as u64,
        crc32c: crc.then(|| format!("{:08x}", crc32c_of(body))),
    };
    Artifact {
        kind,
        epoch: 1,
        from_position: from,
        to_position: to.to_owned(),
        created_at: "2026-01-01T00:00:00Z".to_owned(),
        row_count: rows,
        change_count: 0,
        formats: BTreeMap::from([(format.id().to_owned(), format_ref)]),
        id: None,
    }
}

/// CRC-32C (Castagnoli), bitwise: the fuzz crate records what a writer
/// would, without depending on the writer's checksum crate.
fn crc32c_of(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A Parquet snapshot of no rows with the columns `id` (bigint) and `k`
/// (text), as the writer writes one.
fn empty_parquet() -> &'static [u8] {
    use snapshot_writer::archive::format::parquet::{Naming, ParquetSchema, write_snapshot};
    use snapshot_writer::archive::manifest::ManifestColumn;
    static EMPTY: OnceLock<Vec<u8>> = OnceLock::new();
    EMPTY.get_or_init(|| {
        let columns: Vec<ManifestColumn> = [("id", "bigint"), ("k", "text")]
            .into_iter()
            .zip(1..)
            .map(|((name, data_type), ordinal)| ManifestColumn {
                name: name.to_owned(),
                data_type: data_type.to_owned(),
                ordinal_position: ordinal,
                ..ManifestColumn::default()
            })
            .collect();
        let key = ["id".to_owned(), "k".to_owned()];
        let schema = ParquetSchema::new(&columns, &key).expect("a schema of two columns");
        let key = KeySpec::new(key.to_vec());
        let naming = Naming {
            table: "public.t",
            key: &key,
        };
        let no_rows: &[&[u8]] = &[];
        write_snapshot(Vec::new(), no_rows, &schema, naming, 1).expect("an empty snapshot")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, object)) = data.split_first() else {
        return;
    };
    let format = match (shape & 0x80, shape & 1) {
        (0x80, _) => Format::Parquet,
        (_, 0) => Format::Jsonl,
        _ => Format::Protobuf,
    };
    let diff = shape & 2 != 0;
    let crc = shape & 4 != 0;
    let key_fields: Vec<String> = if shape & 8 == 0 {
        vec!["id".to_owned()]
    } else {
        vec!["id".to_owned(), "k".to_owned()]
    };
    let row_count = u64::from((shape >> 4) & 0x7);

    let mut manifest = Manifest::new("public.t");
    manifest.epoch = 1;
    manifest.key_fields = key_fields.clone();
    let memory = Memory::default();
    let put = |artifact: &Artifact, body: &[u8]| {
        let key = artifact_key(PREFIX, artifact, format);
        if let Ok(mut objects) = memory.objects.lock() {
            objects.insert(key, Bytes::copy_from_slice(body));
        }
    };
    if diff {
        // The empty snapshot before the diff: no bytes, or for Parquet an
        // empty file of the columns `id` and `k`.
        let empty: &[u8] = match format {
            Format::Parquet => empty_parquet(),
            _ => b"",
        };
        let snapshot = artifact(ArtifactKind::Snapshot, format, empty, crc, 0);
        let change = artifact(ArtifactKind::Diff, format, object, crc, 0);
        put(&snapshot, empty);
        put(&change, object);
        manifest.artifacts = vec![snapshot, change];
    } else {
        let snapshot = artifact(ArtifactKind::Snapshot, format, object, crc, row_count);
        put(&snapshot, object);
        manifest.artifacts = vec![snapshot];
    }
    manifest.head_position = manifest
        .artifacts
        .last()
        .map(|a| a.to_position.clone())
        .unwrap_or_default();

    // One runtime for every input: making one per input spawns threads.
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    });
    let reader = ArchiveReader::new(Arc::new(memory), PREFIX, manifest);
    let key = KeySpec::new(key_fields);
    runtime.block_on(async {
        match reader.rebuild(None, &key, &[format]).await {
            Ok(table) => {
                let mut out = Vec::new();
                let _ = table.write_jsonl(&mut out);
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
        if let Ok(report) = verify_keyed(&reader, &key).await {
            let _ = report.to_string();
        }
    });
});
