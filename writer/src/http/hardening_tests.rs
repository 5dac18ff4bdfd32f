//! The HTTP loose ends an adversarial run found: misspelt parameters,
//! concurrent snapshot requests, and connections that never finish a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, watch};
use tower::ServiceExt;

use super::*;
use crate::service::handle::TableCommand;
use crate::status::{ArtifactStatus, TableStatus};

async fn call(router: &Router, method: &str, uri: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let code = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (code, String::from_utf8(body.to_vec()).unwrap())
}

/// A table task that counts forced snapshots and answers each only once
/// `gate` is notified (epoch = how many it has taken).
fn gated_table(
    name: &str,
    taken: Arc<AtomicUsize>,
    received: Arc<Notify>,
    gate: Arc<Notify>,
) -> (TableHandle, watch::Sender<TableStatus>) {
    let (status_tx, status_rx) = watch::channel(TableStatus::starting(name, ""));
    let (commands, mut inbox) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Some(TableCommand::ForceSnapshot { reply }) = inbox.recv().await {
            let epoch = taken.fetch_add(1, Ordering::SeqCst) as u64 + 1;
            received.notify_one();
            gate.notified().await;
            let _ = reply.send(Ok(ArtifactStatus {
                id: format!("a{epoch}"),
                epoch,
                from_position: None,
                position: "0/00000010".into(),
                at: "2026-01-01T00:00:00Z".into(),
                records: 1,
                bytes: 1,
            }));
        }
    });
    (TableHandle::new(name, status_rx, commands), status_tx)
}

#[tokio::test]
async fn unknown_or_repeated_snapshot_parameters_are_refused_and_snapshot_nothing() {
    let taken = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let (users, _s) = gated_table(
        "public.users",
        taken.clone(),
        Arc::new(Notify::new()),
        gate.clone(),
    );
    let router = router(ApiState::new(vec![users], Metrics::new()));
    for (uri, names) in [
        ("/snapshot?tabel=public.users", "\\\"tabel\\\""),
        ("/snapshot?table=public.users&force=1", "\\\"force\\\""),
        (
            "/snapshot?table=public.users&table=public.users",
            "more than once",
        ),
    ] {
        let (code, body) = call(&router, "POST", uri).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body.contains(names), "{uri}: {body}");
    }
    let (code, body) = call(&router, "POST", "/snapshot?table=public.nope").await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(taken.load(Ordering::SeqCst), 0, "no snapshot was asked for");
}

#[tokio::test]
async fn concurrent_snapshot_requests_join_the_one_in_progress() {
    let taken = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(Notify::new());
    let gate = Arc::new(Notify::new());
    let (users, _s) = gated_table(
        "public.users",
        taken.clone(),
        received.clone(),
        gate.clone(),
    );
    let router = router(ApiState::new(vec![users], Metrics::new()));

    let requests = futures::future::join_all(
        (0..50).map(|_| call(&router, "POST", "/snapshot?table=public.users")),
    );
    // The table task holds the snapshot until every request has been made.
    let release = async {
        received.notified().await;
        gate.notify_one();
    };
    let (answers, ()) = tokio::join!(requests, release);
    for (code, body) in &answers {
        assert_eq!(*code, StatusCode::OK, "{body}");
        let answer: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            answer["public.users"]["id"], "a1",
            "each got the one snapshot"
        );
    }
    assert_eq!(taken.load(Ordering::SeqCst), 1, "50 requests, one snapshot");

    // Once it is answered, the next request makes a new snapshot.
    let next = call(&router, "POST", "/snapshot");
    let release = async {
        received.notified().await;
        gate.notify_one();
    };
    let ((code, body), ()) = tokio::join!(next, release);
    assert_eq!(code, StatusCode::OK);
    assert_eq!(taken.load(Ordering::SeqCst), 2);
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["public.users"]["epoch"], 2);
}

/// Reads until the server closes the connection; fails if it never does.
async fn closed_by_server(stream: &mut tokio::net::TcpStream) {
    let mut buffer = [0u8; 1024];
    let closed = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), closed)
        .await
        .expect("the server keeps a stalled connection open");
}

#[tokio::test]
async fn silent_partial_and_idle_connections_are_closed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(serve_router(
        listener,
        router(ApiState::new(Vec::new(), Metrics::new())),
        Duration::from_millis(200),
        stop.clone().cancelled_owned(),
    ));

    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(addr).await.unwrap();
    partial
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut response = vec![0u8; 512];
    let read = idle.read(&mut response).await.unwrap();
    assert!(
        String::from_utf8_lossy(&response[..read]).starts_with("HTTP/1.1 200"),
        "the idle connection was served first"
    );

    closed_by_server(&mut silent).await;
    closed_by_server(&mut partial).await;
    closed_by_server(&mut idle).await;
    stop.cancel();
    server.await.unwrap().unwrap();
}
