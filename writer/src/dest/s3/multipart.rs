//! Multipart upload of a large file: parts are streamed from the file by
//! offset (a few in flight), and the upload is aborted if anything fails or
//! the caller gives up, so no incomplete upload is left behind when S3 is
//! reachable. (If S3 is unreachable the abort fails too; a bucket lifecycle
//! rule `AbortIncompleteMultipartUpload` reclaims those.)
//!
//! A create-only upload sends `If-None-Match: *` on CompleteMultipartUpload
//! (AWS, and moto, support it); a store that ignores the header on
//! CompleteMultipartUpload still gets the HEAD check the caller made before
//! uploading, which narrows the race to the upload's duration. A 409
//! `ConditionalRequestConflict` re-initiates the whole upload, as AWS
//! documents for CompleteMultipartUpload.

use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use futures::{StreamExt, TryStreamExt};

use super::error::S3Failure;
use super::{ChecksumPolicy, S3Destination};

/// S3's smallest part (except the last).
const MIN_PART_SIZE: u64 = 5 << 20;
/// S3's largest part count.
const MAX_PARTS: u64 = 10_000;

/// Uploads `source` (`len` bytes) to `object` in parts.
pub(super) async fn upload(
    dest: &S3Destination,
    object: &str,
    source: &Path,
    len: u64,
    create_new: bool,
) -> Result<(), S3Failure> {
    let part_size = dest
        .options
        .part_size
        .max(len.div_ceil(MAX_PARTS))
        .max(MIN_PART_SIZE);
    dest.retrying_conflicts(|| upload_once(dest, object, source, len, part_size, create_new))
        .await
}

async fn upload_once(
    dest: &S3Destination,
    object: &str,
    source: &Path,
    len: u64,
    part_size: u64,
    create_new: bool,
) -> Result<(), S3Failure> {
    let checksum =
        (dest.checksums == ChecksumPolicy::WhenSupported).then_some(ChecksumAlgorithm::Crc32);
    let created = dest
        .client
        .create_multipart_upload()
        .bucket(&dest.bucket)
        .key(object)
        .set_checksum_algorithm(checksum.clone())
        .send()
        .await
        .map_err(S3Failure::from_sdk)?;
    let upload_id = created
        .upload_id
        .ok_or_else(|| S3Failure::incomplete("CreateMultipartUpload", "upload id"))?;
    let guard = AbortOnDrop {
        client: dest.client.clone(),
        bucket: dest.bucket.clone(),
        key: object.to_owned(),
        upload_id: Some(upload_id.clone()),
    };

    let parts = len.div_ceil(part_size);
    let mut completed: Vec<CompletedPart> = futures::stream::iter(0..parts)
        .map(|index| {
            let offset = index * part_size;
            let size = part_size.min(len - offset);
            let number = i32::try_from(index + 1).unwrap_or(i32::MAX);
            let checksum = checksum.clone();
            let upload_id = &upload_id;
            async move {
                let body = ByteStream::read_from()
                    .path(source)
                    .offset(offset)
                    .length(Length::Exact(size))
                    .build()
                    .await
                    .map_err(|e| {
                        S3Failure::transfer(format!("reading {}", source.display()), e, false)
                    })?;
                let out = dest
                    .client
                    .upload_part()
                    .bucket(&dest.bucket)
                    .key(object)
                    .upload_id(upload_id)
                    .part_number(number)
                    .content_length(i64::try_from(size).unwrap_or(i64::MAX))
                    .set_checksum_algorithm(checksum)
                    .body(body)
                    .customize()
                    .config_override(dest.upload_override())
                    .send()
                    .await
                    .map_err(S3Failure::from_sdk)?;
                Ok::<_, S3Failure>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag)
                        .set_checksum_crc32(out.checksum_crc32)
                        .build(),
                )
            }
        })
        .buffer_unordered(dest.options.upload_concurrency.max(1))
        .try_collect()
        .await?;
    completed.sort_by_key(|part| part.part_number);

    let mut complete = dest
        .client
        .complete_multipart_upload()
        .bucket(&dest.bucket)
        .key(object)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        );
    if create_new {
        complete = complete.if_none_match("*");
    }
    complete.send().await.map_err(S3Failure::from_sdk)?;
    guard.disarm();
    Ok(())
}

/// Aborts a multipart upload unless disarmed: on every early return and when
/// the uploading future is dropped (a caller's timeout or shutdown).
struct AbortOnDrop {
    client: Client,
    bucket: String,
    key: String,
    upload_id: Option<String>,
}

impl AbortOnDrop {
    fn disarm(mut self) {
        self.upload_id = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.key.clone());
        runtime.spawn(tracing::Instrument::in_current_span(async move {
            let result = client
                .abort_multipart_upload()
                .bucket(&bucket)
                .key(&key)
                .upload_id(&upload_id)
                .send()
                .await;
            if let Err(err) = result {
                tracing::warn!(
                    bucket, key, upload_id,
                    error = %crate::telemetry::with_causes(&err),
                    "could not abort an incomplete multipart upload; a lifecycle rule \
                     (AbortIncompleteMultipartUpload) reclaims it"
                );
            }
        }));
    }
}
