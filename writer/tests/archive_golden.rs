//! Golden archives (`tests/golden/`): one shaped exactly as laredo's Go writer
//! writes it, which our reader must read correctly; one written by our writer,
//! which must satisfy every rule a Go reader applies (reference/laredo.md §2,
//! §4), checked against a small model of the Go reader
//! (`archive_support::go_reader`).
//!
//! Regenerate ours with `REGENERATE_GOLDEN=1 cargo test -p snapshot-writer
//! --test archive_golden`.
#![allow(clippy::unwrap_used)]

mod archive_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use archive_support::go_reader::{go_plan_as_of, go_plan_head, go_reconstruct};
use archive_support::{Source, local, open_writer, rebuilt_rows, row};
use laredo_proto::replication::v1::ColumnDefinition;
use prost::Message;
use snapshot_writer::archive::position::compare;
use snapshot_writer::archive::retention::artifact_key;
use snapshot_writer::archive::verify::verify;
use snapshot_writer::archive::{
    ArchiveReader, ArchiveSettings, ArtifactKind, Manifest, ManifestColumn, SourceMark, Trigger,
};
use snapshot_writer::config::Format;
use snapshot_writer::table::KeySpec;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/golden")
        .join(name)
}

fn lines(rows: &BTreeMap<String, String>) -> Vec<&str> {
    rows.values().map(|l| l.trim_end()).collect()
}

#[tokio::test]
async fn reads_a_go_written_archive() {
    let reader = ArchiveReader::open(local(&golden("go-writer")), "")
        .await
        .unwrap();
    let key = KeySpec::default();
    // Head: the last snapshot in manifest order (epoch 3, position "" although
    // epoch 2 sits at 0/0019F000), then its epoch's diffs: TRUNCATE + INSERT.
    let head = reader.rebuild(None, &key, &[Format::Jsonl]).await.unwrap();
    assert_eq!(head.epoch, 3);
    assert_eq!(
        lines(&rebuilt_rows(&head)),
        [r#"{"active":true,"id":8,"name":"heidi","score":8}"#]
    );

    // As of 0/001A0000: epoch 2's snapshot and both diffs, including the
    // `from == to` one, each read once.
    let at = reader
        .rebuild(Some("0/001A0000"), &key, &[Format::Jsonl])
        .await
        .unwrap();
    assert_eq!(
        (at.epoch, at.artifacts_read, at.position.as_str()),
        (2, 3, "0/001A0000")
    );
    assert_eq!(
        lines(&rebuilt_rows(&at)),
        [
            r#"{"active":false,"id":1234567,"name":"carol","score":3.25}"#,
            r#"{"active":true,"id":2,"name":"bob \u003cadmin\u003e","score":1e-7}"#,
            r#"{"active":true,"id":5,"name":"eve","score":0.000001}"#,
            r#"{"active":true,"id":6,"name":"frank \u0026 co","score":-4}"#,
        ]
    );
    let at = reader
        .rebuild(Some("0/0019F000"), &key, &[Format::Jsonl])
        .await
        .unwrap();
    assert_eq!(rebuilt_rows(&at).len(), 4);
    assert!(rebuilt_rows(&at).contains_key("4"));

    // `verify` terminates and names the Go writer's defects, nothing missing.
    let report = verify(&reader).await.unwrap();
    assert!(!report.ok());
    let text = report.to_string();
    assert!(text.contains("from_position equals to_position"), "{text}");
    assert!(text.contains("position goes backwards"), "{text}");
    assert!(
        !text.contains("missing") && !text.contains("bytes, the manifest records"),
        "{text}"
    );
}

#[tokio::test]
async fn continues_a_go_written_archive_with_advancing_positions() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&golden("go-writer"), dir.path());
    let dests = vec![local(dir.path())];
    let settings = ArchiveSettings::new("public.users", "");
    let mut writer = open_writer(&dests, &settings, "rust").await;
    let restored = writer.restore().await.unwrap().unwrap();
    assert_eq!(restored.table.len(), 1);
    let mut source = Source::restored(restored.table);
    source.apply("INSERT", None, Some(&row(9, "ivan", 9.0)));
    let diff = source.diff(&mut writer).await.unwrap().unwrap();
    assert_eq!(
        (diff.from_position.as_deref(), diff.position.as_str()),
        (Some(""), "0/00000001")
    );
    let snapshot = source.snapshot(&mut writer, Trigger::Forced).await.unwrap();
    assert_eq!(
        (snapshot.epoch, snapshot.position.as_str()),
        (4, "0/00000002")
    );
    // A Go reader now picks our snapshot as head (greatest position).
    let manifest = ArchiveReader::open(dests[0].clone(), "")
        .await
        .unwrap()
        .manifest()
        .clone();
    let (base, diffs) = go_plan_head(&manifest).unwrap();
    assert_eq!((manifest.artifacts[base].epoch, diffs.len()), (4, 0));
    assert_eq!(
        manifest.columns.len(),
        4,
        "the Go writer's columns are kept"
    );
}

/// The columns a handshake announces, as `ColumnDefinition`s: those of the
/// Go golden's table.
fn handshake_columns() -> Vec<ColumnDefinition> {
    let column = |ordinal, name: &str, data_type: &str, not_null, key| ColumnDefinition {
        ordinal_position: ordinal,
        column_name: name.to_owned(),
        data_type: data_type.to_owned(),
        not_null,
        is_primary_key: key,
        primary_key_ordinal: i32::from(key),
    };
    vec![
        column(1, "id", "bigint", true, true),
        column(2, "name", "text", false, false),
        column(3, "score", "double precision", false, false),
        column(4, "active", "boolean", true, false),
    ]
}

/// The `"columns": [ … ]` member of a stored manifest, as text.
fn columns_member(manifest: &str) -> &str {
    let start = manifest.find("\n  \"columns\": [").unwrap();
    let len = manifest[start..].find("\n  ]").unwrap() + "\n  ]".len();
    &manifest[start..start + len]
}

#[tokio::test]
async fn records_the_handshake_columns_as_the_go_writer_does() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    let settings = ArchiveSettings::new("public.users", "");
    let mut writer = open_writer(&dests, &settings, "rust").await;
    let announced = handshake_columns();
    writer.set_columns(
        announced
            .iter()
            .map(ManifestColumn::from_definition)
            .collect(),
    );
    let mut source = Source::new();
    source.insert(1, "alice");
    source
        .snapshot(&mut writer, Trigger::Initial)
        .await
        .unwrap();

    let ours = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    let go = std::fs::read_to_string(golden("go-writer").join("manifest.json")).unwrap();
    // Byte for byte: Go's field names and order, at Go's place (after
    // `artifacts`) and indentation.
    assert_eq!(columns_member(&ours), columns_member(&go));
    let json =
        |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap()["columns"].clone();
    assert_eq!(json(&ours), json(&go));
    let after_artifacts = ours.find("\"artifacts\"").unwrap() < ours.find("\"columns\"").unwrap();
    assert!(after_artifacts, "{ours}");
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Writes our golden archive into `dir`: both formats, several epochs with
/// a TRUNCATE mid-window, key changes, empty and non-advancing
/// source positions, and a writer restart.
async fn write_our_archive(dir: &Path) {
    let dests = vec![local(dir)];
    let settings = ArchiveSettings {
        snapshot_formats: vec![Format::Jsonl, Format::Protobuf],
        diff_formats: vec![Format::Jsonl, Format::Protobuf],
        ..ArchiveSettings::new("public.users", "")
    };
    let mut writer = open_writer(&dests, &settings, "golden-1").await;
    let mut source = Source::new();
    let mut mark = SourceMark {
        position: String::new(),
        sequence: 1,
        snapshot_id: "fanout-1-1700000000000".into(),
    };
    macro_rules! apply {
        ($action:expr, $old:expr, $new:expr) => {
            source.apply($action, $old.as_deref(), $new.as_deref())
        };
    }
    let none: Option<Vec<u8>> = None;
    for id in 1..=3 {
        apply!(
            "INSERT",
            none,
            Some(row(id, &format!("user {id} <x>"), f64::from(id) * 1.5))
        );
    }
    source.buffer.clear_all(); // the source's initial snapshot
    writer
        .write_snapshot(&source.table, &mut source.buffer, &mark, Trigger::Initial)
        .await
        .unwrap();
    apply!("INSERT", none, Some(row(4, "dave", 1e21)));
    apply!(
        "UPDATE",
        Some(row(2, "user 2 <x>", 3.0)),
        Some(row(2, "bob", 1e-7))
    );
    mark.sequence = 5;
    writer.write_diff(&mut source.buffer, &mark).await.unwrap();
    apply!(
        "UPDATE",
        Some(row(3, "user 3 <x>", 4.5)),
        Some(row(30, "moved", 4.5))
    );
    apply!("INSERT", none, Some(row(5, "eve", 0.5)));
    apply!("TRUNCATE", none, none);
    apply!("INSERT", none, Some(row(6, "frank & co", -4.0)));
    apply!("INSERT", none, Some(row(1, "alice again", 1234567.0)));
    mark = SourceMark {
        position: "0/0019F000".into(),
        sequence: 10,
        ..mark
    };
    writer.write_diff(&mut source.buffer, &mark).await.unwrap();
    apply!(
        "UPDATE",
        Some(row(6, "frank & co", -4.0)),
        Some(row(6, "frank", 6.0))
    );
    mark.sequence = 11; // the source position does not advance
    writer.write_diff(&mut source.buffer, &mark).await.unwrap();
    writer
        .write_snapshot(&source.table, &mut source.buffer, &mark, Trigger::Forced)
        .await
        .unwrap();
    apply!("DELETE", Some(row(1, "", 0.0)), none);
    apply!(
        "UPDATE",
        Some(row(6, "frank", 6.0)),
        Some(row(60, "frank", 6.0))
    );
    mark = SourceMark {
        position: "0/001A0000".into(),
        sequence: 14,
        ..mark
    };
    writer.write_diff(&mut source.buffer, &mark).await.unwrap();
    drop(writer);

    let mut writer = open_writer(&dests, &settings, "golden-2").await;
    let restored = writer.restore().await.unwrap().unwrap();
    assert_eq!(restored.mark, mark);
    let mut source = Source::restored(restored.table);
    source.apply("INSERT", None, Some(&row(9, "ivan", 9.0)));
    mark = SourceMark {
        position: String::new(),
        sequence: 1,
        snapshot_id: "fanout-2-1700000100000".into(),
    };
    writer.write_diff(&mut source.buffer, &mark).await.unwrap();
    writer
        .write_snapshot(
            &source.table,
            &mut source.buffer,
            &mark,
            Trigger::MaxChurnRecords,
        )
        .await
        .unwrap();
    source.apply("DELETE", Some(&row(9, "", 0.0)), None);
    mark.sequence = 2;
    writer.write_diff(&mut source.buffer, &mark).await.unwrap();
    for scratch in [".tmp", ".locks"] {
        let _ = std::fs::remove_dir_all(dir.join(scratch));
    }
}

#[tokio::test]
async fn our_golden_archive_satisfies_the_go_reader_rules() {
    let path = golden("rust-writer");
    if std::env::var_os("REGENERATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        write_our_archive(&path).await;
    }
    check_go_reader_rules(&path).await;
}

#[tokio::test]
async fn a_fresh_archive_satisfies_the_go_reader_rules() {
    let dir = tempfile::tempdir().unwrap();
    write_our_archive(dir.path()).await;
    check_go_reader_rules(dir.path()).await;
}

async fn check_go_reader_rules(dir: &Path) {
    let raw = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    // Go's field order, 2-space indentation.
    let order = [
        "\"manifest_version\"",
        "\"table\"",
        "\"epoch\"",
        "\"updated_at\"",
        "\"head_position\"",
        "\"artifacts\"",
    ];
    let offsets: Vec<usize> = order.iter().map(|f| raw.find(f).unwrap()).collect();
    assert!(offsets.is_sorted(), "top-level field order {offsets:?}");
    assert!(raw.starts_with("{\n  \"manifest_version\": 1,"));
    let artifact_order = [
        "\"kind\"",
        "\"epoch\"",
        "\"from_position\"",
        "\"to_position\"",
        "\"created_at\"",
        "\"formats\"",
    ];
    let first = &raw[raw.find("\"kind\"").unwrap()..];
    let offsets: Vec<usize> = artifact_order
        .iter()
        .map(|f| first.find(f).unwrap())
        .collect();
    assert!(offsets.is_sorted(), "artifact field order {offsets:?}");

    let manifest = Manifest::parse(raw.as_bytes()).unwrap();
    assert_eq!(manifest.manifest_version, 1);
    assert!(manifest.artifacts.len() >= 5, "a meaningful golden");
    for artifact in &manifest.artifacts {
        assert_eq!(
            artifact.from_position.is_none(),
            artifact.kind == ArtifactKind::Snapshot
        );
        for (id, reference) in &artifact.formats {
            let format = Format::from_id(id).unwrap();
            let key = artifact_key("", artifact, format);
            assert!(reference.uri.ends_with(&key), "{} vs {key}", reference.uri);
            let body = std::fs::read(dir.join(&key)).unwrap();
            assert_eq!(body.len() as u64, reference.size_bytes);
            check_records(format, artifact.kind, &body);
        }
    }
    // Positions strictly increase, so Go's greatest-position head is the
    // newest snapshot and no from → to chain can repeat.
    for pair in manifest.artifacts.windows(2) {
        assert!(compare(&pair[1].to_position, &pair[0].to_position).is_gt());
    }

    let reader = ArchiveReader::open(local(dir), "").await.unwrap();
    let report = verify(&reader).await.unwrap();
    assert!(report.ok(), "{report}");
    let key = KeySpec::default();

    let (base, diffs) = go_plan_head(&manifest).unwrap();
    let ours = reader.rebuild(None, &key, &[Format::Jsonl]).await.unwrap();
    assert_eq!(
        go_reconstruct(dir, &manifest, base, &diffs),
        rebuilt_rows(&ours),
        "head"
    );
    for artifact in &manifest.artifacts {
        let at = &artifact.to_position;
        let (base, diffs) = go_plan_as_of(&manifest, at).unwrap();
        for format in [Format::Jsonl, Format::Protobuf] {
            let ours = reader.rebuild(Some(at), &key, &[format]).await.unwrap();
            assert_eq!(&ours.position, at);
            assert_eq!(
                go_reconstruct(dir, &manifest, base, &diffs),
                rebuilt_rows(&ours),
                "at {at} via {format:?}"
            );
        }
    }
}

/// Every record decodes as Go would decode it: JSONL lines in Go's field
/// order, protobuf records with prost.
fn check_records(format: Format, kind: ArtifactKind, body: &[u8]) {
    use laredo_proto::snapshotter::v1::{DiffChange, SnapshotRow};
    match format {
        Format::Jsonl => {
            for line in std::str::from_utf8(body).unwrap().lines() {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                if kind == ArtifactKind::Diff {
                    let fields: Vec<usize> = ["\"action\"", "\"key\"", "\"old\"", "\"new\""]
                        .iter()
                        .filter_map(|f| line.find(f))
                        .collect();
                    assert!(fields.is_sorted() && fields[0] == 1, "{line}");
                    assert!(value["action"].is_string());
                }
            }
        }
        Format::Protobuf => {
            let mut buf = body;
            while !buf.is_empty() {
                match kind {
                    ArtifactKind::Snapshot => assert!(
                        SnapshotRow::decode_length_delimited(&mut buf)
                            .unwrap()
                            .row
                            .is_some()
                    ),
                    ArtifactKind::Diff => assert!(
                        !DiffChange::decode_length_delimited(&mut buf)
                            .unwrap()
                            .action
                            .is_empty()
                    ),
                }
            }
        }
        Format::Parquet => panic!("Go readers do not read parquet; no golden archive holds it"),
    }
}
