//! Two writers on one prefix, failures in the middle of a commit, and lagging
//! destinations: exactly one writer keeps committing, nothing is lost, and
//! the manifest stays valid with every object it references.
#![allow(clippy::unwrap_used)]

mod archive_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use archive_support::{
    Contenders, Source, assert_valid, head_rows, local, open_writer, settings, table_rows,
};
use async_trait::async_trait;
use bytes::Bytes;
use snapshot_writer::archive::{ArchiveReader, ArchiveSettings, ArchiveWriter, Trigger};
use snapshot_writer::config::Format;
use snapshot_writer::dest::{
    DestError, Destination, LocalDestination, PutMode, Revision, Versioned,
};
use snapshot_writer::metrics::TableMetrics;
use snapshot_writer::table::KeySpec;

#[tokio::test]
async fn a_second_writer_on_the_prefix_is_fenced_and_the_first_keeps_committing() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    let settings = settings("public.items");
    let Contenders {
        mut first,
        first_source: mut source_a,
        mut second,
        second_source: mut source_b,
        error,
    } = Contenders::race(&dests, (&settings, "writer-a"), (&settings, "writer-b")).await;
    assert!(error.is_fenced(), "{error}");
    assert!(
        error.to_string().contains("writer-a"),
        "the log names the other writer: {error}"
    );
    assert!(second.is_fenced());
    // Once fenced, every write fails without touching the destination.
    assert!(source_b.diff(&mut second).await.unwrap_err().is_fenced());

    for id in 10..15 {
        source_a.insert(id, "more");
        source_a.diff(&mut first).await.unwrap().unwrap();
    }
    let reader = assert_valid(&dests[0]).await;
    assert_eq!(reader.manifest().writer.as_deref(), Some("writer-a"));
    assert_eq!(
        head_rows(&reader, &[Format::Protobuf]).await,
        table_rows(&source_a.table)
    );
}

/// A destination that injects failures into a real local directory.
#[derive(Debug)]
struct Flaky {
    inner: LocalDestination,
    /// Manifest writes that land but report a transient error.
    landed_but_failed: AtomicUsize,
    /// Manifest writes that fail without landing.
    manifest_failures: AtomicUsize,
    /// Artifact puts that fail.
    artifact_failures: AtomicUsize,
}

impl Flaky {
    fn new(path: &Path) -> Self {
        Self {
            inner: LocalDestination::new(path),
            landed_but_failed: AtomicUsize::new(0),
            manifest_failures: AtomicUsize::new(0),
            artifact_failures: AtomicUsize::new(0),
        }
    }
}

fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn transient(key: &str) -> DestError {
    DestError::Failed {
        dest: "flaky".into(),
        operation: "put",
        key: key.into(),
        source: "injected timeout".into(),
        transient: true,
    }
}

#[async_trait]
impl Destination for Flaky {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn uri(&self, key: &str) -> String {
        self.inner.uri(key)
    }
    async fn put_file(&self, key: &str, source: &Path, mode: PutMode) -> Result<(), DestError> {
        if take(&self.artifact_failures) {
            return Err(transient(key));
        }
        self.inner.put_file(key, source, mode).await
    }
    async fn get(&self, key: &str) -> Result<Option<Versioned>, DestError> {
        self.inner.get(key).await
    }
    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        expected: Option<&Revision>,
    ) -> Result<Revision, DestError> {
        if take(&self.manifest_failures) {
            return Err(transient(key));
        }
        let revision = self.inner.put_if(key, body, expected).await?;
        if take(&self.landed_but_failed) {
            return Err(transient(key));
        }
        Ok(revision)
    }
    async fn size(&self, key: &str) -> Result<Option<u64>, DestError> {
        self.inner.size(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), DestError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, DestError> {
        self.inner.list(prefix).await
    }
}

#[tokio::test]
async fn failed_writes_lose_nothing_and_lagging_destinations_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Arc::new(Flaky::new(&dir.path().join("b")));
    let dests: Vec<Arc<dyn Destination>> = vec![local(&dir.path().join("a")), flaky.clone()];
    let metrics = TableMetrics::detached("public.items");
    let mut writer = ArchiveWriter::open(
        dests.clone(),
        settings("public.items"),
        "w".into(),
        metrics.clone(),
    )
    .await
    .unwrap();
    let mut source = Source::new();
    source
        .snapshot(&mut writer, Trigger::Initial)
        .await
        .unwrap();

    // An artifact put fails: the write fails and the changes stay buffered.
    source.insert(1, "x");
    flaky.artifact_failures.store(1, Ordering::SeqCst);
    assert!(source.diff(&mut writer).await.is_err());
    assert_eq!(source.buffer.depth(), 1);
    source.insert(2, "y");
    let diff = source.diff(&mut writer).await.unwrap().unwrap();
    assert_eq!(diff.records, 2);

    // The manifest write to `b` fails: committed on `a`, `b` lags, and the
    // next write brings it up to date first.
    source.insert(3, "z");
    flaky.manifest_failures.store(1, Ordering::SeqCst);
    let committed = source.diff(&mut writer).await.unwrap().unwrap();
    assert_eq!(committed.lagging, vec![flaky.name().to_owned()]);
    assert_ne!(
        ArchiveReader::open(dests[0].clone(), "items/")
            .await
            .unwrap()
            .manifest(),
        ArchiveReader::open(dests[1].clone(), "items/")
            .await
            .unwrap()
            .manifest()
    );
    // The manifest write to `b` lands but reports a timeout: the next attempt
    // conflicts with our own write, re-reads it and continues on top.
    flaky.landed_but_failed.store(1, Ordering::SeqCst);
    source.insert(4, "w");
    // (bringing `b` up to date lands but "fails"; the commit then conflicts
    // with that write of ours and retries on top of it.)
    let committed = source.diff(&mut writer).await.unwrap().unwrap();
    assert!(committed.lagging.is_empty(), "{:?}", committed.lagging);
    assert_eq!(metrics.manifest_cas_retries.get(), 1);
    source.insert(5, "v");
    source.diff(&mut writer).await.unwrap().unwrap();
    assert!(!writer.is_fenced());

    // All manifest writes fail: nothing is committed, the candidate is kept
    // and lands on the next attempt, with the changes made meanwhile.
    flaky.manifest_failures.store(1, Ordering::SeqCst);
    let a_only: Vec<Arc<dyn Destination>> = vec![flaky.clone()];
    let mut solo = ArchiveWriter::open(
        a_only.clone(),
        settings("public.items"),
        "w".into(),
        metrics.clone(),
    )
    .await
    .unwrap();
    let restored = solo.restore().await.unwrap().unwrap();
    assert_eq!(table_rows(&restored.table).len(), 5);
    let mut solo_source = Source::restored(restored.table);
    solo_source.insert(6, "u");
    assert!(matches!(
        solo_source.diff(&mut solo).await,
        Err(snapshot_writer::archive::ArchiveError::NotCommitted(_))
    ));
    solo_source.insert(7, "t");
    solo_source.diff(&mut solo).await.unwrap().unwrap();
    let reader = assert_valid(&a_only[0]).await;
    assert_eq!(
        head_rows(&reader, &[Format::Protobuf]).await,
        table_rows(&solo_source.table)
    );

    for dest in &dests[..1] {
        let reader = assert_valid(dest).await;
        assert_eq!(
            head_rows(&reader, &[Format::Jsonl, Format::Protobuf]).await,
            table_rows(&source.table)
        );
    }
}

#[tokio::test]
async fn a_destination_added_later_receives_the_archive_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let first: Vec<Arc<dyn Destination>> = vec![local(&dir.path().join("a"))];
    let mut writer = open_writer(&first, &settings("public.items"), "w1").await;
    let mut source = Source::new();
    source.insert(1, "x");
    source
        .snapshot(&mut writer, Trigger::Initial)
        .await
        .unwrap();
    source.insert(2, "y");
    source.diff(&mut writer).await.unwrap();
    drop(writer);

    let both = vec![first[0].clone(), local(&dir.path().join("b"))];
    let writer = open_writer(&both, &settings("public.items"), "w2").await;
    assert!(writer.lagging_destinations().is_empty());
    let reader = assert_valid(&both[1]).await;
    assert_eq!(
        head_rows(&reader, &[Format::Jsonl, Format::Protobuf]).await,
        table_rows(&source.table)
    );
}

const CHILD_DIR: &str = "ARCHIVE_TEST_CHILD_DIR";
const CHILD_ID: &str = "ARCHIVE_TEST_CHILD_ID";

/// The child side of the two-process test; does nothing unless started by it.
#[tokio::test]
async fn child_writer_process() {
    let (Ok(dir), Ok(id)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_ID)) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let dests = vec![local(&dir.join("archive"))];
    let mut writer = open_writer(&dests, &settings("public.items"), &id).await;
    std::fs::write(dir.join(format!("{id}.opened")), b"").unwrap();
    while !dir.join("go").exists() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut source = Source::new();
    let mut outcome = "committed-all";
    for n in 0..20u32 {
        source.insert(n, &id);
        let result = if n == 0 {
            source
                .snapshot(&mut writer, Trigger::Initial)
                .await
                .map(|_| ())
        } else {
            source.diff(&mut writer).await.map(|_| ())
        };
        match result {
            Ok(()) => {}
            Err(error) if error.is_fenced() => {
                outcome = "fenced";
                break;
            }
            Err(error) => panic!("{error}"),
        }
    }
    std::fs::write(dir.join(format!("{id}.outcome")), outcome).unwrap();
}

#[test]
fn two_writer_processes_on_one_prefix_exactly_one_keeps_committing() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["proc-a", "proc-b"]
        .iter()
        .map(|id| {
            std::process::Command::new(&exe)
                .args(["--exact", "child_writer_process", "--nocapture"])
                .env(CHILD_DIR, dir.path())
                .env(CHILD_ID, id)
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !(dir.path().join("proc-a.opened").exists() && dir.path().join("proc-b.opened").exists())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "children did not open the archive"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::fs::write(dir.path().join("go"), b"").unwrap();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let outcome =
        |id: &str| std::fs::read_to_string(dir.path().join(format!("{id}.outcome"))).unwrap();
    let mut outcomes = [outcome("proc-a"), outcome("proc-b")];
    outcomes.sort();
    assert_eq!(outcomes, ["committed-all".to_owned(), "fenced".to_owned()]);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dest = local(&dir.path().join("archive"));
        let reader = assert_valid(&dest).await;
        let winner = reader.manifest().writer.clone().unwrap();
        assert_eq!(outcome(&winner), "committed-all");
        assert_eq!(reader.manifest().artifacts.len(), 20);
        let head = reader
            .rebuild(
                None,
                &KeySpec::default(),
                &[Format::Jsonl, Format::Protobuf],
            )
            .await
            .unwrap();
        assert_eq!(head.rows.len(), 20);
    });
}

#[tokio::test]
async fn retention_deletes_dropped_epochs_with_their_orphans_after_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let dests = vec![local(dir.path())];
    let settings = ArchiveSettings {
        keep_epochs: 2,
        ..settings("public.items")
    };
    let mut writer = open_writer(&dests, &settings, "w").await;
    let mut source = Source::new();
    for epoch in 1..=2u32 {
        source.insert(epoch, "x");
        source.snapshot(&mut writer, Trigger::Forced).await.unwrap();
        source.insert(epoch + 100, "y");
        source.diff(&mut writer).await.unwrap();
    }
    // An orphan of a crashed attempt in epoch 1.
    std::fs::write(
        dir.path()
            .join("items/epoch=1/diff-0_00000009-0_0000000A.pb"),
        b"orphan",
    )
    .unwrap();
    let epoch_dir = |n: u32| dir.path().join(format!("items/epoch={n}"));
    assert!(epoch_dir(1).exists() && epoch_dir(2).exists());
    source.snapshot(&mut writer, Trigger::Forced).await.unwrap();
    assert!(!epoch_dir(1).exists(), "epoch 1 and its orphan are deleted");
    assert!(epoch_dir(2).exists() && epoch_dir(3).exists());
    let reader = assert_valid(&dests[0]).await;
    assert_eq!(
        reader.manifest().artifacts.iter().map(|a| a.epoch).min(),
        Some(2)
    );
    assert_eq!(
        head_rows(&reader, &[Format::Protobuf]).await,
        table_rows(&source.table)
    );
}
