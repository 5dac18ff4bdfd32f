//! Tuning of the S3 destination.

use std::time::Duration;

use aws_sdk_s3::config::timeout::TimeoutConfig;

/// Which requests carry the SDK's integrity checksums (CRC32 trailers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumPolicy {
    /// Every upload carries a CRC32 the store verifies (the SDK default);
    /// multipart uploads declare it so the parts are verified too.
    WhenSupported,
    /// Only operations that require one; for S3-compatible stores that
    /// reject the `aws-chunked` trailer encoding the new default uses.
    WhenRequired,
}

/// Tuning of the S3 destination; the defaults suit AWS.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Files larger than this are uploaded in parts (default 16 MiB).
    pub multipart_threshold: u64,
    /// Part size (default 16 MiB; at least 5 MiB, S3's minimum, and grown so
    /// an upload needs no more than 10,000 parts).
    pub part_size: u64,
    /// Parts uploaded at once (default 4).
    pub upload_concurrency: usize,
    /// Attempts per request for transient failures, the first included
    /// (default 5).
    pub max_attempts: u32,
    /// First retry delay (default 200 ms); doubles per attempt, jittered.
    pub initial_backoff: Duration,
    /// Largest retry delay (default 10 s).
    pub max_backoff: Duration,
    /// Retries of a write answered 409 `ConditionalRequestConflict` (default 5).
    pub conflict_retries: u32,
    /// Time to connect (default 5 s).
    pub connect_timeout: Duration,
    /// Time for a request without a large body to answer (default 30 s).
    pub request_timeout: Duration,
    /// Time for one object or part upload attempt (default 5 min).
    pub upload_timeout: Duration,
    /// Checksums; default [`ChecksumPolicy::WhenSupported`] on AWS and
    /// [`ChecksumPolicy::WhenRequired`] when an `endpoint` is configured,
    /// since several S3-compatible stores reject the SDK's new default.
    pub checksums: Option<ChecksumPolicy>,
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            multipart_threshold: 16 << 20,
            part_size: 16 << 20,
            upload_concurrency: 4,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            conflict_retries: 5,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(300),
            checksums: None,
        }
    }
}

/// Connect and read timeouts, `read` covering the request body's upload.
pub(super) fn timeouts(options: &S3Options, read: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(options.connect_timeout)
        .read_timeout(read)
        .build()
}
