//! What a failed S3 request means for the destination: a lost conditional
//! write, a missing object, a conflict AWS asks us to retry, or a failure
//! that is transient (retry later) or permanent (fix the configuration).

use std::error::Error;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

type BoxError = Box<dyn Error + Send + Sync>;

/// A failed S3 request, classified.
#[derive(Debug)]
pub(super) enum S3Failure {
    /// 412 `PreconditionFailed`: the `If-None-Match` / `If-Match` condition
    /// did not hold.
    PreconditionFailed,
    /// 404 `NoSuchKey` (or a bodiless 404 on HEAD).
    NotFound,
    /// 409 `ConditionalRequestConflict`: a concurrent operation on the same
    /// key raced this conditional write. AWS documents that the request (for
    /// multipart: the whole upload) should be retried.
    ConcurrentConflict,
    /// Anything else.
    Other {
        /// What went wrong.
        error: S3Error,
        /// Whether retrying later may succeed.
        transient: bool,
    },
}

/// Why an S3 operation failed, the cause of a
/// [`DestError::Failed`](crate::dest::DestError::Failed) from an S3
/// destination.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The store (or the way to it) answered with an error: the S3 error
    /// code and HTTP status when there are any, the SDK's error as the cause.
    #[error("{}", code_and_status(.code.as_deref(), *.status))]
    Request {
        /// The S3 error code (`AccessDenied`, `SlowDown`, …).
        code: Option<String>,
        /// The HTTP status.
        status: Option<u16>,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// 409 `ConditionalRequestConflict` answered every retry.
    #[error("ConditionalRequestConflict (HTTP 409) persisted after {retries} retries")]
    ConflictPersisted {
        /// Retries made.
        retries: u32,
    },
    /// 412 where no condition was expected to fail.
    #[error("PreconditionFailed (HTTP 412)")]
    PreconditionFailed,
    /// 404 where the object was expected.
    #[error("NoSuchKey (HTTP 404)")]
    NotFound,
    /// Moving the bytes failed (the spool file, the response body).
    #[error("{context}")]
    Transfer {
        /// What was being read.
        context: String,
        /// The I/O or stream error.
        #[source]
        source: BoxError,
    },
    /// The answer lacks a field the protocol needs.
    #[error("{request}: the store returned no {field}")]
    Incomplete {
        /// The request (`PutObject`, `CreateMultipartUpload`, …).
        request: &'static str,
        /// The field missing (`ETag`, `upload id`).
        field: &'static str,
    },
}

fn code_and_status(code: Option<&str>, status: Option<u16>) -> String {
    match (code, status) {
        (Some(code), Some(status)) => format!("{code} (HTTP {status})"),
        (Some(code), None) => code.to_owned(),
        (None, Some(status)) => format!("HTTP {status}"),
        (None, None) => "S3 request failed".to_owned(),
    }
}

/// Error codes worth retrying although their status is below 500.
const TRANSIENT_CODES: [&str; 11] = [
    "OperationAborted",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "ExpiredToken",
    "TokenRefreshRequired",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "BadDigest",
];

impl S3Failure {
    /// Classifies an SDK error.
    pub(super) fn from_sdk<E>(err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code();
        match (status, code) {
            (_, Some("PreconditionFailed")) | (Some(412), _) => {
                return S3Failure::PreconditionFailed;
            }
            (_, Some("ConditionalRequestConflict")) => return S3Failure::ConcurrentConflict,
            (_, Some("NoSuchKey" | "NotFound")) | (Some(404), None) => return S3Failure::NotFound,
            _ => {}
        }
        let transient = match &err {
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
            SdkError::DispatchFailure(failure) => !failure.is_user(),
            SdkError::ConstructionFailure(_) => false,
            SdkError::ServiceError(_) => {
                status.is_some_and(|s| s >= 500 || s == 429 || s == 408)
                    || code.is_some_and(|c| TRANSIENT_CODES.contains(&c))
            }
            _ => true,
        };
        let error = S3Error::Request {
            code: code.map(str::to_owned),
            status,
            source: Box::new(err),
        };
        S3Failure::Other { error, transient }
    }

    /// A local or body-stream I/O failure while moving bytes.
    pub(super) fn transfer(
        context: impl Into<String>,
        source: impl Into<BoxError>,
        transient: bool,
    ) -> Self {
        let error = S3Error::Transfer {
            context: context.into(),
            source: source.into(),
        };
        S3Failure::Other { error, transient }
    }

    /// An answer without a field the protocol needs (never worth a retry).
    pub(super) fn incomplete(request: &'static str, field: &'static str) -> Self {
        let error = S3Error::Incomplete { request, field };
        S3Failure::Other {
            error,
            transient: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::put_object::PutObjectError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(status: u16, code: &str) -> SdkError<PutObjectError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message("m").build();
        SdkError::service_error(
            PutObjectError::generic(meta),
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty()),
        )
    }

    fn kind(status: u16, code: &str) -> String {
        match S3Failure::from_sdk(service_error(status, code)) {
            S3Failure::Other { transient, .. } => format!("other transient={transient}"),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn conditional_write_outcomes_are_told_apart() {
        assert_eq!(kind(412, "PreconditionFailed"), "PreconditionFailed");
        assert_eq!(
            kind(409, "ConditionalRequestConflict"),
            "ConcurrentConflict"
        );
        assert_eq!(kind(404, "NoSuchKey"), "NotFound");
    }

    #[test]
    fn throttling_and_server_errors_are_transient_access_errors_are_not() {
        assert_eq!(kind(503, "SlowDown"), "other transient=true");
        assert_eq!(kind(500, "InternalError"), "other transient=true");
        assert_eq!(kind(400, "RequestTimeout"), "other transient=true");
        assert_eq!(kind(403, "AccessDenied"), "other transient=false");
        assert_eq!(kind(404, "NoSuchBucket"), "other transient=false");
        assert_eq!(kind(409, "OperationAborted"), "other transient=true");
        assert_eq!(kind(400, "InvalidArgument"), "other transient=false");
    }

    #[test]
    fn the_message_carries_the_s3_code_and_status() {
        match S3Failure::from_sdk(service_error(403, "AccessDenied")) {
            S3Failure::Other { error, .. } => {
                let message = crate::telemetry::with_causes(&error).to_string();
                assert!(
                    message.starts_with("AccessDenied (HTTP 403): "),
                    "{message}"
                );
                assert!(
                    error.source().is_some(),
                    "the SDK error is kept as the cause"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
