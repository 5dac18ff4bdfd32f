//! Credential profiles: an `assume_role` profile with an external id signs an
//! event sink's requests while the S3 destination uses the ambient identity.
//! moto accepts any ExternalId, so the proof is what the client sent,
//! recorded on the way out.

use std::collections::BTreeMap;

use bytes::Bytes;
use snapshot_writer::aws::https_client;
use snapshot_writer::config::{CredentialProfile, EventSinkConfig};
use snapshot_writer::dest::Destination;
use snapshot_writer::dest::s3::S3Destination;
use snapshot_writer::events::{Event, connect_sink};

use crate::events::{create_queue, event, receive};
use crate::support::moto::{ACCESS_KEY, Moto};
use crate::support::recording::{Recorded, RecordingClient};

const ROLE: &str = "arn:aws:iam::123456789012:role/partner-events";

fn profiles() -> BTreeMap<String, CredentialProfile> {
    BTreeMap::from([
        (
            "partner".to_owned(),
            CredentialProfile::AssumeRole {
                role_arn: ROLE.to_owned(),
                external_id: Some("ext-7731".to_owned()),
                session_name: Some("events-publisher".to_owned()),
                region: None,
            },
        ),
        (
            "defaults".to_owned(),
            CredentialProfile::AssumeRole {
                role_arn: "arn:aws:iam::123456789012:role/other".to_owned(),
                external_id: None,
                session_name: None,
                region: None,
            },
        ),
    ])
}

fn sqs_sink(queue_url: &str, moto: &Moto, profile: &str) -> EventSinkConfig {
    EventSinkConfig::Sqs {
        queue_url: queue_url.to_owned(),
        message_group_id: None,
        region: None,
        endpoint: Some(moto.endpoint()),
        credentials: Some(profile.to_owned()),
    }
}

fn assume_role_calls(requests: &[Recorded]) -> Vec<&Recorded> {
    requests
        .iter()
        .filter(|r| r.form_field("Action").as_deref() == Some("AssumeRole"))
        .collect()
}

#[tokio::test]
async fn an_assumed_role_with_external_id_signs_the_sink_while_the_destination_stays_ambient() {
    let moto = Moto::start().await;
    moto.create_bucket("archive").await;
    let queue_url = create_queue(&moto, "events").await;
    let recorder = RecordingClient::new(https_client());
    let resolver = moto
        .resolver_builder(profiles())
        .http_client(recorder.shared())
        .build();

    let dest = S3Destination::connect(&moto.location("archive", "p/"), &resolver)
        .await
        .unwrap();
    dest.put_if("t/manifest.json", Bytes::from_static(b"{}"), None)
        .await
        .unwrap();
    let sink = connect_sink(&sqs_sink(&queue_url, &moto, "partner"), &resolver)
        .await
        .unwrap();
    let second = connect_sink(&sqs_sink(&queue_url, &moto, "partner"), &resolver)
        .await
        .unwrap();
    for (n, sink) in [&sink, &second].into_iter().enumerate() {
        let event: Event = event(n as u32 + 1);
        sink.send(&event, &event.to_json()).await.unwrap();
    }
    assert_eq!(receive(&moto, &queue_url, 2).await.len(), 2);

    let requests = recorder.requests();
    let calls = assume_role_calls(&requests);
    assert_eq!(
        calls.len(),
        1,
        "one AssumeRole, cached for both sinks: {calls:#?}"
    );
    let call = calls[0];
    assert_eq!(call.form_field("RoleArn").as_deref(), Some(ROLE));
    assert_eq!(call.form_field("ExternalId").as_deref(), Some("ext-7731"));
    assert_eq!(
        call.form_field("RoleSessionName").as_deref(),
        Some("events-publisher")
    );
    assert_eq!(
        call.access_key(),
        Some(ACCESS_KEY),
        "STS is called with the ambient identity"
    );

    let s3: Vec<_> = requests
        .iter()
        .filter(|r| r.uri.contains("/archive/"))
        .collect();
    assert!(!s3.is_empty());
    for request in s3 {
        assert_eq!(
            request.access_key(),
            Some(ACCESS_KEY),
            "S3 uses ambient credentials"
        );
    }
    let sent: Vec<_> = requests
        .iter()
        .filter(|r| {
            r.header("x-amz-target")
                .is_some_and(|t| t.ends_with("SendMessage"))
        })
        .collect();
    assert_eq!(sent.len(), 2);
    for request in sent {
        let key = request.access_key().unwrap_or_default();
        assert!(
            key != ACCESS_KEY && key.starts_with("ASIA"),
            "SQS is signed with the assumed role's temporary key, got {key}"
        );
    }
}

#[tokio::test]
async fn a_profile_without_session_name_sends_the_default_one_and_no_external_id() {
    let moto = Moto::start().await;
    let queue_url = create_queue(&moto, "q").await;
    let recorder = RecordingClient::new(https_client());
    let resolver = moto
        .resolver_builder(profiles())
        .http_client(recorder.shared())
        .build();
    let sink = connect_sink(&sqs_sink(&queue_url, &moto, "defaults"), &resolver)
        .await
        .unwrap();
    let event = event(1);
    sink.send(&event, &event.to_json()).await.unwrap();

    let requests = recorder.requests();
    let calls = assume_role_calls(&requests);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].form_field("RoleSessionName").as_deref(),
        Some("snapshot-writer")
    );
    assert_eq!(calls[0].form_field("ExternalId"), None);
}

#[tokio::test]
async fn an_unknown_profile_fails_cleanly_before_any_request() {
    let moto = Moto::start().await;
    let recorder = RecordingClient::new(https_client());
    let resolver = moto
        .resolver_builder(profiles())
        .http_client(recorder.shared())
        .build();
    let err = connect_sink(
        &sqs_sink("http://127.0.0.1:1/1/q", &moto, "prod"),
        &resolver,
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "sqs:q: unknown credential profile \"prod\" (defined: defaults, partner)"
    );
    assert!(recorder.requests().is_empty());
}
