//! Connect server-streaming over HTTP/1.1: the protocol laredo's Go client
//! speaks and the one a stock laredo-server (connect-go on a plaintext
//! HTTP/1.1 listener) always answers.
//!
//! Hand-written because there is no released Connect client crate for Rust;
//! the protocol is one enveloped request and a stream of envelopes ending in
//! a JSON end-of-stream message (connectrpc.com/docs/protocol).

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use laredo_proto::SYNC_PATH;
use laredo_proto::replication::v1::SyncRequest;
use prost::Message as _;
use serde::Deserialize;

use super::decode::ServerMessage;
use super::error::SourceError;
use super::transport::{Limits, read_snippet};
use crate::telemetry::with_causes;
use laredo_wire::frame::{self, Decoder, FLAG_COMPRESSED, FLAG_END_STREAM};

/// Content type of a Connect streaming call with the binary codec.
pub const CONTENT_TYPE_CONNECT: &str = "application/connect+proto";

/// An open Connect response stream.
pub(crate) struct ConnectStream {
    body: Incoming,
    decoder: Decoder,
    ended: bool,
    origin: String,
}

/// Sends the `Sync` request and checks that the answer is a Connect stream.
pub(crate) async fn open(
    limits: &Limits<'_>,
    request: SyncRequest,
) -> Result<ConnectStream, SourceError> {
    let connector = super::tls::connector(limits.tls, limits.connect_timeout, false);
    // A fresh client per stream: a GoAway handoff must reach a new connection,
    // never a pooled one to the draining server.
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector);
    let body = frame::envelope(0, &request.encode_to_vec());
    let http_request = http::Request::post(format!("{}{SYNC_PATH}", limits.origin))
        .header(CONTENT_TYPE, CONTENT_TYPE_CONNECT)
        .header("connect-protocol-version", "1")
        .body(Full::new(body))
        .map_err(|e| limits.connection_error(&e))?;
    let response = client
        .request(http_request)
        .await
        .map_err(|e| limits.connection_error(&e))?;
    let (parts, body) = response.into_parts();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if parts.status != http::StatusCode::OK {
        let text = read_snippet(body).await;
        if let Some(error) = unary_error(&content_type, &text) {
            return Err(error);
        }
        return Err(SourceError::NotAReplicationServer {
            origin: limits.origin.to_owned(),
            reason: format!("HTTP {} ({content_type}): {text}", parts.status),
        });
    }
    if !content_type.starts_with(CONTENT_TYPE_CONNECT) {
        return Err(SourceError::NotAReplicationServer {
            origin: limits.origin.to_owned(),
            reason: format!(
                "content-type {content_type:?}, expected {CONTENT_TYPE_CONNECT}: {}",
                read_snippet(body).await
            ),
        });
    }
    Ok(ConnectStream {
        body,
        decoder: Decoder::new(limits.max_message_size, FLAG_COMPRESSED | FLAG_END_STREAM),
        ended: false,
        origin: limits.origin.to_owned(),
    })
}

impl ConnectStream {
    /// The next message; `None` after a clean end of stream.
    pub async fn next(&mut self) -> Result<Option<ServerMessage>, SourceError> {
        loop {
            if self.ended {
                return Ok(None);
            }
            if let Some(envelope) = self.decoder.next_envelope()? {
                if envelope.flags & FLAG_END_STREAM != 0 {
                    self.ended = true;
                    return end_of_stream(&envelope.payload).map(|()| None);
                }
                if envelope.flags & FLAG_COMPRESSED != 0 {
                    return Err(SourceError::Protocol(
                        "compressed frame, but no compression was negotiated".into(),
                    ));
                }
                return super::decode_response(envelope.payload)
                    .map_err(SourceError::Decode)?
                    .map(Some)
                    .ok_or(SourceError::UnknownVariant);
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        self.decoder.push(data);
                    }
                }
                Some(Err(error)) => {
                    return Err(SourceError::Connection {
                        origin: self.origin.clone(),
                        reason: format!("stream cut: {}", with_causes(&error)),
                    });
                }
                None => {
                    self.decoder.finish()?;
                    return Err(SourceError::Protocol(
                        "response ended without Connect's end-of-stream message".into(),
                    ));
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct EndStream {
    #[serde(default)]
    error: Option<ConnectError>,
}

#[derive(Deserialize)]
struct ConnectError {
    code: String,
    #[serde(default)]
    message: String,
}

/// Interprets the end-of-stream JSON: `{}` is a clean end, `{"error":…}` a
/// server error.
fn end_of_stream(payload: &[u8]) -> Result<(), SourceError> {
    let end: EndStream = serde_json::from_slice(payload).map_err(|e| {
        SourceError::EndStream(format!(
            "{e} in {:?}",
            String::from_utf8_lossy(&payload[..payload.len().min(200)])
        ))
    })?;
    match end.error {
        None => Ok(()),
        Some(error) => Err(SourceError::Status {
            code: error.code,
            message: error.message,
        }),
    }
}

/// A Connect error sent as a plain HTTP error (`{"code","message"}`), which
/// connect-go does for failures before the stream starts.
fn unary_error(content_type: &str, body: &str) -> Option<SourceError> {
    if !content_type.starts_with("application/json") {
        return None;
    }
    let error: ConnectError = serde_json::from_str(body).ok()?;
    Some(SourceError::Status {
        code: error.code,
        message: error.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_stream_json() {
        assert_eq!(end_of_stream(b"{}"), Ok(()));
        assert_eq!(end_of_stream(br#"{"metadata":{"a":["b"]}}"#), Ok(()));
        assert_eq!(
            end_of_stream(br#"{"error":{"code":"not_found","message":"no fan-out target"}}"#),
            Err(SourceError::Status {
                code: "not_found".into(),
                message: "no fan-out target".into()
            })
        );
        let bad = end_of_stream(b"<html>").unwrap_err().to_string();
        assert!(
            bad.contains("malformed end-of-stream") && bad.contains("<html>"),
            "{bad}"
        );
        assert!(end_of_stream(br#"{"error":{"message":"no code"}}"#).is_err());
    }
}
