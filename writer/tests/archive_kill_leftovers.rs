//! What a killed writer leaves behind, and how the next start-up cleans it
//! (issue 16, class 8). A kill is simulated by leaving files exactly as a
//! crashed writer would: spool files in a run directory whose lock nobody
//! holds any more, temp files of the local destination, and the objects of
//! an epoch the committed manifest has already retired.
#![allow(clippy::unwrap_used)]

mod archive_support;

use std::fs;
use std::path::Path;

use archive_support::{local, open_writer, row};
use snapshot_writer::archive::verify::verify;
use snapshot_writer::archive::{ArchiveReader, ArchiveSettings, ChangeBuffer, SourceMark, Trigger};
use snapshot_writer::table::{KeySpec, Table};

fn settings(keep_epochs: u32) -> ArchiveSettings {
    ArchiveSettings {
        keep_epochs,
        ..ArchiveSettings::new("public.items", "items/")
    }
}

fn table() -> Table {
    let mut table = Table::new(KeySpec::default());
    for id in 0..10 {
        table
            .apply("INSERT", None, Some(&row(id, "x", 1.0)), &mut |_| {})
            .unwrap();
    }
    table
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap();
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

async fn assert_reads_and_verifies(dir: &Path, rows: usize) {
    let reader = ArchiveReader::open(local(dir), "items/").await.unwrap();
    let report = verify(&reader).await.unwrap();
    assert!(report.ok(), "{report}");
    let table = reader
        .rebuild(
            None,
            &KeySpec::default(),
            &[snapshot_writer::config::Format::Jsonl],
        )
        .await
        .unwrap();
    assert_eq!(table.rows.len(), rows);
}

#[tokio::test]
async fn start_up_removes_the_spool_and_temp_files_a_killed_writer_left() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    let mut writer = open_writer(&dests, &settings(0), "first").await;
    let mut buffer = ChangeBuffer::new();
    writer
        .write_snapshot(
            &table(),
            &mut buffer,
            &SourceMark::default(),
            Trigger::Forced,
        )
        .await
        .unwrap();
    let committed = files(dir.path());
    // The kill: the process is gone, so its run directory stays with its
    // lock file, which nobody holds; an older version left loose files.
    drop(writer);
    let tmp = dir.path().join(".tmp");
    fs::create_dir_all(tmp.join("run-killed")).unwrap();
    fs::write(tmp.join("run-killed.lock"), b"").unwrap();
    fs::write(tmp.join("run-killed/0190.jsonl.spool"), vec![b'x'; 4096]).unwrap();
    fs::write(tmp.join("run-killed/77.part"), b"half a copy").unwrap();
    fs::write(tmp.join("0191.pb.spool"), b"loose").unwrap();
    fs::write(tmp.join("abc.part"), b"loose").unwrap();

    let _restarted = open_writer(&dests, &settings(0), "second").await;
    let left: Vec<String> = files(&tmp)
        .into_iter()
        .filter(|file| !file.starts_with("run-") || file.contains("killed"))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "stale files survived");
    let committed_now: Vec<String> = files(dir.path())
        .into_iter()
        .filter(|file| !file.starts_with(".tmp/"))
        .collect();
    let committed: Vec<String> = committed
        .into_iter()
        .filter(|file| !file.starts_with(".tmp/"))
        .collect();
    assert_eq!(committed_now, committed, "committed files must stay");
    assert_reads_and_verifies(dir.path(), 10).await;
}

#[tokio::test]
async fn a_live_writers_spool_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    let _live = open_writer(&dests, &settings(0), "live").await;
    let runs = |dir: &Path| {
        fs::read_dir(dir.join(".tmp"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_dir())
            .count()
    };
    assert_eq!(runs(dir.path()), 1);
    // A second table in the same place starts: the first one's run stays.
    let _other = open_writer(&dests, &settings(0), "other").await;
    assert_eq!(runs(dir.path()), 2);
}

#[tokio::test]
async fn start_up_deletes_retired_epochs_a_kill_between_commit_and_pruning_left() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    let mut writer = open_writer(&dests, &settings(1), "first").await;
    let (table, mut buffer, mark) = (table(), ChangeBuffer::new(), SourceMark::default());
    writer
        .write_snapshot(&table, &mut buffer, &mark, Trigger::Forced)
        .await
        .unwrap();
    let epoch_1 = dir.path().join("items/epoch=1");
    let saved = tempfile::tempdir().unwrap();
    for file in files(&epoch_1) {
        fs::copy(epoch_1.join(&file), saved.path().join(&file)).unwrap();
    }
    writer
        .write_snapshot(&table, &mut buffer, &mark, Trigger::Forced)
        .await
        .unwrap();
    assert!(!epoch_1.exists(), "retention deletes a retired epoch");
    // The kill came after the commit of epoch 2 and before its deletions:
    // epoch 1 is still on disk, and no later commit lists it again.
    drop(writer);
    fs::create_dir_all(&epoch_1).unwrap();
    for file in files(saved.path()) {
        fs::copy(saved.path().join(&file), epoch_1.join(&file)).unwrap();
    }
    let epoch_2 = files(&dir.path().join("items/epoch=2"));
    assert!(!epoch_2.is_empty());

    let _restarted = open_writer(&dests, &settings(1), "second").await;
    assert!(!epoch_1.exists(), "retired epoch 1 left behind");
    assert_eq!(files(&dir.path().join("items/epoch=2")), epoch_2);
    assert_reads_and_verifies(dir.path(), 10).await;
}

#[tokio::test]
async fn without_retention_no_epoch_is_retired() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    let mut writer = open_writer(&dests, &settings(0), "first").await;
    let (table, mut buffer, mark) = (table(), ChangeBuffer::new(), SourceMark::default());
    for _ in 0..2 {
        writer
            .write_snapshot(&table, &mut buffer, &mark, Trigger::Forced)
            .await
            .unwrap();
    }
    drop(writer);
    let _restarted = open_writer(&dests, &settings(0), "second").await;
    assert!(dir.path().join("items/epoch=1").exists());
    assert!(dir.path().join("items/epoch=2").exists());
}
