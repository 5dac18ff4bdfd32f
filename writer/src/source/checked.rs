//! Checks on the tonic paths' raw responses, before tonic reads them: the
//! status and content type (an HTML page from a proxy is named as such),
//! every frame's flags and length (an oversized header is rejected before
//! anything buffers it; tonic-web would wait for it), a body ending inside
//! a frame, and a `grpc-status` that is not a number (tonic reports those
//! as an `unknown` status with no message).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http_body::{Body, Frame};
use hyper::body::Incoming;

use super::error::SourceError;
use super::transport::read_snippet;
use laredo_wire::frame::{FLAG_COMPRESSED, FLAG_GRPC_WEB_TRAILERS, FrameError, Scanner};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wraps the HTTP client: checks each response's head and guards its body.
#[derive(Clone)]
pub(crate) struct CheckResponse<S> {
    inner: S,
    expected: &'static str,
    origin: String,
    max_message_size: usize,
}

impl<S> CheckResponse<S> {
    pub fn new(inner: S, expected: &'static str, origin: &str, max_message_size: usize) -> Self {
        Self {
            inner,
            expected,
            origin: origin.to_owned(),
            max_message_size,
        }
    }
}

impl<S, B> tower::Service<http::Request<B>> for CheckResponse<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Incoming>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = http::Response<GuardedBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let response = self.inner.call(request);
        let expected = self.expected;
        let origin = self.origin.clone();
        let max = self.max_message_size;
        Box::pin(async move {
            let response = response.await.map_err(Into::into)?;
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            if response.status() == http::StatusCode::OK && content_type.starts_with(expected) {
                return Ok(response.map(|body| GuardedBody {
                    inner: body,
                    scanner: Scanner::new(max, FLAG_COMPRESSED | FLAG_GRPC_WEB_TRAILERS),
                }));
            }
            let status = response.status();
            let snippet = read_snippet(response.into_body()).await;
            Err(Box::new(SourceError::NotAReplicationServer {
                origin,
                reason: format!(
                    "HTTP {status} with content-type {content_type:?} (expected {expected}): {snippet}"
                ),
            }) as BoxError)
        })
    }
}

/// A response body checked frame by frame as tonic reads it.
pub(crate) struct GuardedBody {
    inner: Incoming,
    scanner: Scanner,
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                return Poll::Ready(this.scanner.finish().err().map(|e| Err(frame_error(e))));
            }
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error.into()))),
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        if let Some(data) = frame.data_ref() {
            match this.scanner.feed(data) {
                Err(error) => return Poll::Ready(Some(Err(frame_error(error)))),
                Ok(trailers) => {
                    for payload in trailers {
                        if let Err(error) = check_web_trailers(&payload) {
                            return Poll::Ready(Some(Err(Box::new(error))));
                        }
                    }
                }
            }
        } else if let Some(trailers) = frame.trailers_ref() {
            let status = trailers
                .get("grpc-status")
                .map(|v| v.to_str().unwrap_or(""));
            if let Err(error) = check_status(status) {
                return Poll::Ready(Some(Err(Box::new(error))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

fn frame_error(error: FrameError) -> BoxError {
    Box::new(SourceError::Frame(error))
}

/// A gRPC-Web trailers frame: `name:value` lines in ASCII.
fn check_web_trailers(payload: &[u8]) -> Result<(), SourceError> {
    let text = std::str::from_utf8(payload)
        .map_err(|_| SourceError::EndStream("gRPC-Web trailers frame is not text".into()))?;
    let status = text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("grpc-status")
            .then_some(value.trim())
    });
    check_status(status)
}

fn check_status(status: Option<&str>) -> Result<(), SourceError> {
    match status {
        None => Err(SourceError::EndStream(
            "trailers without grpc-status".into(),
        )),
        Some(code) if code.parse::<u16>().is_ok() => Ok(()),
        Some(code) => Err(SourceError::EndStream(format!(
            "grpc-status {code:?} is not a number"
        ))),
    }
}
