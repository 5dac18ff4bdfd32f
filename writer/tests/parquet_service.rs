//! The `parquet` format in the writer service, fed by the fan-out simulator
//! over a real socket: a schema change the source announces starts a new
//! epoch whose Parquet files share the new schema (the manifest's `columns`
//! name it), and DuckDB reads every object of both epochs; a source that
//! sends PostgreSQL text (`fanout-sim --postgres-like`) gives typed
//! columns, and a value that does not convert holds the artifact back with
//! an error naming table, key and column, losing nothing.

#![allow(clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fanout_sim::{Row, ScriptChange, Sim, SimConfig, SimServer, rows};
use laredo_wire::{ValueRef, encode_struct};
use snapshot_writer::dest::LocalDestination;
use support::duckdb;
use support::service::{
    KEY_PREFIX, Writer, announce_tier_column, assert_same_rows, config_with_formats,
    local_destination, recorded, sim, sim_rows, sim_with, stored_manifest, verified_head,
};

/// The PostgreSQL-typed columns of the postgres-like source as DuckDB
/// reports them from a Parquet object (text values converted, not text).
const TYPED_COLUMNS: [(&str, &str); 5] = [
    ("id", "BIGINT"),
    ("balance", "DECIMAL(12,2)"),
    ("visits", "INTEGER"),
    ("active", "BOOLEAN"),
    ("updated_at", "TIMESTAMP WITH TIME ZONE"),
];

/// How long any one step may take.
const LIMIT: Duration = Duration::from_secs(60);

/// The column types DuckDB reads each Parquet file of `archive` with,
/// grouped by epoch: `{epoch: {file: {column: type}}}`, without the diff
/// columns (`_op`, `_position`, `_lsn`).
type EpochTypes = BTreeMap<u64, BTreeMap<String, BTreeMap<String, String>>>;

fn types_by_epoch(archive: &Path) -> EpochTypes {
    let mut epochs = EpochTypes::new();
    for (file, mut columns) in duckdb::file_types(archive) {
        let epoch = file
            .strip_prefix("epoch=")
            .and_then(|rest| rest.split('/').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{file} is under no epoch"));
        columns.retain(|name, _| !name.starts_with('_'));
        epochs.entry(epoch).or_default().insert(file, columns);
    }
    epochs
}

/// A writer of Parquet snapshots and diffs into a new directory, fed by
/// `sim`, ready and past its first diff of `changes` generated changes.
async fn parquet_writer(
    sim: &Sim,
    server: &SimServer,
    identity: &str,
    changes: usize,
) -> (tempfile::TempDir, Writer) {
    let archive = tempfile::tempdir().unwrap();
    let config = config_with_formats(
        server.local_addr(),
        &local_destination(archive.path()),
        "{snapshot: [parquet], diff: [parquet]}",
    );
    let writer = Writer::start_local(&config, identity);
    writer.wait_for(LIMIT, "ready", |s| s.ready).await;
    sim.generate(changes);
    writer
        .wait_for(LIMIT, "a diff", |s| s.last_diff.is_some())
        .await;
    (archive, writer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_the_source_announces_starts_an_epoch_whose_parquet_files_share_it() {
    let (sim, server) = sim(300).await;
    let (archive, writer) = parquet_writer(&sim, &server, "parquet-schema-test", 30).await;
    let epoch = stored_manifest(archive.path()).epoch;

    // The server announces one more column; the client reconnects and sees
    // it in its handshake: the next artifact is a snapshot in a new epoch.
    let changed = announce_tier_column(&sim, archive.path(), LIMIT).await;
    let manifest = stored_manifest(archive.path());
    assert_eq!(manifest.epoch, epoch + 1, "a new epoch, not a diff");
    let snapshot = manifest.last_snapshot().unwrap();
    assert_eq!(snapshot.epoch, epoch + 1);
    assert!(snapshot.formats.contains_key("parquet"));

    // Diffs of the new epoch are written with its schema.
    sim.generate(30);
    writer
        .wait_for(LIMIT, "a diff in the new epoch", |s| {
            s.last_diff.as_ref().is_some_and(|d| d.epoch == epoch + 1)
        })
        .await;
    writer.drain_and_stop(&sim).await;

    let (manifest, rebuilt) = verified_head(Arc::new(LocalDestination::new(archive.path()))).await;
    assert_eq!(manifest.columns, recorded(&changed));
    // A row Parquet stores has every column of its epoch's schema: the
    // source's rows, which lack the new column, read back with it null.
    let mut source = sim_rows(&sim);
    for row in source.values_mut() {
        row.fields
            .entry("tier".to_owned())
            .or_insert(prost_types::Value {
                kind: Some(prost_types::value::Kind::NullValue(0)),
            });
    }
    assert_same_rows(&rebuilt, &source);

    // DuckDB reads every object; the files of one epoch share one schema,
    // the first epoch's without `tier`, the second's with it.
    let epochs = types_by_epoch(&archive.path().join(KEY_PREFIX.trim_end_matches('/')));
    let schemas: BTreeMap<u64, BTreeMap<String, String>> = epochs
        .iter()
        .map(|(epoch, files)| {
            let mut schemas = files.values();
            let first = schemas.next().unwrap().clone();
            for (file, columns) in files {
                assert_eq!(columns, &first, "{file} differs from its epoch's schema");
            }
            (*epoch, first)
        })
        .collect();
    assert!(
        epochs[&epoch].len() >= 2 && epochs[&(epoch + 1)].len() >= 2,
        "{epochs:#?}"
    );
    assert_eq!(schemas[&epoch].get("tier"), None);
    assert_eq!(schemas[&(epoch + 1)]["tier"], "VARCHAR");
    for (column, kind) in TYPED_COLUMNS {
        assert_eq!(schemas[&(epoch + 1)][column], kind, "{column}");
    }
    server.stop().await;
}

/// A row of the simulator's table (`fanout_sim::rows::COLUMNS`) with `visits`
/// set to `visits`.
fn sim_row(id: i64, visits: ValueRef<'_>) -> Row {
    let name = format!("customer {id}");
    let email = format!("customer.{id}@example.com");
    Row::from_encoded(
        encode_struct(&[
            ("id", ValueRef::Number(id as f64)),
            ("name", ValueRef::String(&name)),
            ("email", ValueRef::String(&email)),
            ("region", ValueRef::String(rows::region_of(id))),
            ("balance", ValueRef::Number(12.5)),
            ("visits", visits),
            ("active", ValueRef::Bool(true)),
            ("updated_at", ValueRef::String("2026-12-07T10:00:00Z")),
        ])
        .into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_text_becomes_typed_columns_and_a_value_that_does_not_convert_is_held_with_its_reason()
 {
    let (sim, server) = sim_with(
        SimConfig {
            rows: 300,
            ..SimConfig::default()
        }
        .postgres_like(),
    )
    .await;
    // Live changes arrive as text ("42", "t", "70339.54").
    let (archive, writer) = parquet_writer(&sim, &server, "parquet-text-test", 50).await;

    // A value that is no integer, in the integer column `visits`: the diff
    // is not written, the error names the table, the key and the column,
    // and the change stays buffered.
    sim.apply([ScriptChange::insert(sim_row(
        10_001,
        ValueRef::String("lots"),
    ))])
    .unwrap();
    let held = writer
        .wait_for(LIMIT, "the conversion error", |s| s.last_error.is_some())
        .await;
    let error = held.last_error.as_ref().unwrap();
    for part in ["public.items", "\"10001\"", "\"visits\"", "\"lots\""] {
        assert!(
            error.message.contains(part),
            "{part} in {:?}",
            error.message
        );
    }
    assert!(held.buffer_depth >= 1, "{held:#?}");
    let head = held.head_position.clone();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = writer.status();
    assert_eq!(still.head_position, head, "nothing committed past the row");
    assert!(
        still.last_error.is_some() && still.buffer_depth >= 1,
        "{still:#?}"
    );

    // The source fixes the row: the held changes are written, none lost.
    sim.apply([ScriptChange::update(sim_row(10_001, ValueRef::Number(7.0)))])
        .unwrap();
    sim.generate(20);
    writer
        .wait_for(LIMIT, "the diff after the fix", |s| {
            s.last_error.is_none() && s.head_position != head
        })
        .await;
    writer.drain_and_stop(&sim).await;
    let (_, rebuilt) = verified_head(Arc::new(LocalDestination::new(archive.path()))).await;
    assert_same_rows(&rebuilt, &sim_rows(&sim));

    // DuckDB reads typed columns in every object, not text.
    for (file, columns) in
        duckdb::file_types(&archive.path().join(KEY_PREFIX.trim_end_matches('/')))
    {
        for (column, kind) in TYPED_COLUMNS {
            assert_eq!(columns[column], kind, "{column} in {file}");
        }
    }
    server.stop().await;
}
