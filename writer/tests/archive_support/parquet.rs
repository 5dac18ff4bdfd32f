//! A table with a column of every type the `parquet` format maps, its
//! rows, and an archive of it written in two epochs with every kind of
//! change (update, delete, truncate, a key change), for the Parquet tests
//! and the DuckDB checks of the README's query.

use std::sync::Arc;

use laredo_wire::{encode_scalar, write_struct_entry};
use snapshot_writer::archive::manifest::ManifestColumn;
use snapshot_writer::archive::{ArchiveSettings, ChangeBuffer, SourceMark, Trigger};
use snapshot_writer::config::Format;
use snapshot_writer::dest::Destination;
use snapshot_writer::table::{KeySpec, Table, ValueRef};

use super::open_writer;

/// `(name, PostgreSQL type)` of every column, in order; `id` is the key.
pub const COLUMNS: [(&str, &str); 18] = [
    ("id", "bigint"),
    ("name", "text"),
    ("n", "integer"),
    ("small", "smallint"),
    ("score", "real"),
    ("ratio", "double precision"),
    ("balance", "numeric(12,2)"),
    ("amount", "numeric"),
    ("active", "boolean"),
    ("at", "timestamp with time zone"),
    ("local", "timestamp without time zone"),
    ("day", "date"),
    ("uid", "uuid"),
    ("blob", "bytea"),
    ("doc", "jsonb"),
    ("tags", "text[]"),
    ("counts", "integer[]"),
    ("span", "interval"),
];

/// The columns as the handshake announces them (and the manifest records).
pub fn columns() -> Vec<ManifestColumn> {
    COLUMNS
        .iter()
        .zip(1..)
        .map(|((name, data_type), ordinal)| ManifestColumn {
            name: (*name).to_owned(),
            data_type: (*data_type).to_owned(),
            nullable: *name != "id",
            primary_key: *name == "id",
            ordinal_position: ordinal,
            primary_key_ordinal: i64::from(*name == "id"),
            ..ManifestColumn::default()
        })
        .collect()
}

/// Settings of `public.items` under `items/` writing `formats` for both
/// kinds, with the columns announced.
pub fn settings(formats: &[Format]) -> ArchiveSettings {
    ArchiveSettings {
        snapshot_formats: formats.to_vec(),
        diff_formats: formats.to_vec(),
        columns: columns(),
        ..ArchiveSettings::new("public.items", "items/")
    }
}

/// Row `id` at `version`: every column set (every fifth value null), in
/// the forms a source sends and `read` prints.
pub fn row(id: u32, version: u32) -> Vec<u8> {
    let v = f64::from(version);
    let at = format!("2026-12-07T10:{:02}:{:02}.5Z", id % 60, version % 60);
    let local = format!("2026-12-07 10:00:{:02}", version % 60);
    let day = format!("2026-12-{:02}", id % 28 + 1);
    let uid = format!("0190c1e2-7b4a-7c3d-9e8f-{id:012x}");
    let blob = format!("\\x{id:04x}{:02x}", version % 256);
    let doc = format!("{{\"id\": {id}, \"tags\": [\"a\", \"b\"]}}");
    let name = format!("row {id} v{version} <&>");
    let tags = format!("{{alpha,\"b c\",v{version}}}");
    let counts = format!("{{{id},{version},NULL}}");
    let values: [ValueRef<'_>; 18] = [
        ValueRef::Number(f64::from(id)),
        ValueRef::String(&name),
        ValueRef::Number(f64::from(id) * 1000.0 + v),
        ValueRef::Number(f64::from(id % 100) - 50.0),
        ValueRef::Number(0.25 + v),
        ValueRef::Number(f64::from(id) / 3.0),
        // Cents over 100: the number whose shortest digits are the decimal.
        ValueRef::Number(f64::from(id * 1005) / 100.0),
        ValueRef::Number(1e21 + f64::from(id)),
        ValueRef::Bool(id.is_multiple_of(2)),
        ValueRef::String(&at),
        ValueRef::String(&local),
        ValueRef::String(&day),
        ValueRef::String(&uid),
        ValueRef::String(&blob),
        ValueRef::String(&doc),
        ValueRef::String(&tags),
        ValueRef::String(&counts),
        ValueRef::String("1 day 02:00:00"),
    ];
    let mut out = Vec::new();
    for (index, ((name, _), value)) in COLUMNS.iter().zip(values).enumerate() {
        let null = index > 0 && (id as usize + version as usize + index).is_multiple_of(5);
        let value = if null { ValueRef::Null } else { value };
        write_struct_entry(&mut out, name, &encode_scalar(&value));
    }
    out
}

fn apply(table: &mut Table, buffer: &mut ChangeBuffer, action: &str, id: u32, version: u32) {
    let old = table.get(&id.to_string()).map(|r| r.as_bytes().to_vec());
    let new = row(id, version);
    let new = matches!(action, "INSERT" | "UPDATE").then_some(new.as_slice());
    let old = old.filter(|_| action != "TRUNCATE");
    table
        .apply(action, old.as_deref(), new, &mut |change| {
            buffer.record(change)
        })
        .unwrap();
}

/// Writes the scenario to `dests` with `settings`; returns the table at
/// the head. Epoch 1: a snapshot and a diff; epoch 2: a snapshot, a diff
/// of updates and a delete, a diff holding a truncate then inserts, and a
/// diff with a key change (a delete plus an insert) and an update.
pub async fn write_scenario(dests: &[Arc<dyn Destination>], settings: &ArchiveSettings) -> Table {
    let mut writer = open_writer(dests, settings, "parquet-scenario").await;
    let mut table = Table::new(KeySpec::default());
    let mut buffer = ChangeBuffer::new();
    let mut mark = SourceMark::default();
    let step = |mark: &mut SourceMark| {
        mark.sequence += 1;
        mark.position = format!("0/{:X}", 0x1000 * mark.sequence);
    };
    for id in 1..=20 {
        apply(&mut table, &mut buffer, "INSERT", id, 0);
    }
    step(&mut mark);
    writer
        .write_snapshot(&table, &mut buffer, &mark, Trigger::Initial)
        .await
        .unwrap();
    apply(&mut table, &mut buffer, "UPDATE", 3, 1);
    apply(&mut table, &mut buffer, "INSERT", 21, 1);
    step(&mut mark);
    writer.write_diff(&mut buffer, &mark).await.unwrap();
    step(&mut mark);
    writer
        .write_snapshot(&table, &mut buffer, &mark, Trigger::Forced)
        .await
        .unwrap();
    apply(&mut table, &mut buffer, "UPDATE", 4, 2);
    apply(&mut table, &mut buffer, "DELETE", 5, 0);
    step(&mut mark);
    writer.write_diff(&mut buffer, &mark).await.unwrap();
    apply(&mut table, &mut buffer, "INSERT", 22, 3);
    apply(&mut table, &mut buffer, "TRUNCATE", 0, 0);
    for id in [6, 30, 31] {
        apply(&mut table, &mut buffer, "INSERT", id, 3);
    }
    step(&mut mark);
    writer.write_diff(&mut buffer, &mark).await.unwrap();
    // A key change: row 31 becomes row 40.
    let old = table.get("31").map(|r| r.as_bytes().to_vec()).unwrap();
    table
        .apply("UPDATE", Some(&old), Some(&row(40, 4)), &mut |c| {
            buffer.record(c)
        })
        .unwrap();
    apply(&mut table, &mut buffer, "UPDATE", 30, 4);
    step(&mut mark);
    writer.write_diff(&mut buffer, &mark).await.unwrap();
    table
}
