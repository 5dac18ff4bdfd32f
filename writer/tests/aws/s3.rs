//! The S3 destination honours the `Destination` contract on a real S3
//! implementation with conditional writes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use snapshot_writer::dest::s3::{ChecksumPolicy, S3Destination, S3Options};
use snapshot_writer::dest::{DestError, Destination, PutMode, Revision};

use crate::support::eventually;
use crate::support::moto::Moto;
use crate::support::outage::Outage;
use crate::{pseudo_random, spool};

/// Small parts, so multipart uploads stay quick.
fn small_parts() -> S3Options {
    S3Options {
        multipart_threshold: 5 << 20,
        part_size: 5 << 20,
        ..S3Options::default()
    }
}

#[tokio::test]
async fn objects_round_trip_under_the_prefix_and_are_listed_and_deleted() {
    let moto = Moto::start().await;
    let dest = moto
        .destination("archive", "cfg/", S3Options::default())
        .await;
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(dest.name(), "s3://archive/cfg/");
    assert_eq!(
        dest.uri("users/manifest.json"),
        "s3://archive/cfg/users/manifest.json"
    );

    let snapshot = pseudo_random(100_000, 1);
    let diff = b"{\"op\":\"upsert\"}\n".to_vec();
    let keys = [
        "users/epoch=1/snapshot-0.jsonl",
        "users/epoch=1/diff-0-0_1A.jsonl",
    ];
    dest.put_file(
        keys[0],
        &spool(dir.path(), "s", &snapshot),
        PutMode::Overwrite,
    )
    .await
    .unwrap();
    dest.put_file(keys[1], &spool(dir.path(), "d", &diff), PutMode::CreateNew)
        .await
        .unwrap();
    let empty = spool(dir.path(), "e", b"");
    dest.put_file("users/empty.jsonl", &empty, PutMode::CreateNew)
        .await
        .unwrap();

    let stored = dest.get(keys[0]).await.unwrap().expect("stored");
    assert_eq!(stored.body, snapshot);
    assert_eq!(dest.size(keys[1]).await.unwrap(), Some(diff.len() as u64));
    assert_eq!(dest.size("users/empty.jsonl").await.unwrap(), Some(0));
    assert_eq!(
        dest.get("users/empty.jsonl")
            .await
            .unwrap()
            .unwrap()
            .body
            .len(),
        0
    );

    // The prefix is applied on the wire and stripped from listings.
    let raw = moto.s3_client().await;
    raw.head_object()
        .bucket("archive")
        .key("cfg/users/epoch=1/snapshot-0.jsonl")
        .send()
        .await
        .expect("the object lives under the destination prefix");
    raw.put_object()
        .bucket("archive")
        .key("other/users/x")
        .body(Bytes::from_static(b"x").into())
        .send()
        .await
        .unwrap();
    let mut listed = dest.list("users/epoch=1/").await.unwrap();
    listed.sort();
    let mut expected = keys.map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        dest.list("").await.unwrap().len(),
        3,
        "nothing outside the prefix"
    );

    dest.delete(keys[0]).await.unwrap();
    assert_eq!(dest.get(keys[0]).await.unwrap(), None);
    assert_eq!(dest.size(keys[0]).await.unwrap(), None);
    dest.delete(keys[0])
        .await
        .expect("deleting a missing object succeeds");
}

#[tokio::test]
async fn listing_pages_through_more_than_a_thousand_keys() {
    let moto = Moto::start().await;
    let dest = moto.destination("many", "", S3Options::default()).await;
    let raw = moto.s3_client().await;
    futures::stream::iter(0..1005)
        .map(|i| {
            raw.put_object()
                .bucket("many")
                .key(format!("t/{i:04}"))
                .body(Bytes::new().into())
                .send()
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(dest.list("t/").await.unwrap().len(), 1005);
}

#[tokio::test]
async fn create_new_never_replaces_another_writers_object() {
    let moto = Moto::start().await;
    let dest = moto.destination("bucket", "p/", S3Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let ours = spool(dir.path(), "ours", b"ours\n");
    let theirs = spool(dir.path(), "theirs", b"theirs\n");
    let key = "t/epoch=1/diff-0_1-0_2.jsonl";

    dest.put_file(key, &ours, PutMode::CreateNew).await.unwrap();
    let err = dest
        .put_file(key, &theirs, PutMode::CreateNew)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(dest.get(key).await.unwrap().unwrap().body, "ours\n");
    // The same bytes again (a retry of our own write) are not a conflict.
    dest.put_file(key, &ours, PutMode::CreateNew).await.unwrap();
    dest.put_file(key, &theirs, PutMode::Overwrite)
        .await
        .unwrap();
    assert_eq!(dest.get(key).await.unwrap().unwrap().body, "theirs\n");
}

#[tokio::test]
async fn the_manifest_swap_creates_replaces_and_refuses_stale_revisions() {
    let moto = Moto::start().await;
    let dest = moto.destination("bucket", "p/", S3Options::default()).await;
    let key = "t/manifest.json";

    let v1 = dest
        .put_if(key, Bytes::from_static(b"{\"v\":1}"), None)
        .await
        .unwrap();
    let err = dest
        .put_if(key, Bytes::from_static(b"{\"v\":\"other\"}"), None)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "create over an existing manifest: {err}");

    let stored = dest.get(key).await.unwrap().unwrap();
    assert_eq!(
        stored.revision, v1,
        "the revision is the ETag GetObject returns"
    );
    let v2 = dest
        .put_if(key, Bytes::from_static(b"{\"v\":2}"), Some(&v1))
        .await
        .unwrap();
    assert_ne!(v2, v1);

    let err = dest
        .put_if(key, Bytes::from_static(b"{\"v\":\"stale\"}"), Some(&v1))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "replace at a stale revision: {err}");
    assert_eq!(dest.get(key).await.unwrap().unwrap().body, "{\"v\":2}");

    // Writing the bytes already stored is our own earlier write, not a loss.
    assert_eq!(
        dest.put_if(key, Bytes::from_static(b"{\"v\":2}"), Some(&v1))
            .await
            .unwrap(),
        v2
    );

    dest.delete(key).await.unwrap();
    let err = dest
        .put_if(key, Bytes::from_static(b"{\"v\":3}"), Some(&v2))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "replace of a deleted manifest: {err}");
    assert_eq!(dest.get(key).await.unwrap(), None);
}

#[tokio::test]
async fn eight_concurrent_writers_of_one_manifest_have_exactly_one_winner_per_round() {
    let moto = Moto::start().await;
    moto.create_bucket("race").await;
    let mut writers = Vec::new();
    for _ in 0..8 {
        let dest = S3Destination::connect(&moto.location("race", ""), &moto.resolver())
            .await
            .unwrap();
        writers.push(Arc::new(dest));
    }
    let key = "t/manifest.json";
    let mut expected: Option<Revision> = None;
    for round in 0..12 {
        let tasks: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(writer, dest)| {
                let (dest, expected) = (Arc::clone(dest), expected.clone());
                let body = Bytes::from(format!("{{\"round\":{round},\"writer\":{writer}}}"));
                tokio::spawn(async move {
                    let result = dest.put_if(key, body.clone(), expected.as_ref()).await;
                    (body, result)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (body, Ok(revision)) => winners.push((body, revision)),
                (_, Err(err)) => assert!(err.is_conflict(), "round {round}: {err}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let (body, revision) = winners.pop().unwrap();
        let stored = writers[0].get(key).await.unwrap().unwrap();
        assert_eq!((stored.body, &stored.revision), (body, &revision));
        expected = Some(revision);
    }
}

async fn multipart_round_trip(checksums: ChecksumPolicy) {
    let moto = Moto::start().await;
    let options = S3Options {
        checksums: Some(checksums),
        ..small_parts()
    };
    let dest = moto.destination("big", "p/", options).await;
    let dir = tempfile::tempdir().unwrap();
    let bytes = pseudo_random((12 << 20) + 12_345, 7);
    let key = "t/epoch=1/snapshot-0_1.jsonl";
    dest.put_file(key, &spool(dir.path(), "big", &bytes), PutMode::CreateNew)
        .await
        .unwrap();

    let head = moto
        .s3_client()
        .await
        .head_object()
        .bucket("big")
        .key(format!("p/{key}"))
        .send()
        .await
        .unwrap();
    assert!(
        head.e_tag().unwrap_or_default().ends_with("-3\""),
        "uploaded in 3 parts: {:?}",
        head.e_tag()
    );
    let stored = dest.get(key).await.unwrap().unwrap();
    assert!(stored.body == bytes, "multipart upload is byte-exact");

    // A different large file under the same key is refused; the stored one stays.
    let other = spool(dir.path(), "other", &pseudo_random(bytes.len(), 8));
    let err = dest
        .put_file(key, &other, PutMode::CreateNew)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(dest.get(key).await.unwrap().unwrap().body == bytes);

    // A small file goes in one PutObject under the same policy.
    let small = pseudo_random(1000, 9);
    dest.put_file(
        "t/small",
        &spool(dir.path(), "small", &small),
        PutMode::CreateNew,
    )
    .await
    .unwrap();
    assert_eq!(dest.get("t/small").await.unwrap().unwrap().body, small);
}

#[tokio::test]
async fn a_large_file_goes_up_in_parts_byte_exact_for_s3_compatible_stores() {
    Box::pin(multipart_round_trip(ChecksumPolicy::WhenRequired)).await;
}

#[tokio::test]
async fn a_large_file_goes_up_in_parts_byte_exact_with_crc32_checksums_as_on_aws() {
    Box::pin(multipart_round_trip(ChecksumPolicy::WhenSupported)).await;
}

#[tokio::test]
async fn a_create_only_multipart_upload_loses_to_an_object_created_while_it_was_uploading() {
    let moto = Moto::start().await;
    moto.create_bucket("race").await;
    let outage = Outage::start(moto.port());
    let mut location = moto.location("race", "");
    location.endpoint = Some(outage.endpoint());
    let options = S3Options {
        upload_concurrency: 1,
        ..small_parts()
    };
    let dest = S3Destination::connect_with(&location, &moto.resolver(), options)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = "t/epoch=2/snapshot-0_9.jsonl";
    let ours = spool(dir.path(), "ours", &pseudo_random(16 << 20, 11));
    let upload = tokio::spawn(async move { dest.put_file(key, &ours, PutMode::CreateNew).await });

    // Past the existence check and into the parts, another writer creates
    // the object; only the conditional CompleteMultipartUpload can notice.
    let start = outage.bytes_sent();
    eventually(Duration::from_secs(30), "6 MiB uploaded", || {
        let sent = outage.bytes_sent() - start;
        async move { sent > 6 << 20 }
    })
    .await;
    outage.pause();
    moto.s3_client()
        .await
        .put_object()
        .bucket("race")
        .key(key)
        .body(Bytes::from_static(b"theirs").into())
        .send()
        .await
        .unwrap();
    outage.resume();

    let err = upload.await.unwrap().unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let dest = S3Destination::connect(&moto.location("race", ""), &moto.resolver())
        .await
        .unwrap();
    assert_eq!(dest.get(key).await.unwrap().unwrap().body, "theirs");
}

#[tokio::test]
async fn a_missing_bucket_is_a_permanent_error_naming_the_bucket_key_and_code() {
    let moto = Moto::start().await;
    let dest = S3Destination::connect(&moto.location("no-such-bucket", "p/"), &moto.resolver())
        .await
        .unwrap();
    let err = dest
        .put_if("t/manifest.json", Bytes::from_static(b"{}"), None)
        .await
        .unwrap_err();
    let text = snapshot_writer::telemetry::with_causes(&err).to_string();
    match err {
        DestError::Failed { transient, .. } => assert!(!transient, "{text}"),
        other => panic!("expected a permanent failure, got {other}"),
    }
    for part in ["s3://no-such-bucket/p/", "t/manifest.json", "NoSuchBucket"] {
        assert!(text.contains(part), "{part} missing from: {text}");
    }
}

/// A hostile manifest cannot make a reader take more than the size it
/// records: an object larger than the bound is refused from its
/// `Content-Length`, before the body is read.
#[tokio::test]
async fn bounded_reads_refuse_objects_over_their_bound_before_reading() {
    let moto = Moto::start().await;
    let dest = moto
        .destination("bounded", "cfg/", S3Options::default())
        .await;
    let dir = tempfile::tempdir().unwrap();
    let body = pseudo_random(10_000, 3);
    dest.put_file("t/x.pb", &spool(dir.path(), "x", &body), PutMode::CreateNew)
        .await
        .unwrap();
    match dest.read_bounded("t/x.pb", 9_999).await {
        Err(DestError::Refused { key, reason, .. }) => {
            assert_eq!(key, "t/x.pb");
            assert_eq!(
                reason,
                snapshot_writer::dest::Refusal::TooLarge {
                    size: Some(10_000),
                    limit: 9_999
                }
            );
        }
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(
        dest.read_bounded("t/x.pb", 10_000).await.unwrap().unwrap(),
        body
    );
    assert_eq!(dest.read_bounded("t/none", 10).await.unwrap(), None);
}
