//! `read` and `verify` on hostile archives (issue 16, classes 2–4): links
//! out of the archive, devices and FIFOs, sizes that lie, objects that
//! decode for one command but not the other, and manifests that do not hold
//! together. Both commands run as the real binary; each must refuse with an
//! error naming what it refused, print no rows, and not hang or balloon.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use laredo_wire::{encode_scalar, write_struct_entry};
use serde_json::Value;
use snapshot_writer::archive::format::protobuf;
use snapshot_writer::table::ValueRef;

/// A copy of the golden archive our writer wrote (JSONL and protobuf,
/// checksums, key `id`), to damage.
fn archive() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/rust-writer");
    copy_dir(&source, copy.path());
    copy
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

/// Runs the binary: (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_snapshot-writer"))
        .args(args)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (
        output.status.success(),
        text(output.stdout),
        text(output.stderr),
    )
}

/// Asserts that `read` and `verify` both refuse `archive`, each saying
/// every one of `expected`, and that `read` prints no row.
fn both_refuse(archive: &Path, expected: &[&str]) -> (String, String) {
    let path = archive.to_str().unwrap();
    let (ok, stdout, read_err) = run(&["read", path]);
    assert!(!ok, "read succeeded: {stdout}");
    assert!(stdout.is_empty(), "read printed rows: {stdout}");
    let (ok, _, verify_err) = run(&["verify", path]);
    assert!(!ok, "verify passed: {verify_err}");
    for text in expected {
        assert!(read_err.contains(text), "read: no {text:?} in {read_err}");
        assert!(
            verify_err.contains(text),
            "verify: no {text:?} in {verify_err}"
        );
    }
    (read_err, verify_err)
}

const HEAD_SNAPSHOT: &str = "epoch=3/snapshot-0_001A0002";

fn edit_manifest(archive: &Path, edit: impl FnOnce(&mut Value)) {
    let path = archive.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(&mut manifest);
    fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

fn artifacts(manifest: &mut Value) -> &mut Vec<Value> {
    manifest["artifacts"].as_array_mut().unwrap()
}

/// Replaces artifact `index`'s object in `format` with `body`, recording
/// its size and checksum as an attacker would, and drops its other formats
/// so `read` takes this one.
fn replace_object(archive: &Path, index: usize, object: &str, format: &str, body: &[u8]) {
    fs::write(archive.join(object), body).unwrap();
    edit_manifest(archive, |manifest| {
        let formats = artifacts(manifest)[index]["formats"]
            .as_object_mut()
            .unwrap();
        formats.retain(|id, _| id == format);
        formats[format]["size_bytes"] = body.len().into();
        formats[format]["crc32c"] = format!("{:08x}", crc32c::crc32c(body)).into();
    });
}

fn set_row_count(archive: &Path, index: usize, rows: u64) {
    edit_manifest(archive, |m| artifacts(m)[index]["row_count"] = rows.into());
}

// Class 2: reads follow the file system out of the archive.

#[test]
fn an_artifact_linked_outside_is_refused_even_with_matching_size_and_checksum() {
    let archive = archive();
    let outside = tempfile::tempdir().unwrap();
    for ext in ["pb", "jsonl"] {
        let object = archive.path().join(format!("{HEAD_SNAPSHOT}.{ext}"));
        let copy = outside.path().join(format!("rows.{ext}"));
        fs::rename(&object, &copy).unwrap();
        symlink(&copy, &object).unwrap();
    }
    both_refuse(
        archive.path(),
        &["snapshot-0_001A0002.pb is a symbolic link"],
    );
}

#[test]
fn an_epoch_directory_linked_outside_is_refused() {
    let archive = archive();
    let outside = tempfile::tempdir().unwrap();
    let epoch = archive.path().join("epoch=3");
    fs::rename(&epoch, outside.path().join("epoch=3")).unwrap();
    symlink(outside.path().join("epoch=3"), &epoch).unwrap();
    both_refuse(archive.path(), &["epoch=3 is a symbolic link"]);
}

#[test]
fn a_manifest_linked_outside_is_refused() {
    let archive = archive();
    let outside = tempfile::tempdir().unwrap();
    let manifest = archive.path().join("manifest.json");
    fs::rename(&manifest, outside.path().join("manifest.json")).unwrap();
    symlink(outside.path().join("manifest.json"), &manifest).unwrap();
    both_refuse(archive.path(), &["manifest.json is a symbolic link"]);
}

#[test]
fn links_to_dev_zero_and_etc_passwd_are_refused_without_reading_or_leaking_them() {
    let passwd_len = fs::metadata("/etc/passwd").unwrap().len();
    for target in ["/dev/zero", "/etc/passwd"] {
        let archive = archive();
        let object = archive.path().join(format!("{HEAD_SNAPSHOT}.pb"));
        fs::remove_file(&object).unwrap();
        symlink(target, &object).unwrap();
        let (read_err, verify_err) = both_refuse(archive.path(), &["is a symbolic link"]);
        for err in [read_err, verify_err] {
            assert!(
                !err.contains(&format!("{passwd_len} bytes")),
                "the outside file's size leaked: {err}"
            );
        }
    }
}

#[test]
fn a_fifo_in_place_of_an_artifact_or_the_manifest_is_refused_without_blocking() {
    for name in [format!("{HEAD_SNAPSHOT}.pb"), "manifest.json".to_owned()] {
        let archive = archive();
        let path = archive.path().join(&name);
        fs::remove_file(&path).unwrap();
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
        // No writer ever opens the FIFO: a reader that opened it for reading
        // without O_NONBLOCK, or read it, would wait here forever.
        both_refuse(archive.path(), &["is a FIFO, not a regular file"]);
    }
}

#[test]
fn objects_larger_than_recorded_are_refused_before_they_are_read() {
    // Sparse: 64 GiB that take no disk, and would take 64 GiB of memory if
    // read.
    let huge = 64 << 30;
    let archive = archive();
    let object = archive.path().join(format!("{HEAD_SNAPSHOT}.pb"));
    fs::File::create(&object).unwrap().set_len(huge).unwrap();
    both_refuse(
        archive.path(),
        &[
            "snapshot-0_001A0002.pb",
            &format!("it has {huge} bytes, more than the 105 expected"),
        ],
    );

    let archive = self::archive();
    let manifest = archive.path().join("manifest.json");
    fs::File::create(&manifest).unwrap().set_len(huge).unwrap();
    both_refuse(
        archive.path(),
        &["manifest.json", "more than the 268435456 expected"],
    );
}

// Class 3: `verify` decodes everything `read` would.

#[test]
fn a_jsonl_line_that_is_not_json_fails_both_even_with_its_checksum_fixed() {
    let cases: [&[u8]; 2] = [
        b"{\"id\":9,\"n\":9,\"name\":\"ivan\"}\n{not json}\n",
        // After the key: the rebuild scans a checksummed line only up to
        // its key, so this one fails when `read` prints it.
        b"{\"id\":9,\"n\":9,\"name\":\"ivan\"}\n{\"id\":60,\"n\":not json}\n",
    ];
    for (body, read_says) in cases.iter().zip(["record 2", "the row of key \"60\""]) {
        let archive = archive();
        let object = format!("{HEAD_SNAPSHOT}.jsonl");
        replace_object(archive.path(), 7, &object, "jsonl", body);
        let path = archive.path().to_str().unwrap();
        let (ok, _, stderr) = run(&["verify", path]);
        assert!(!ok, "verify passed: {stderr}");
        assert!(stderr.contains("snapshot-0_001A0002.jsonl"), "{stderr}");
        let (ok, stdout, stderr) = run(&["read", path]);
        assert!(!ok && stdout.is_empty(), "{stdout}");
        assert!(stderr.contains(read_says), "{stderr}");
    }
}

#[test]
fn a_protobuf_row_with_a_bad_field_fails_both() {
    // Framing and the key are fine; column `name` is a string value whose
    // bytes are not UTF-8.
    let mut body = Vec::new();
    for (id, name) in [(9.0, &[b'i', b'v'][..]), (60.0, &[0xff, 0xfe])] {
        let mut row = Vec::new();
        write_struct_entry(&mut row, "id", &encode_scalar(&ValueRef::Number(id)));
        let mut value = vec![0x1a, name.len() as u8];
        value.extend_from_slice(name);
        write_struct_entry(&mut row, "name", &value);
        protobuf::encode_snapshot_row(&mut body, &row);
    }
    let archive = archive();
    replace_object(
        archive.path(),
        7,
        &format!("{HEAD_SNAPSHOT}.pb"),
        "protobuf",
        &body,
    );
    let path = archive.path().to_str().unwrap();
    let (ok, stdout, stderr) = run(&["read", path]);
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("the row of key \"60\" does not decode"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["verify", path]);
    assert!(!ok, "verify passed: {stderr}");
    assert!(
        stderr.contains("snapshot-0_001A0002.pb: the row of key \"60\" does not decode"),
        "{stderr}"
    );
}

// Class 4: a manifest that does not hold together.

#[test]
fn a_diff_cut_from_the_middle_of_the_chain_is_refused() {
    let archive = archive();
    edit_manifest(archive.path(), |m| {
        artifacts(m).remove(5);
    });
    both_refuse(
        archive.path(),
        &["artifact #5 (diff epoch=2", "chain broken"],
    );
}

#[test]
fn a_head_diff_of_a_stray_epoch_is_refused() {
    for epoch in [99, u64::MAX] {
        let archive = archive();
        edit_manifest(archive.path(), |m| artifacts(m)[8]["epoch"] = epoch.into());
        both_refuse(
            archive.path(),
            &[&format!(
                "a diff of epoch {epoch} after the snapshot of epoch 3"
            )],
        );
    }
}

#[test]
fn a_row_count_that_lies_is_refused() {
    let archive = archive();
    set_row_count(archive.path(), 7, u64::MAX);
    both_refuse(
        archive.path(),
        &[
            "snapshot-0_001A0002",
            "holds 2 rows, the manifest records row_count 18446744073709551615",
        ],
    );
}

#[test]
fn a_snapshot_row_without_its_key_column_is_refused() {
    let archive = archive();
    let body = b"{\"id\":9,\"n\":9,\"name\":\"ivan\"}\n{\"n\":6,\"name\":\"frank\"}\n";
    replace_object(
        archive.path(),
        7,
        &format!("{HEAD_SNAPSHOT}.jsonl"),
        "jsonl",
        body,
    );
    both_refuse(
        archive.path(),
        &[
            "snapshot-0_001A0002.jsonl",
            "record 2",
            "no key column \"id\"",
        ],
    );
}

#[test]
fn the_same_key_twice_in_a_snapshot_is_refused() {
    let archive = archive();
    let body = b"{\"id\":9,\"n\":9,\"name\":\"ivan\"}\n{\"id\":9,\"n\":6,\"name\":\"frank\"}\n";
    replace_object(
        archive.path(),
        7,
        &format!("{HEAD_SNAPSHOT}.jsonl"),
        "jsonl",
        body,
    );
    both_refuse(
        archive.path(),
        &[
            "snapshot-0_001A0002.jsonl",
            "key \"9\" appears twice in the snapshot",
        ],
    );
}

#[test]
fn the_golden_archives_still_read() {
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/golden");
    let (ok, stdout, stderr) = run(&["read", golden.join("rust-writer").to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let (ok, _, stderr) = run(&["verify", golden.join("rust-writer").to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["read", golden.join("go-writer").to_str().unwrap()]);
    assert!(ok, "{stderr}");
}
