//! One `emit` writes the log line operators read and moves the metric their
//! alerts watch, with the names both already depend on.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::metrics::Metrics;

/// The JSON log lines written while `work` runs.
fn logged(work: impl FnOnce()) -> Vec<Value> {
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut out = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            out.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, work);
    let out = lines.0.lock().unwrap_or_else(PoisonError::into_inner);
    String::from_utf8_lossy(&out)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON log line"))
        .collect()
}

#[test]
fn a_failed_upload_is_logged_with_its_cause_and_counted_for_its_destination() {
    let metrics = Metrics::new();
    let table = metrics.table("public.users");
    let error = std::io::Error::other("disk full");
    let lines = logged(|| {
        table.emit(ArtifactUploadFailed {
            dest: "local:/archive",
            key: "public.users/epoch=1/snapshot.pb",
            error: &error,
        });
    });

    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["message"], "artifact upload failed");
    assert_eq!(line["dest"], "local:/archive");
    assert_eq!(line["key"], "public.users/epoch=1/snapshot.pb");
    assert_eq!(line["error"], "disk full");
    assert!(metrics.render().contains(
        "snapshotter_destination_errors_total{dest=\"local:/archive\",table=\"public.users\"} 1"
    ));
}

#[test]
fn a_fenced_writer_says_who_fenced_it_and_reports_fenced_and_not_ready() {
    let table = Metrics::new().table("public.users");
    table.ready.set(1);
    let lines = logged(|| {
        table.emit(Fenced {
            dest: "s3://bucket/archive",
            by: FencedBy::Writer {
                other: Some("pod-b/7/x"),
                ours: "pod-a/1/y",
            },
        });
    });

    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["other_writer"], "pod-b/7/x");
    assert_eq!(line["writer"], "pod-a/1/y");
    assert_eq!(line["dest"], "s3://bucket/archive");
    assert_eq!((table.fenced.get(), table.ready.get()), (1, 0));
}

#[test]
fn a_spool_failure_counts_as_a_destination_error_and_other_failures_do_not() {
    let metrics = Metrics::new();
    let table = metrics.table("public.users");
    let spool = crate::archive::ArchiveError::Spool {
        path: "/spool/x.pb".into(),
        error: std::io::Error::other("read-only file system"),
    };
    let elsewhere = crate::archive::ArchiveError::NoBase;
    let lines = logged(|| {
        for error in [&spool, &elsewhere] {
            table.emit(WriteFailed {
                error,
                retry_in: Duration::from_millis(500),
                spool_label: "spool:/spool",
            });
        }
    });

    let errors: Vec<&Value> = lines.iter().map(|line| &line["error"]).collect();
    assert_eq!(
        errors,
        [
            "spool /spool/x.pb: read-only file system",
            "no base snapshot in the archive yet; write a snapshot first"
        ]
    );
    assert!(
        lines
            .iter()
            .all(|line| line["message"] == "write failed; buffered changes are kept and retried")
    );
    assert!(metrics.render().contains(
        "snapshotter_destination_errors_total{dest=\"spool:/spool\",table=\"public.users\"} 1"
    ));
}
