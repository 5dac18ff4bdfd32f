//! gRPC-Web over HTTP/1.1 and native gRPC over HTTP/2 cleartext (prior
//! knowledge), both through tonic's client over a hyper-util client.
//!
//! gRPC-Web works against a stock laredo-server (connect-go answers it on
//! HTTP/1.1); native gRPC needs a server that offers HTTP/2 without TLS.
//! Responses are decoded by `decode::SyncCodec`, so rows stay encoded bytes.

use http::uri::PathAndQuery;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use laredo_proto::SYNC_PATH;
use laredo_proto::replication::v1::SyncRequest;
use tonic::client::GrpcService;
use tower::Layer;

use super::checked::CheckResponse;
use super::decode::ServerMessage;
use super::error::SourceError;
use super::transport::Limits;
use crate::telemetry::with_causes;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which tonic-based protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// gRPC-Web over HTTP/1.1 (tonic-web's client layer).
    Web,
    /// gRPC over HTTP/2 cleartext.
    H2c,
}

/// An open tonic response stream.
pub(crate) struct TonicStream {
    inner: tonic::Streaming<Option<ServerMessage>>,
    origin: String,
}

/// Sends the `Sync` request and waits for the response headers.
pub(crate) async fn open(
    limits: &Limits<'_>,
    request: SyncRequest,
    flavor: Flavor,
) -> Result<TonicStream, SourceError> {
    let origin: http::Uri = limits
        .origin
        .parse()
        .map_err(|e| limits.connection_error(&e))?;
    let connector =
        super::tls::connector(limits.tls, limits.connect_timeout, flavor == Flavor::H2c);
    // A fresh client per stream: a GoAway handoff must reach a new connection,
    // never a pooled (or, for HTTP/2, multiplexed) one to the draining server.
    let mut builder = Client::builder(TokioExecutor::new());
    builder.pool_max_idle_per_host(0);
    let inner = match flavor {
        Flavor::Web => {
            let client = builder.build(connector);
            let checked = CheckResponse::new(
                client,
                "application/grpc-web",
                limits.origin,
                limits.max_message_size,
            );
            let service = tonic_web::GrpcWebClientLayer::new().layer(checked);
            call(service, origin, limits, request).await?
        }
        Flavor::H2c => {
            let client = builder.http2_only(true).build(connector);
            let service = CheckResponse::new(
                client,
                "application/grpc",
                limits.origin,
                limits.max_message_size,
            );
            call(service, origin, limits, request).await?
        }
    };
    Ok(TonicStream {
        inner,
        origin: limits.origin.to_owned(),
    })
}

async fn call<S>(
    service: S,
    origin: http::Uri,
    limits: &Limits<'_>,
    request: SyncRequest,
) -> Result<tonic::Streaming<Option<ServerMessage>>, SourceError>
where
    S: GrpcService<tonic::body::Body>,
    S::Error: Into<BoxError>,
    S::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <S::ResponseBody as http_body::Body>::Error: Into<BoxError>,
{
    let mut grpc = tonic::client::Grpc::with_origin(service, origin)
        .max_decoding_message_size(limits.max_message_size);
    grpc.ready()
        .await
        .map_err(|e| limits.connection_error(&*e.into()))?;
    let response = grpc
        .server_streaming(
            tonic::Request::new(request),
            PathAndQuery::from_static(SYNC_PATH),
            super::decode::SyncCodec,
        )
        .await
        .map_err(|status| from_status(&status, limits.origin))?;
    Ok(response.into_inner())
}

impl TonicStream {
    /// The next message; `None` after a clean end (`grpc-status: 0`).
    pub async fn next(&mut self) -> Result<Option<ServerMessage>, SourceError> {
        match self.inner.message().await {
            Ok(Some(message)) => message.map(Some).ok_or(SourceError::UnknownVariant),
            Ok(None) => Ok(None),
            Err(status) => Err(from_status(&status, &self.origin)),
        }
    }
}

/// Recovers our own error from a status (tonic wraps service errors), and
/// otherwise keeps the code and the message with its causes.
fn from_status(status: &tonic::Status, origin: &str) -> SourceError {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if let Some(ours) = error.downcast_ref::<SourceError>() {
            return ours.clone();
        }
        if error.is::<hyper::Error>() || error.is::<hyper_util::client::legacy::Error>() {
            return SourceError::Connection {
                origin: origin.to_owned(),
                reason: with_causes(error).to_string(),
            };
        }
        source = error.source();
    }
    SourceError::Grpc {
        code: code_name(status.code()).to_owned(),
        message: status.message().to_owned(),
    }
}

/// The code as Connect and laredo's docs spell it.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}
