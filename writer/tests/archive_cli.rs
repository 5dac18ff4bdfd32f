//! `snapshot-writer read` and `verify` on the golden archives, through the
//! real binary.
#![allow(clippy::unwrap_used)]

mod archive_support;

use std::path::PathBuf;
use std::process::Command;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/golden")
        .join(name)
}

fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_snapshot-writer"))
        .args(args)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (
        output.status.success(),
        text(output.stdout),
        text(output.stderr),
    )
}

#[test]
fn read_prints_the_table_as_jsonl() {
    let go = golden("go-writer");
    let (ok, stdout, stderr) = run(&["read", go.to_str().unwrap(), "--at", "0/0019F000"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(
        stdout.starts_with(r#"{"active":false,"id":1234567,"#),
        "{stdout}"
    );
    assert!(
        stderr.contains("4 rows at position \"0/0019F000\" (epoch 2)"),
        "{stderr}"
    );

    let ours = golden("rust-writer");
    let (ok, stdout, _) = run(&["read", ours.to_str().unwrap(), "--key-fields", "id"]);
    assert!(ok);
    assert!(
        stdout
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );
}

#[test]
fn verify_exits_non_zero_with_a_report() {
    let (ok, _, stderr) = run(&["verify", golden("rust-writer").to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stderr.starts_with("OK:"), "{stderr}");
    let (ok, _, stderr) = run(&["verify", golden("go-writer").to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("problem: ") && stderr.contains("INVALID"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["verify", "/nonexistent/archive"]);
    assert!(!ok);
    assert!(
        stderr.contains("not a directory holding manifest.json"),
        "{stderr}"
    );
}

/// A copy of a golden archive to damage.
fn copy_of(name: &str) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let source = golden(name);
    for entry in walk(&source) {
        let target = copy.path().join(entry.strip_prefix(&source).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
    copy
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_damaged_object_is_named_by_read_and_verify() {
    // A flipped byte keeps the size: only the checksum can tell.
    let flipped = copy_of("rust-writer");
    let snapshot = flipped.path().join("epoch=3/snapshot-0_001A0002.pb");
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&snapshot, bytes).unwrap();
    // A cut diff changes the size.
    let cut = copy_of("rust-writer");
    let diff = cut.path().join("epoch=3/diff-0_001A0002-0_001A0003.pb");
    let bytes = std::fs::read(&diff).unwrap();
    std::fs::write(&diff, &bytes[..bytes.len() - 1]).unwrap();

    for (archive, object, problem) in [
        (&flipped, "snapshot-0_001A0002.pb", "has CRC-32C "),
        (
            &cut,
            "diff-0_001A0002-0_001A0003.pb",
            "bytes, the manifest records",
        ),
    ] {
        let path = archive.path().to_str().unwrap();
        let (ok, stdout, stderr) = run(&["read", path]);
        assert!(!ok, "read of a damaged archive succeeded: {stdout}");
        assert!(stdout.is_empty(), "nothing is printed: {stdout}");
        assert!(
            stderr.contains(object) && stderr.contains(problem),
            "{stderr}"
        );
        let (ok, _, stderr) = run(&["verify", path]);
        assert!(!ok);
        assert!(
            stderr.contains(object) && stderr.contains(problem),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_at_time_answers_at_between_and_before_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![archive_support::local(dir.path())];
    let settings = snapshot_writer::archive::ArchiveSettings {
        snapshot_formats: vec![snapshot_writer::config::Format::Protobuf],
        ..snapshot_writer::archive::ArchiveSettings::new("public.items", "items/")
    };
    let committed = archive_support::timed::write(&dests, &settings).await;
    let archive = dir.path().join("items");
    let archive = archive.to_str().unwrap();
    for (time, expected) in archive_support::timed::cases(&committed) {
        let (ok, stdout, stderr) = run(&["read", archive, "--at-time", &time]);
        match expected {
            Some(table) => {
                assert!(ok, "--at-time {time}: {stderr}");
                assert_eq!(
                    stdout,
                    archive_support::timed::printed(table),
                    "--at-time {time}"
                );
            }
            None => {
                assert!(!ok, "--at-time {time} before every artifact: {stdout}");
                assert!(
                    stderr.contains("no snapshot committed at or before"),
                    "{stderr}"
                );
            }
        }
    }
    // The summary names the position of the artifact read; --at and
    // --at-time exclude each other; a time needs its offset.
    let second = &committed[1];
    let (ok, _, stderr) = run(&["read", archive, "--at-time", &second.created_at.to_string()]);
    assert!(ok);
    assert!(
        stderr.contains(&format!("at position {:?} (epoch 1)", second.position)),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&[
        "read",
        archive,
        "--at",
        "0/1",
        "--at-time",
        "2026-12-07T10:00:00Z",
    ]);
    assert!(!ok && stderr.contains("cannot be used with"), "{stderr}");
    let (ok, _, stderr) = run(&["read", archive, "--at-time", "2026-12-07 10:00"]);
    assert!(!ok && stderr.contains("not an RFC 3339 time"), "{stderr}");
}
