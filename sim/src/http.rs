//! The simulator's listener: one port, HTTP/1.1 and HTTP/2 cleartext, and
//! the three dialects told apart by content type. Framing is written by hand
//! (with the envelope codec the writer reads with, `laredo_wire::frame`) so
//! that faults can put any bytes on the wire.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use laredo_proto::SYNC_PATH;
use laredo_proto::replication::v1::SyncRequest;
use laredo_wire::frame::{self, FLAG_END_STREAM, FLAG_GRPC_WEB_TRAILERS};
use prost::Message as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::{RequestFault, Shared, SimServer};

type Body = BoxBody<Bytes, io::Error>;

/// The dialect of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Connect,
    GrpcWeb,
    Grpc,
}

impl Protocol {
    fn from_content_type(content_type: &str) -> Option<Self> {
        let base = content_type.split(';').next().unwrap_or("").trim();
        match base {
            "application/connect+proto" => Some(Protocol::Connect),
            "application/grpc-web" | "application/grpc-web+proto" => Some(Protocol::GrpcWeb),
            "application/grpc" | "application/grpc+proto" => Some(Protocol::Grpc),
            _ => None,
        }
    }

    fn response_content_type(self) -> &'static str {
        match self {
            Protocol::Connect => "application/connect+proto",
            Protocol::GrpcWeb => "application/grpc-web+proto",
            Protocol::Grpc => "application/grpc+proto",
        }
    }
}

pub(crate) async fn serve(
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> io::Result<SimServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let task = tokio::spawn(accept(listener, shared, cancel.clone(), tls));
    Ok(SimServer::new(addr, cancel, task))
}

async fn accept(
    listener: TcpListener,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    connections.spawn(connection(tcp, shared.clone(), tls.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "fanout-sim: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    // Aborting a connection drops its socket and its streams' bodies, which
    // ends their tasks: to a client this is a server that died.
    connections.shutdown().await;
}

async fn connection(tcp: TcpStream, shared: Arc<Shared>, tls: Option<tokio_rustls::TlsAcceptor>) {
    let _ = tcp.set_nodelay(true);
    let service = hyper::service::service_fn(move |request| handle(shared.clone(), request));
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    match tls {
        None => {
            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
        }
        Some(acceptor) => match acceptor.accept(tcp).await {
            Ok(stream) => {
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
            Err(error) => tracing::debug!(%error, "fanout-sim: TLS handshake failed"),
        },
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if let Some(fault) = Shared::take(&shared.request_fault) {
        return Ok(fault_response(fault));
    }
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(protocol) = Protocol::from_content_type(content_type) else {
        return Ok(plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("unsupported content-type {content_type:?}"),
        ));
    };
    let path_ok = request.uri().path() == SYNC_PATH;
    let body = Limited::new(request.into_body(), 1 << 20).collect().await;
    let (tx, rx) = mpsc::channel(32);
    let out = Out { tx, protocol };
    let parsed = match body {
        Ok(body) => parse_request(&body.to_bytes()),
        Err(error) => Err(format!("reading the request: {error}")),
    };
    match (path_ok, parsed) {
        (false, _) => {
            tokio::spawn(async move {
                out.end(Some(("unimplemented", "only Sync is served")))
                    .await
            });
        }
        (true, Err(reason)) => {
            tokio::spawn(async move { out.end(Some(("invalid_argument", &reason))).await });
        }
        (true, Ok(request)) => {
            tokio::spawn(crate::stream::serve(shared, request, out));
        }
    }
    let body = StreamBody::new(ReceiverStream::new(rx)).boxed();
    let mut response = Response::new(body);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(protocol.response_content_type()),
    );
    Ok(response)
}

fn parse_request(body: &[u8]) -> Result<SyncRequest, String> {
    let mut decoder = frame::Decoder::new(1 << 20, 0);
    decoder.push(body);
    let envelope = decoder
        .next_envelope()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "request body is not one enveloped SyncRequest".to_owned())?;
    SyncRequest::decode(envelope.payload).map_err(|e| format!("malformed SyncRequest: {e}"))
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(full(text.to_owned()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn full(text: String) -> Body {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed()
}

fn fault_response(fault: RequestFault) -> Response<Body> {
    match fault {
        RequestFault::Html => {
            let mut response = Response::new(full(
                "<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>".into(),
            ));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
            response
        }
        RequestFault::Status(code) => plain(
            StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY),
            "upstream unavailable",
        ),
    }
}

/// The client went away (or the stream was ended on purpose).
#[derive(Debug)]
pub(crate) struct Gone;

/// The response body of one stream, framed for its dialect.
pub(crate) struct Out {
    tx: mpsc::Sender<Result<Frame<Bytes>, io::Error>>,
    protocol: Protocol,
}

impl Out {
    /// One message in an envelope.
    pub async fn message(&self, message: &impl prost::Message) -> Result<(), Gone> {
        self.raw(frame::envelope(0, &message.encode_to_vec())).await
    }

    /// Bytes as they are.
    pub async fn raw(&self, bytes: Bytes) -> Result<(), Gone> {
        self.tx.send(Ok(Frame::data(bytes))).await.map_err(|_| Gone)
    }

    /// Ends the stream, with an error `(code, message)` or cleanly.
    pub async fn end(&self, error: Option<(&str, &str)>) {
        let _ = match self.protocol {
            Protocol::Connect => {
                let json = match error {
                    Some((code, message)) => {
                        serde_json::json!({"error": {"code": code, "message": message}})
                    }
                    None => serde_json::json!({}),
                };
                self.raw(frame::envelope(
                    FLAG_END_STREAM,
                    json.to_string().as_bytes(),
                ))
                .await
            }
            Protocol::GrpcWeb => {
                let trailers = grpc_trailers(error);
                let mut text = String::new();
                for (name, value) in &trailers {
                    text.push_str(&format!("{}:{}\r\n", name, value.to_str().unwrap_or("")));
                }
                self.raw(frame::envelope(FLAG_GRPC_WEB_TRAILERS, text.as_bytes()))
                    .await
            }
            Protocol::Grpc => self
                .tx
                .send(Ok(Frame::trailers(grpc_trailers(error))))
                .await
                .map_err(|_| Gone),
        };
    }

    /// An end-of-stream message that is not the protocol's.
    pub async fn bad_end(&self) {
        let _ = match self.protocol {
            Protocol::Connect => {
                self.raw(frame::envelope(FLAG_END_STREAM, b"<html>not json"))
                    .await
            }
            Protocol::GrpcWeb => {
                self.raw(frame::envelope(FLAG_GRPC_WEB_TRAILERS, &[0xff, 0xfe, 0x00]))
                    .await
            }
            Protocol::Grpc => {
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", HeaderValue::from_static("banana"));
                self.tx
                    .send(Ok(Frame::trailers(trailers)))
                    .await
                    .map_err(|_| Gone)
            }
        };
    }

    /// Cuts the connection (hyper aborts a response whose body fails).
    pub async fn abort(&self) {
        let _ = self
            .tx
            .send(Err(io::Error::other("connection dropped by fanout-sim")))
            .await;
    }

    /// Resolves when the client has gone.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

fn grpc_trailers(error: Option<(&str, &str)>) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    let (code, message) = error.map_or((0, ""), |(code, message)| (grpc_code(code), message));
    trailers.insert("grpc-status", HeaderValue::from(code));
    if !message.is_empty()
        && let Ok(value) = HeaderValue::from_str(&percent_encode(message))
    {
        trailers.insert("grpc-message", value);
    }
    trailers
}

fn grpc_code(name: &str) -> u16 {
    match name {
        "invalid_argument" => 3,
        "not_found" => 5,
        "resource_exhausted" => 8,
        "unimplemented" => 12,
        "unavailable" => 14,
        _ => 13,
    }
}

/// gRPC's `grpc-message` encoding: printable ASCII except `%` as is.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
