//! The S3 destination through outages: transient errors while the server is
//! away, nothing lost or half-written, and success once it is back.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use snapshot_writer::dest::s3::{S3Destination, S3Options};
use snapshot_writer::dest::{DestError, Destination, PutMode};

use crate::support::moto::Moto;
use crate::support::outage::Outage;
use crate::{pseudo_random, spool};

fn assert_transient(result: Result<impl std::fmt::Debug, DestError>, what: &str) {
    match result {
        Err(DestError::Failed {
            transient: true, ..
        }) => {}
        other => panic!("{what}: expected a transient failure, got {other:?}"),
    }
}

/// Quick retries so an outage is reported within about a second.
fn impatient() -> S3Options {
    S3Options {
        multipart_threshold: 5 << 20,
        part_size: 5 << 20,
        upload_concurrency: 1,
        max_attempts: 3,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..S3Options::default()
    }
}

async fn behind(outage: &Outage, moto: &Moto, bucket: &str, options: S3Options) -> S3Destination {
    let mut location = moto.location(bucket, "p/");
    location.endpoint = Some(outage.endpoint());
    S3Destination::connect_with(&location, &moto.resolver(), options)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_outage_in_the_middle_of_a_multipart_upload_loses_nothing_and_recovers() {
    let moto = Moto::start().await;
    moto.create_bucket("bucket").await;
    let mut outage = Outage::start(moto.port());
    let dest = Arc::new(behind(&outage, &moto, "bucket", impatient()).await);
    let dir = tempfile::tempdir().unwrap();

    let manifest = Bytes::from_static(b"{\"head\":\"0/1\"}");
    let committed = dest
        .put_if("t/manifest.json", manifest.clone(), None)
        .await
        .unwrap();

    let big = pseudo_random(16 << 20, 3);
    let file = spool(dir.path(), "big", &big);
    let key = "t/epoch=1/snapshot-0_2.jsonl";
    let upload = tokio::spawn({
        let (dest, file) = (Arc::clone(&dest), file.clone());
        async move { dest.put_file(key, &file, PutMode::CreateNew).await }
    });
    // Cut once the first part is through and the second is on its way.
    let start = outage.bytes_sent();
    crate::support::eventually(Duration::from_secs(30), "7 MiB uploaded", || {
        let sent = outage.bytes_sent() - start;
        async move { sent > 7 << 20 }
    })
    .await;
    outage.down();
    assert_transient(upload.await.unwrap(), "upload cut mid-way");
    assert_transient(
        dest.put_if(
            "t/manifest.json",
            Bytes::from_static(b"{\"head\":\"0/2\"}"),
            Some(&committed),
        )
        .await,
        "manifest swap while the server is away",
    );
    assert_transient(
        dest.get("t/manifest.json").await,
        "read while the server is away",
    );

    outage.up();
    // The committed manifest is intact; the cut upload left no object.
    let stored = dest.get("t/manifest.json").await.unwrap().unwrap();
    assert_eq!((stored.body, &stored.revision), (manifest, &committed));
    assert_eq!(
        dest.size(key).await.unwrap(),
        None,
        "no half-written artifact"
    );

    dest.put_file(key, &file, PutMode::CreateNew).await.unwrap();
    assert!(dest.get(key).await.unwrap().unwrap().body == big);
    dest.put_if(
        "t/manifest.json",
        Bytes::from_static(b"{\"head\":\"0/2\"}"),
        Some(&committed),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn retries_with_backoff_ride_out_a_short_outage() {
    let moto = Moto::start().await;
    moto.create_bucket("bucket").await;
    let mut outage = Outage::start(moto.port());
    let patient = S3Options {
        max_attempts: 20,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        ..S3Options::default()
    };
    let dest = Arc::new(behind(&outage, &moto, "bucket", patient).await);
    outage.down();
    let write = tokio::spawn({
        let dest = Arc::clone(&dest);
        async move {
            dest.put_if("t/manifest.json", Bytes::from_static(b"{}"), None)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !write.is_finished(),
        "still retrying while the server is away"
    );
    outage.up();
    let revision = write
        .await
        .unwrap()
        .expect("succeeds once the server is back");
    assert_eq!(
        dest.get("t/manifest.json").await.unwrap().unwrap().revision,
        revision
    );
}

#[tokio::test]
async fn a_killed_server_gives_transient_errors_and_a_restarted_one_serves_again() {
    let mut moto = Moto::start().await;
    let dest = moto.destination("bucket", "p/", impatient()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = spool(dir.path(), "f", b"rows\n");

    moto.stop();
    assert_transient(dest.put_file("t/a", &file, PutMode::CreateNew).await, "put");
    assert_transient(dest.size("t/a").await, "head");
    assert_transient(dest.list("t/").await, "list");

    // moto keeps its state in memory: the restarted server is empty.
    moto.restart().await;
    moto.create_bucket("bucket").await;
    dest.put_file("t/a", &file, PutMode::CreateNew)
        .await
        .unwrap();
    assert_eq!(dest.get("t/a").await.unwrap().unwrap().body, "rows\n");
}
