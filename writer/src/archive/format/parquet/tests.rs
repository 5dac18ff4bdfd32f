#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use parquet::file::statistics::Statistics;

use super::*;
use crate::archive::format::{DiffEntry, StoredRow, jsonl, protobuf};
use crate::archive::manifest::ManifestColumn;
use crate::table::{Action, KeySpec};
use crate::telemetry::with_causes;
use laredo_wire::{ValueRef, encode_scalar, write_struct_entry};

fn column(name: &str, data_type: &str) -> ManifestColumn {
    ManifestColumn {
        name: name.into(),
        data_type: data_type.into(),
        ..ManifestColumn::default()
    }
}

fn row(values: &[(&str, ValueRef<'_>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in values {
        write_struct_entry(&mut out, name, &encode_scalar(value));
    }
    out
}

/// A row as the JSON `read` prints.
fn json(row: &[u8]) -> String {
    let mut out = Vec::new();
    jsonl::encode_snapshot_row(&mut jsonl::ColumnCache::default(), &mut out, row).unwrap();
    String::from_utf8(out).unwrap().trim_end().to_owned()
}

fn snapshot(rows: &[&[u8]], schema: &ParquetSchema) -> Result<Bytes, ParquetError> {
    let key = KeySpec::default();
    write_snapshot(Vec::new(), rows, schema, naming(&key), 2).map(Bytes::from)
}

/// Inserts of `rows` under `keys`, as a diff's net changes.
fn inserts<'r>(rows: &'r [Vec<u8>], keys: &'r [String]) -> Vec<DiffEntry<'r>> {
    rows.iter()
        .zip(keys)
        .map(|(row, key)| DiffEntry {
            action: Action::Insert,
            key,
            old: None,
            new: Some(row),
        })
        .collect()
}

/// What failing rows are named by in these tests.
fn naming(key: &KeySpec) -> Naming<'_> {
    Naming {
        table: "public.t",
        key,
    }
}

/// The rows of a snapshot object as `read` prints them.
fn read_back(object: &Bytes) -> Vec<String> {
    let rows = snapshot_rows(object, 2).unwrap();
    let mut out = Vec::new();
    protobuf::snapshot_rows(&rows, |_, row| {
        out.push(json(row));
        Ok(())
    })
    .unwrap();
    out
}

fn every_type() -> (Vec<ManifestColumn>, ParquetSchema) {
    let columns = vec![
        column("id", "bigint"),
        column("small", "smallint"),
        column("n", "integer"),
        column("score", "real"),
        column("ratio", "double precision"),
        column("balance", "numeric(12,2)"),
        column("amount", "numeric"),
        column("active", "boolean"),
        column("name", "character varying(40)"),
        column("at", "timestamp with time zone"),
        column("local", "timestamp"),
        column("day", "date"),
        column("uid", "uuid"),
        column("blob", "bytea"),
        column("doc", "jsonb"),
        column("tags", "text[]"),
        column("counts", "_int4"),
        column("span", "interval"),
    ];
    let columns: Vec<_> = columns
        .into_iter()
        .zip(1..)
        .map(|(c, ordinal)| ManifestColumn {
            ordinal_position: ordinal,
            ..c
        })
        .collect();
    let schema = ParquetSchema::new(&columns, &["id".into()]).unwrap();
    (columns, schema)
}

#[test]
fn every_type_round_trips_from_typed_and_from_text_values() {
    use ValueRef::{Bool, Null, Number as N, String as S};
    let (_, schema) = every_type();
    let typed = row(&[
        ("id", N(1.0)),
        ("small", N(-7.0)),
        ("n", N(42.0)),
        ("score", N(0.1)),
        ("ratio", N(2.5e-8)),
        ("balance", N(1234.5)),
        ("amount", N(1e21)),
        ("active", Bool(true)),
        ("name", S("caf\u{e9} <&>")),
        ("at", S("2026-12-07T10:00:00.25Z")),
        ("local", S("2026-12-07 10:00:00")),
        ("day", S("2026-12-07")),
        ("uid", S("0190c1e2-7b4a-7c3d-9e8f-0123456789ab")),
        ("blob", S("\\x00ff")),
        ("doc", S("{\"a\": [1, 2]}")),
        ("tags", S("{a,\"b c\",NULL}")),
        ("counts", S("{1,2,3}")),
        ("span", S("1 day 02:00:00")),
    ]);
    // What a PostgreSQL-backed server sends: every value as text.
    let text = row(&[
        ("id", S("2")),
        ("small", S("-7")),
        ("n", S("42")),
        ("score", S("NaN")),
        ("ratio", S("-Infinity")),
        ("balance", S("-0.05")),
        ("amount", S("NaN")),
        ("active", S("f")),
        ("name", Null),
        ("at", S("2026-12-07 12:00:00+02")),
        ("local", S("2026-12-07 10:00:00.123456")),
        ("day", S("infinity")),
        ("uid", S("{0190C1E27B4A7C3D9E8F0123456789AB}")),
        ("blob", S("\\x")),
        ("doc", S("null")),
        ("tags", S("{}")),
        ("counts", Null),
    ]);
    let object = snapshot(&[&typed, &text], &schema).unwrap();
    let rows = read_back(&object);
    assert_eq!(
        rows[0],
        r#"{"active":true,"amount":1e+21,"at":"2026-12-07T10:00:00.25Z","balance":1234.5,"blob":"\\x00ff","counts":"{1,2,3}","day":"2026-12-07","doc":"{\"a\": [1, 2]}","id":1,"local":"2026-12-07 10:00:00","n":42,"name":"café \u003c\u0026\u003e","ratio":2.5e-8,"score":0.1,"small":-7,"span":"1 day 02:00:00","tags":"{a,\"b c\",NULL}","uid":"0190c1e2-7b4a-7c3d-9e8f-0123456789ab"}"#
    );
    assert_eq!(
        rows[1],
        r#"{"active":false,"amount":"NaN","at":"2026-12-07T10:00:00Z","balance":-0.05,"blob":"\\x","counts":null,"day":"infinity","doc":"null","id":2,"local":"2026-12-07 10:00:00.123456","n":42,"name":null,"ratio":"-Infinity","score":"NaN","small":-7,"span":null,"tags":"{}","uid":"0190c1e2-7b4a-7c3d-9e8f-0123456789ab"}"#
    );
}

#[test]
fn the_arrow_types_are_the_documented_ones() {
    let (_, schema) = every_type();
    let object = snapshot(&[], &schema).unwrap();
    let batches = read::batches(&object);
    assert!(batches.is_empty());
    let metadata =
        parquet::arrow::arrow_reader::ArrowReaderMetadata::load(&object, Default::default())
            .unwrap();
    let types: Vec<String> = metadata
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{}:{}", f.name(), f.data_type()))
        .collect();
    assert_eq!(
        types,
        [
            "id:Int64",
            "small:Int16",
            "n:Int32",
            "score:Float32",
            "ratio:Float64",
            "balance:Decimal128(12, 2)",
            "amount:Utf8",
            "active:Boolean",
            "name:Utf8",
            "at:Timestamp(µs, \"UTC\")",
            "local:Timestamp(µs)",
            "day:Date32",
            "uid:FixedSizeBinary(16)",
            "blob:Binary",
            "doc:Utf8",
            "tags:List(Utf8, field: 'element')",
            "counts:List(Int32, field: 'element')",
            "span:Utf8",
        ]
    );
    let parquet_schema = metadata.metadata().file_metadata().schema_descr();
    let uid = parquet_schema.column(12);
    assert_eq!(
        uid.logical_type_ref(),
        Some(&parquet::basic::LogicalType::Uuid)
    );
    let kv = metadata
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap();
    assert!(
        kv.iter()
            .any(|kv| kv.key == TABLE_METADATA && kv.value.as_deref() == Some("public.t"))
    );
}

#[test]
fn a_value_that_does_not_convert_names_table_key_and_column() {
    let (_, schema) = every_type();
    for (column, value, says) in [
        (
            "n",
            ValueRef::String("4.5"),
            "\"4.5\" is not a valid integer",
        ),
        (
            "n",
            ValueRef::Number(3e9),
            "3000000000 is not a valid integer",
        ),
        (
            "balance",
            ValueRef::Number(0.125),
            "0.125 is not a valid numeric(12,2)",
        ),
        (
            "active",
            ValueRef::String("maybe"),
            "is not a valid boolean",
        ),
        (
            "at",
            ValueRef::String("tomorrow"),
            "is not a valid timestamptz",
        ),
        ("uid", ValueRef::String("not-a-uuid"), "is not a valid uuid"),
        (
            "counts",
            ValueRef::String("{1,x}"),
            "is not a valid integer[]",
        ),
    ] {
        let bad = row(&[("id", ValueRef::Number(1_234_567.0)), (column, value)]);
        let error = snapshot(&[&bad], &schema).unwrap_err();
        let message = with_causes(&error).to_string();
        assert!(error.is_data(), "{message}");
        assert!(
            message.starts_with("table public.t, key \"1.234567e+06\": column ")
                && message.contains(&format!("column {column:?}"))
                && message.contains(says),
            "{message}"
        );
    }
    let unknown = row(&[("id", ValueRef::Number(1.0)), ("surprise", ValueRef::Null)]);
    let error = snapshot(&[&unknown], &schema).unwrap_err();
    let message = with_causes(&error).to_string();
    assert!(
        message.contains("column \"surprise\" is not among the columns"),
        "{message}"
    );
}

#[test]
fn diffs_hold_op_position_and_the_new_row_or_the_key() {
    use ValueRef::{Number as N, String as S};
    let columns = [column("id", "bigint"), column("name", "text")];
    let schema = ParquetSchema::new(&columns, &["id".into()]).unwrap();
    let one = row(&[("id", N(1.0)), ("name", S("one"))]);
    let two_old = row(&[("id", N(2.0)), ("name", S("two"))]);
    let two = row(&[("id", N(2.0)), ("name", S("TWO"))]);
    let three = row(&[("id", N(3.0)), ("name", S("three"))]);
    let entries = [
        DiffEntry::TRUNCATE,
        DiffEntry {
            action: Action::Insert,
            key: "1",
            old: None,
            new: Some(&one),
        },
        DiffEntry {
            action: Action::Update,
            key: "2",
            old: Some(&two_old),
            new: Some(&two),
        },
        DiffEntry {
            action: Action::Delete,
            key: "3",
            old: Some(&three),
            new: None,
        },
    ];
    let key = KeySpec::default();
    let naming = naming(&key);
    let object =
        Bytes::from(write_diff(Vec::new(), &entries, "0/1A0002", &schema, naming).unwrap());
    let batches = read::batches(&object);
    let batch = &batches[0];
    assert_eq!(batch.num_columns(), 5);
    use arrow_array::cast::AsArray;
    let ops: Vec<_> = batch
        .column(0)
        .as_string::<i32>()
        .iter()
        .flatten()
        .collect();
    assert_eq!(ops, ["TRUNCATE", "INSERT", "UPDATE", "DELETE"]);
    assert_eq!(batch.column(1).as_string::<i32>().value(3), "0/1A0002");
    assert_eq!(
        batch
            .column(2)
            .as_primitive::<arrow_array::types::Int64Type>()
            .value(0),
        0x1A0002
    );
    // The delete keeps its key, not its other columns.
    assert!(batch.column(4).is_null(3) && batch.column(3).is_valid(3));

    let (rows, records) = diff_records(&object, &key).unwrap();
    let summary: Vec<(Action, String, Option<String>)> = records
        .iter()
        .map(|r| {
            let new = r.new.as_ref().map(|row| match row {
                StoredRow::Struct(bytes) => json(bytes),
                StoredRow::Json(_) => unreachable!(),
            });
            (r.action, r.key.clone(), new)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Action::Truncate, String::new(), None),
            (
                Action::Insert,
                "1".into(),
                Some(r#"{"id":1,"name":"one"}"#.into())
            ),
            (
                Action::Update,
                "2".into(),
                Some(r#"{"id":2,"name":"TWO"}"#.into())
            ),
            (Action::Delete, "3".into(), None),
        ]
    );
    assert!(!rows.is_empty());
}

/// A Parquet file of a type the writer never writes (an unsigned column, a
/// list of lists) is refused with the column named, not misread.
#[test]
fn columns_of_types_the_writer_never_writes_are_named_errors() {
    use arrow_array::builder::{Int32Builder, ListBuilder};
    use arrow_array::{ArrayRef, RecordBatch, UInt8Array};
    use parquet::arrow::ArrowWriter;
    use std::sync::Arc;

    let mut nested = ListBuilder::new(ListBuilder::new(Int32Builder::new()));
    nested.values().values().append_value(1);
    nested.values().append(true);
    nested.append(true);
    for (name, array) in [
        ("flags", Arc::new(UInt8Array::from(vec![1u8])) as ArrayRef),
        ("grid", Arc::new(nested.finish()) as ArrayRef),
    ] {
        let batch = RecordBatch::try_from_iter([(name, array)]).unwrap();
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let error = snapshot_rows(&Bytes::from(out), 2).unwrap_err().to_string();
        assert!(error.contains(&format!("column {name:?}")), "{error}");
    }
}

#[test]
fn hostile_bytes_are_errors() {
    let key = KeySpec::default();
    for bytes in [
        &b""[..],
        b"PAR1",
        b"PAR1\x00\x00\x00\x00PAR1",
        b"PAR1garbagegarbage\x08\x00\x00\x00PAR1",
    ] {
        let object = Bytes::copy_from_slice(bytes);
        assert!(snapshot_rows(&object, 2).is_err());
        assert!(diff_records(&object, &key).is_err());
    }
}

mod groups;
mod property;
mod rows;
