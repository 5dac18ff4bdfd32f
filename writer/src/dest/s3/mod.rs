//! The `s3` destination: an S3 bucket or S3-compatible store, through
//! aws-sdk-s3.
//!
//! - Keys get the destination prefix prepended verbatim; [`uri`] is
//!   `s3://bucket/<prefix><key>`.
//! - Artifacts are streamed from their spool file: one PutObject up to
//!   [`S3Options::multipart_threshold`], a multipart upload above it (parts
//!   read from the file by offset, never the whole file in memory; aborted on
//!   failure or cancellation).
//! - [`PutMode::CreateNew`] and the manifest compare-and-swap are S3
//!   conditional writes: `If-None-Match: *` to create, `If-Match: <etag>` to
//!   replace (the revision is the ETag verbatim). 412 (or 404 for `If-Match`
//!   on a deleted object) is [`DestError::Conflict`]; 409
//!   `ConditionalRequestConflict` is retried, as AWS documents (a multipart
//!   upload is re-initiated).
//! - A conditional write that loses to *its own* earlier attempt (the SDK
//!   retried after a response was lost) is not a conflict: on 412 the stored
//!   object is read back, and if it holds exactly the bytes written the write
//!   succeeded.
//! - Transient failures (connection, timeout, 5xx, throttling) are retried by
//!   the SDK with capped exponential backoff, then reported as
//!   `Failed { transient: true }`; permanent ones (AccessDenied, NoSuchBucket)
//!   are not retried. Messages carry the S3 error code and HTTP status.
//!
//! [`uri`]: Destination::uri

mod bounded;
mod error;
mod location;
mod multipart;
mod options;

use std::future::Future;
use std::path::Path;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, BufReader};

use super::{DestError, Destination, PutMode, Revision, Versioned};
use crate::aws::{AwsError, CredentialResolver, check_endpoint, jittered_backoff};
pub use error::S3Error;
use error::S3Failure;

pub use location::{S3Location, S3UriError};
use options::timeouts;
pub use options::{ChecksumPolicy, S3Options};

/// An S3 bucket and prefix as a [`Destination`].
pub struct S3Destination {
    client: Client,
    bucket: String,
    prefix: String,
    name: String,
    options: S3Options,
    checksums: ChecksumPolicy,
}

impl std::fmt::Debug for S3Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Destination")
            .field("name", &self.name)
            .field("checksums", &self.checksums)
            .finish_non_exhaustive()
    }
}

impl S3Destination {
    /// Connects to `location` with default options; credentials and region
    /// come from `resolver` (the location's profile, else the SDK chain).
    pub async fn connect(
        location: &S3Location,
        resolver: &CredentialResolver,
    ) -> Result<Self, AwsError> {
        Self::connect_with(location, resolver, S3Options::default()).await
    }

    /// [`connect`](Self::connect) with explicit options.
    pub async fn connect_with(
        location: &S3Location,
        resolver: &CredentialResolver,
        options: S3Options,
    ) -> Result<Self, AwsError> {
        let name = location.name();
        if let Some(endpoint) = &location.endpoint {
            check_endpoint(&name, endpoint)?;
        }
        let sdk = resolver
            .sdk_config(
                &name,
                location.credentials.as_deref(),
                location.region.as_deref(),
            )
            .await?;
        let checksums = options.checksums.unwrap_or(if location.endpoint.is_some() {
            ChecksumPolicy::WhenRequired
        } else {
            ChecksumPolicy::WhenSupported
        });
        let (request, response) = match checksums {
            ChecksumPolicy::WhenSupported => (
                RequestChecksumCalculation::WhenSupported,
                ResponseChecksumValidation::WhenSupported,
            ),
            ChecksumPolicy::WhenRequired => (
                RequestChecksumCalculation::WhenRequired,
                ResponseChecksumValidation::WhenRequired,
            ),
        };
        let mut config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(location.path_style)
            .request_checksum_calculation(request)
            .response_checksum_validation(response)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(options.max_attempts.max(1))
                    .with_initial_backoff(options.initial_backoff)
                    .with_max_backoff(options.max_backoff),
            )
            .timeout_config(timeouts(&options, options.request_timeout));
        if let Some(endpoint) = &location.endpoint {
            config = config.endpoint_url(endpoint);
        }
        let client = Client::from_conf(config.build());
        let mut destination =
            Self::from_client(client, &location.bucket, &location.prefix, options);
        destination.checksums = checksums;
        Ok(destination)
    }

    /// A destination over a ready client (tests with mocked responses,
    /// embedding). Checksums are assumed to follow
    /// [`ChecksumPolicy::WhenRequired`] unless `options` says otherwise.
    pub fn from_client(client: Client, bucket: &str, prefix: &str, options: S3Options) -> Self {
        Self {
            client,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            name: format!("s3://{bucket}/{prefix}"),
            checksums: options.checksums.unwrap_or(ChecksumPolicy::WhenRequired),
            options,
        }
    }

    fn object_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// `GetObject` of `key`; `None` when it does not exist. Shared by the
    /// plain and the size-bounded read.
    pub(super) async fn get_object(
        &self,
        key: &str,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, DestError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
        {
            Ok(out) => Ok(Some(out)),
            Err(err) => match S3Failure::from_sdk(err) {
                S3Failure::NotFound => Ok(None),
                failure => Err(self.failed("get", key, failure)),
            },
        }
    }

    fn failed(&self, operation: &'static str, key: &str, failure: S3Failure) -> DestError {
        let (error, transient) = match failure {
            S3Failure::Other { error, transient } => (error, transient),
            S3Failure::ConcurrentConflict => (
                S3Error::ConflictPersisted {
                    retries: self.options.conflict_retries,
                },
                true,
            ),
            S3Failure::PreconditionFailed => (S3Error::PreconditionFailed, false),
            S3Failure::NotFound => (S3Error::NotFound, false),
        };
        DestError::Failed {
            dest: self.name.clone(),
            operation,
            key: key.to_owned(),
            source: Box::new(error),
            transient,
        }
    }

    fn conflict(&self, key: &str) -> DestError {
        DestError::Conflict {
            dest: self.name.clone(),
            key: key.to_owned(),
        }
    }

    fn revision(
        &self,
        operation: &'static str,
        key: &str,
        etag: Option<String>,
    ) -> Result<Revision, DestError> {
        etag.map(Revision)
            .ok_or_else(|| self.failed(operation, key, S3Failure::incomplete("the answer", "ETag")))
    }

    /// Runs `attempt` again while it fails with 409 `ConditionalRequestConflict`,
    /// after a jittered exponential pause, up to `conflict_retries` times.
    async fn retrying_conflicts<T, F, Fut>(&self, mut attempt: F) -> Result<T, S3Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, S3Failure>>,
    {
        let mut retries = 0;
        loop {
            match attempt().await {
                Err(S3Failure::ConcurrentConflict) if retries < self.options.conflict_retries => {
                    retries += 1;
                    tracing::debug!(dest = %self.name, retries, "409 ConditionalRequestConflict, retrying");
                    tokio::time::sleep(jittered_backoff(
                        self.options.initial_backoff,
                        self.options.max_backoff,
                        retries,
                    ))
                    .await;
                }
                other => return other,
            }
        }
    }

    /// One PutObject streamed from the file.
    async fn put_whole_file(
        &self,
        object: &str,
        source: &Path,
        len: u64,
        create_new: bool,
    ) -> Result<(), S3Failure> {
        self.retrying_conflicts(|| async {
            let body = ByteStream::from_path(source).await.map_err(|e| {
                S3Failure::transfer(format!("reading {}", source.display()), e, false)
            })?;
            let mut request = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(object)
                .content_length(i64::try_from(len).unwrap_or(i64::MAX))
                .body(body);
            if create_new {
                request = request.if_none_match("*");
            }
            request
                .customize()
                .config_override(self.upload_override())
                .send()
                .await
                .map(drop)
                .map_err(S3Failure::from_sdk)
        })
        .await
    }

    /// Client settings for requests carrying a large body.
    fn upload_override(&self) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::new()
            .timeout_config(timeouts(&self.options, self.options.upload_timeout))
    }

    /// Whether the object under `key` holds exactly the bytes of `source`,
    /// compared as both stream (a create-only write found its own bytes).
    async fn stored_file_equals(&self, key: &str, source: &Path, len: u64) -> bool {
        let Ok(out) = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
        else {
            return false;
        };
        if out.content_length.and_then(|l| u64::try_from(l).ok()) != Some(len) {
            return false;
        }
        let Ok(file) = tokio::fs::File::open(source).await else {
            return false;
        };
        let mut file = BufReader::new(file);
        let mut body = out.body;
        let mut expected = Vec::new();
        loop {
            match body.try_next().await {
                Ok(Some(chunk)) => {
                    expected.resize(chunk.len(), 0);
                    if file.read_exact(&mut expected).await.is_err() || expected != chunk {
                        return false;
                    }
                }
                Ok(None) => break,
                Err(_) => return false,
            }
        }
        matches!(file.read(&mut [0u8; 1]).await, Ok(0))
    }
}

#[async_trait]
impl Destination for S3Destination {
    fn name(&self) -> &str {
        &self.name
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.object_key(key))
    }

    async fn put_file(&self, key: &str, source: &Path, mode: PutMode) -> Result<(), DestError> {
        let len = tokio::fs::metadata(source)
            .await
            .map_err(|e| {
                self.failed(
                    "put",
                    key,
                    S3Failure::transfer(format!("reading {}", source.display()), e, false),
                )
            })?
            .len();
        let object = self.object_key(key);
        let create_new = mode == PutMode::CreateNew;
        let result = if len > self.options.multipart_threshold {
            // Uploading gigabytes only to lose the final conditional
            // CompleteMultipartUpload is worth one HEAD to avoid.
            if create_new && self.size(key).await?.is_some() {
                Err(S3Failure::PreconditionFailed)
            } else {
                multipart::upload(self, &object, source, len, create_new).await
            }
        } else {
            self.put_whole_file(&object, source, len, create_new).await
        };
        match result {
            Ok(()) => Ok(()),
            Err(S3Failure::PreconditionFailed) if create_new => {
                if self.stored_file_equals(key, source, len).await {
                    Ok(())
                } else {
                    Err(self.conflict(key))
                }
            }
            Err(failure) => Err(self.failed("put", key, failure)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Versioned>, DestError> {
        let Some(out) = self.get_object(key).await? else {
            return Ok(None);
        };
        let revision = self.revision("get", key, out.e_tag)?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| self.failed("get", key, S3Failure::transfer("reading the body", e, true)))?
            .into_bytes();
        Ok(Some(Versioned { body, revision }))
    }

    async fn read_bounded(&self, key: &str, limit: u64) -> Result<Option<Bytes>, DestError> {
        self.get_bounded(key, limit).await
    }

    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        expected: Option<&Revision>,
    ) -> Result<Revision, DestError> {
        let object = self.object_key(key);
        let result = self
            .retrying_conflicts(|| async {
                let request = self
                    .client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&object)
                    .body(ByteStream::from(body.clone()));
                let request = match expected {
                    None => request.if_none_match("*"),
                    Some(revision) => request.if_match(&revision.0),
                };
                request.send().await.map_err(S3Failure::from_sdk)
            })
            .await;
        match result {
            Ok(out) => self.revision("put", key, out.e_tag),
            // 404: `If-Match` on an object deleted since it was read.
            Err(S3Failure::PreconditionFailed | S3Failure::NotFound) => match self.get(key).await {
                Ok(Some(stored)) if stored.body == body => Ok(stored.revision),
                _ => Err(self.conflict(key)),
            },
            Err(failure) => Err(self.failed("put", key, failure)),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, DestError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.content_length
                    .and_then(|l| u64::try_from(l).ok())
                    .unwrap_or(0),
            )),
            Err(err) => match S3Failure::from_sdk(err) {
                S3Failure::NotFound => Ok(None),
                failure => Err(self.failed("head", key, failure)),
            },
        }
    }

    async fn delete(&self, key: &str) -> Result<(), DestError> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => match S3Failure::from_sdk(err) {
                S3Failure::NotFound => Ok(()),
                failure => Err(self.failed("delete", key, failure)),
            },
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, DestError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.object_key(prefix))
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed("list", prefix, S3Failure::from_sdk(e)))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key()?.strip_prefix(&self.prefix))
                    .map(str::to_owned),
            );
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests;
