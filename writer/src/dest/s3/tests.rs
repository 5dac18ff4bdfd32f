//! The 409 `ConditionalRequestConflict` paths, which no local server
//! reproduces, with mocked SDK responses. Everything else is tested against
//! moto in `writer/tests/aws/`.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::upload_part::UploadPartOutput;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};

use super::*;

const CONFLICT_409: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>ConditionalRequestConflict</Code>\
    <Message>A conflicting operation occurred. Please retry.</Message></Error>";

fn destination(rules: &[&Rule], options: S3Options) -> S3Destination {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    S3Destination::from_client(Client::from_conf(config), "bucket", "p/", options)
}

fn fast() -> S3Options {
    S3Options {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        ..S3Options::default()
    }
}

#[tokio::test]
async fn a_409_on_the_manifest_swap_is_retried_and_then_succeeds() {
    let put = mock!(Client::put_object)
        .match_requests(|r| r.key() == Some("p/t/manifest.json") && r.if_match() == Some("\"v1\""))
        .sequence()
        .http_status(409, Some(CONFLICT_409.to_owned()))
        .output(|| PutObjectOutput::builder().e_tag("\"v2\"").build())
        .build();
    let dest = destination(&[&put], fast());
    let revision = dest
        .put_if(
            "t/manifest.json",
            Bytes::from_static(b"{}"),
            Some(&Revision("\"v1\"".into())),
        )
        .await
        .unwrap();
    assert_eq!(revision, Revision("\"v2\"".into()));
    assert_eq!(put.num_calls(), 2, "one 409, one retry");
}

#[tokio::test]
async fn a_409_that_persists_is_a_transient_failure_not_a_conflict() {
    let put = mock!(Client::put_object)
        .sequence()
        .http_status(409, Some(CONFLICT_409.to_owned()))
        .repeatedly()
        .build();
    let dest = destination(
        &[&put],
        S3Options {
            conflict_retries: 3,
            ..fast()
        },
    );
    let err = dest
        .put_if("t/manifest.json", Bytes::from_static(b"{}"), None)
        .await
        .unwrap_err();
    assert_eq!(put.num_calls(), 4, "the first attempt and 3 retries");
    match err {
        DestError::Failed {
            transient, ref key, ..
        } => {
            assert!(transient);
            assert_eq!(key, "t/manifest.json");
            let message = crate::telemetry::with_causes(&err).to_string();
            assert!(message.contains("ConditionalRequestConflict"), "{message}");
        }
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_409_on_complete_multipart_upload_reinitiates_the_whole_upload() {
    let create = mock!(Client::create_multipart_upload).then_output(|| {
        CreateMultipartUploadOutput::builder()
            .upload_id("u")
            .build()
    });
    let part = mock!(Client::upload_part)
        .then_output(|| UploadPartOutput::builder().e_tag("\"part\"").build());
    let complete = mock!(Client::complete_multipart_upload)
        .match_requests(|r| r.if_none_match() == Some("*"))
        .sequence()
        .http_status(409, Some(CONFLICT_409.to_owned()))
        .output(|| {
            CompleteMultipartUploadOutput::builder()
                .e_tag("\"whole-2\"")
                .build()
        })
        .build();
    let head = mock!(Client::head_object)
        .sequence()
        .http_status(404, None)
        .build();
    let abort = mock!(Client::abort_multipart_upload)
        .then_output(|| AbortMultipartUploadOutput::builder().build());
    let dest = destination(
        &[&head, &create, &part, &complete, &abort],
        S3Options {
            multipart_threshold: 4,
            ..fast()
        },
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"more than four bytes").unwrap();
    dest.put_file(
        "t/epoch=1/snapshot-0.jsonl",
        file.path(),
        PutMode::CreateNew,
    )
    .await
    .unwrap();
    assert_eq!(create.num_calls(), 2, "the upload was initiated again");
    assert_eq!(part.num_calls(), 2, "and its part uploaded again");
    assert_eq!(complete.num_calls(), 2);
    // The first upload is aborted in the background.
    for _ in 0..100 {
        if abort.num_calls() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the conflicting upload was not aborted");
}
