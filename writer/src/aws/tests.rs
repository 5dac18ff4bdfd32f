use std::collections::BTreeMap;

use aws_credential_types::Credentials;

use super::*;

fn profiles() -> BTreeMap<String, CredentialProfile> {
    BTreeMap::from([
        (
            "eu".to_owned(),
            CredentialProfile::Ambient {
                region: Some("eu-west-1".to_owned()),
            },
        ),
        (
            "partner".to_owned(),
            CredentialProfile::AssumeRole {
                role_arn: "arn:aws:iam::123456789012:role/partner".to_owned(),
                external_id: Some("ext".to_owned()),
                session_name: None,
                region: Some("us-west-2".to_owned()),
            },
        ),
    ])
}

fn resolver() -> CredentialResolver {
    CredentialResolver::builder(profiles())
        .ambient_credentials(Credentials::new("AKID", "SECRET", None, None, "test"))
        .ambient_region("us-east-1")
        .build()
}

#[tokio::test]
async fn an_unknown_profile_is_rejected_naming_the_component_and_the_defined_ones() {
    let err = resolver()
        .sdk_config("s3://bucket/prefix/", Some("prod"), None)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "s3://bucket/prefix/: unknown credential profile \"prod\" (defined: eu, partner)"
    );
}

#[tokio::test]
async fn the_component_region_beats_the_profile_region_which_beats_the_ambient_one() {
    let resolver = resolver();
    let region = |config: SdkConfig| config.region().map(|r| r.to_string());
    let c = resolver
        .sdk_config("c", Some("eu"), Some("ap-south-1"))
        .await
        .unwrap();
    assert_eq!(region(c).as_deref(), Some("ap-south-1"));
    let c = resolver.sdk_config("c", Some("eu"), None).await.unwrap();
    assert_eq!(region(c).as_deref(), Some("eu-west-1"));
    let c = resolver.sdk_config("c", None, None).await.unwrap();
    assert_eq!(region(c).as_deref(), Some("us-east-1"));
    let c = resolver
        .sdk_config("c", Some("partner"), None)
        .await
        .unwrap();
    assert_eq!(region(c).as_deref(), Some("us-west-2"));
}

#[tokio::test]
async fn an_assumed_role_provider_is_built_once_per_profile_whatever_the_region() {
    let resolver = resolver();
    let a = resolver
        .sdk_config("a", Some("partner"), Some("eu-west-1"))
        .await
        .unwrap();
    let b = resolver
        .sdk_config("b", Some("partner"), Some("us-east-2"))
        .await
        .unwrap();
    let ambient = resolver.sdk_config("c", None, None).await.unwrap();
    let partition = |c: &SdkConfig| {
        use aws_smithy_runtime_api::client::identity::ResolveIdentity;
        c.credentials_provider().unwrap().cache_partition()
    };
    assert_eq!(partition(&a), partition(&b));
    assert_ne!(partition(&a), partition(&ambient));
}

#[test]
fn endpoints_must_be_http_urls_with_a_host() {
    assert!(check_endpoint("d", "http://127.0.0.1:9000").is_ok());
    assert!(check_endpoint("d", "https://s3.example.com").is_ok());
    for (bad, reason) in [
        ("127.0.0.1:9000", "scheme"),
        ("ftp://host", "scheme"),
        ("http://", "URL"),
        ("not a url", "URL"),
    ] {
        let err = check_endpoint("d", bad).unwrap_err().to_string();
        assert!(err.contains(reason) && err.contains(bad), "{bad}: {err}");
    }
}
