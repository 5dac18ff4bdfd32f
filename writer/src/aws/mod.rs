//! AWS credentials: the named profiles of the `credentials:` config section
//! resolved to SDK configurations for the S3 destination and the event sinks.
//!
//! - `ambient` is the SDK default chain: environment variables, the shared
//!   config files, web identity (IRSA: `AWS_WEB_IDENTITY_TOKEN_FILE` +
//!   `AWS_ROLE_ARN`), container and instance roles.
//! - `assume_role` is STS AssumeRole (`role_arn`, `external_id`,
//!   `session_name`, `region`) signed with the ambient identity.
//!
//! A component without a profile uses the ambient chain. Region precedence:
//! the component's `region`, then the profile's, then the SDK chain's
//! (`AWS_REGION`, the config file, instance metadata). Configurations are
//! cached per (profile, region); every client built from one resolver shares
//! one identity cache, so an assumed role is fetched once per profile and
//! refreshed [`CREDENTIALS_REFRESH_MARGIN`] before it expires.
//!
//! Every client uses one HTTP client, rustls with ring ([`https_client`]).

mod http;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;
use tokio::sync::{Mutex, OnceCell};

use crate::config::CredentialProfile;

pub use http::https_client;

/// Session name sent to STS when an `assume_role` profile names none.
pub const DEFAULT_SESSION_NAME: &str = "snapshot-writer";

/// How long before expiry cached credentials are refreshed. Generous enough
/// that an upload signed just before the refresh still completes with valid
/// credentials.
pub const CREDENTIALS_REFRESH_MARGIN: Duration = Duration::from_secs(120);

/// Why a profile or client configuration could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A component names a profile the `credentials:` section does not define.
    #[error("{component}: unknown credential profile {name:?} (defined: {known})")]
    UnknownProfile {
        /// The destination or sink naming it.
        component: String,
        /// The profile name.
        name: String,
        /// The defined names, comma-separated, or `none`.
        known: String,
    },
    /// No region anywhere in the precedence chain.
    #[error(
        "{component}: no AWS region: set `region` on it or on its credential profile, or AWS_REGION"
    )]
    NoRegion {
        /// The destination or sink.
        component: String,
    },
    /// An endpoint override that is not an `http(s)://host[:port]` URL.
    #[error("{component}: invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The destination or sink.
        component: String,
        /// The configured value.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Resolves profile names to SDK configurations; one per process, shared by
/// every destination and sink so credentials are fetched once per profile.
pub struct CredentialResolver {
    profiles: BTreeMap<String, CredentialProfile>,
    ambient: AmbientOverrides,
    http_client: SharedHttpClient,
    identity_cache: SharedIdentityCache,
    base: OnceCell<SdkConfig>,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for CredentialResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialResolver")
            .field("profiles", &self.profiles)
            .finish_non_exhaustive()
    }
}

/// What replaces parts of the SDK default chain for the ambient identity
/// (tests, embedding); unset parts come from the chain.
#[derive(Default)]
struct AmbientOverrides {
    credentials: Option<SharedCredentialsProvider>,
    region: Option<Region>,
    endpoint_url: Option<String>,
    profile_name: Option<String>,
}

#[derive(Default)]
struct Cache {
    /// `assume_role` providers by profile name.
    providers: HashMap<String, SharedCredentialsProvider>,
    /// Configurations by (profile, effective region).
    configs: HashMap<(Option<String>, String), SdkConfig>,
}

impl CredentialResolver {
    /// A resolver whose ambient identity is the SDK default chain.
    pub fn new(profiles: BTreeMap<String, CredentialProfile>) -> Self {
        Self::builder(profiles).build()
    }

    /// A builder, to replace parts of the ambient identity or the HTTP client.
    pub fn builder(profiles: BTreeMap<String, CredentialProfile>) -> CredentialResolverBuilder {
        CredentialResolverBuilder {
            profiles,
            ambient: AmbientOverrides::default(),
            http_client: None,
        }
    }

    /// Fails with [`AwsError::UnknownProfile`] unless `name` is `None` (the
    /// ambient chain) or a defined profile; call it at start-up for every
    /// component so a typo fails before the first write.
    pub fn check_profile(&self, component: &str, name: Option<&str>) -> Result<(), AwsError> {
        match name {
            Some(name) if !self.profiles.contains_key(name) => Err(AwsError::UnknownProfile {
                component: component.to_owned(),
                name: name.to_owned(),
                known: if self.profiles.is_empty() {
                    "none".to_owned()
                } else {
                    self.profiles
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }),
            _ => Ok(()),
        }
    }

    /// The SDK configuration for `component` (used in error messages) using
    /// credential `profile` (`None`: the ambient chain), with the component's
    /// own `region` taking precedence over the profile's.
    pub async fn sdk_config(
        &self,
        component: &str,
        profile: Option<&str>,
        region: Option<&str>,
    ) -> Result<SdkConfig, AwsError> {
        self.check_profile(component, profile)?;
        let definition = profile.and_then(|name| self.profiles.get(name));
        let base = self.base().await;
        let region = region
            .map(str::to_owned)
            .or_else(|| definition.and_then(profile_region).map(str::to_owned))
            .or_else(|| base.region().map(|r| r.as_ref().to_owned()))
            .ok_or_else(|| AwsError::NoRegion {
                component: component.to_owned(),
            })?;

        let mut cache = self.cache.lock().await;
        let key = (profile.map(str::to_owned), region.clone());
        if let Some(config) = cache.configs.get(&key) {
            return Ok(config.clone());
        }
        let mut builder = base.to_builder().region(Region::new(region));
        if let (
            Some(name),
            Some(CredentialProfile::AssumeRole {
                role_arn,
                external_id,
                session_name,
                region,
            }),
        ) = (profile, definition)
        {
            let provider = match cache.providers.get(name) {
                Some(provider) => provider.clone(),
                None => {
                    let provider = assume_role_provider(
                        base,
                        role_arn,
                        external_id.as_deref(),
                        session_name.as_deref(),
                        region.as_deref(),
                    )
                    .await;
                    cache.providers.insert(name.to_owned(), provider.clone());
                    provider
                }
            };
            builder = builder.credentials_provider(provider);
        }
        let config = builder.build();
        cache.configs.insert(key, config.clone());
        Ok(config)
    }

    /// The ambient configuration, loaded once. Loading resolves the region
    /// (which may ask instance metadata); credentials resolve lazily on the
    /// first request.
    async fn base(&self) -> &SdkConfig {
        self.base
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .http_client(self.http_client.clone())
                    .identity_cache(self.identity_cache.clone());
                if let Some(credentials) = &self.ambient.credentials {
                    loader = loader.credentials_provider(credentials.clone());
                }
                if let Some(region) = &self.ambient.region {
                    loader = loader.region(region.clone());
                }
                if let Some(endpoint) = &self.ambient.endpoint_url {
                    loader = loader.endpoint_url(endpoint.clone());
                }
                if let Some(name) = &self.ambient.profile_name {
                    loader = loader.profile_name(name.clone());
                }
                loader.load().await
            })
            .await
    }
}

fn profile_region(profile: &CredentialProfile) -> Option<&str> {
    match profile {
        CredentialProfile::Ambient { region } | CredentialProfile::AssumeRole { region, .. } => {
            region.as_deref()
        }
    }
}

/// An AssumeRole provider over the ambient identity. STS is called in the
/// profile's region (else the ambient one), whatever region the component
/// using the credentials is in.
async fn assume_role_provider(
    base: &SdkConfig,
    role_arn: &str,
    external_id: Option<&str>,
    session_name: Option<&str>,
    sts_region: Option<&str>,
) -> SharedCredentialsProvider {
    let mut builder = AssumeRoleProvider::builder(role_arn)
        .session_name(session_name.unwrap_or(DEFAULT_SESSION_NAME))
        .configure(base);
    if let Some(id) = external_id {
        builder = builder.external_id(id);
    }
    if let Some(region) = sts_region {
        builder = builder.region(Region::new(region.to_owned()));
    }
    SharedCredentialsProvider::new(builder.build().await)
}

/// Builds a [`CredentialResolver`] with parts of the ambient identity replaced.
pub struct CredentialResolverBuilder {
    profiles: BTreeMap<String, CredentialProfile>,
    ambient: AmbientOverrides,
    http_client: Option<SharedHttpClient>,
}

impl CredentialResolverBuilder {
    /// Fixed ambient credentials instead of the default chain (tests, tools).
    pub fn ambient_credentials(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.ambient.credentials = Some(SharedCredentialsProvider::new(provider));
        self
    }

    /// The ambient region instead of the default region chain.
    pub fn ambient_region(mut self, region: impl Into<String>) -> Self {
        self.ambient.region = Some(Region::new(region.into()));
        self
    }

    /// An endpoint for every service (STS included), as `AWS_ENDPOINT_URL`
    /// does for the default chain; a component's own `endpoint` still wins.
    pub fn endpoint_url(mut self, endpoint: impl Into<String>) -> Self {
        self.ambient.endpoint_url = Some(endpoint.into());
        self
    }

    /// A named profile of the AWS shared config files (`~/.aws/config`,
    /// `~/.aws/credentials`) for the ambient identity and region, as
    /// `AWS_PROFILE` names one for the default chain.
    pub fn ambient_profile(mut self, name: impl Into<String>) -> Self {
        self.ambient.profile_name = Some(name.into());
        self
    }

    /// The HTTP client every SDK client uses (default: [`https_client`]).
    pub fn http_client(mut self, client: SharedHttpClient) -> Self {
        self.http_client = Some(client);
        self
    }

    /// The resolver.
    pub fn build(self) -> CredentialResolver {
        CredentialResolver {
            profiles: self.profiles,
            ambient: self.ambient,
            http_client: self.http_client.unwrap_or_else(https_client),
            identity_cache: IdentityCache::lazy()
                .buffer_time(CREDENTIALS_REFRESH_MARGIN)
                .build(),
            base: OnceCell::new(),
            cache: Mutex::new(Cache::default()),
        }
    }
}

/// The pause before retry `attempt` (1 for the first retry): `initial`
/// doubled per attempt, capped at `max`, then jittered into `[d/2, d]` so
/// clients that failed together do not retry in step.
pub fn jittered_backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let capped = initial
        .saturating_mul(1 << attempt.saturating_sub(1).min(20))
        .min(max);
    let half = capped / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// Checks a component's endpoint override: an absolute `http` or `https` URL
/// with a host, as the SDK needs it (it fails later, and less clearly).
pub fn check_endpoint(component: &str, endpoint: &str) -> Result<(), AwsError> {
    let invalid = |reason| AwsError::InvalidEndpoint {
        component: component.to_owned(),
        endpoint: endpoint.to_owned(),
        reason,
    };
    let uri: ::http::Uri = endpoint
        .parse()
        .map_err(|_| invalid("not a URL (expected http://host:port or https://host)"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(invalid("the scheme must be http or https")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
