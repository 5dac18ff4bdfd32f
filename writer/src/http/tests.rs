//! Route behaviour over handles driven by a stand-in table task.

use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use super::*;
use crate::archive::ArchiveError;
use crate::dest::DestError;
use crate::service::handle::{SnapshotFailure, TableCommand};
use crate::status::{ArtifactStatus, TableState, TableStatus};

fn status(table: &str, ready: bool) -> TableStatus {
    TableStatus {
        state: if ready {
            TableState::Live
        } else {
            TableState::Syncing
        },
        ready,
        epoch: u64::from(ready),
        ..TableStatus::starting(table, "")
    }
}

/// A table task that answers forced snapshots with `answer`, and the sender
/// that changes its status.
fn table(
    name: &str,
    ready: bool,
    answer: Result<(), &'static str>,
) -> (TableHandle, watch::Sender<TableStatus>) {
    let (status_tx, status_rx) = watch::channel(status(name, ready));
    let (commands, mut inbox) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Some(TableCommand::ForceSnapshot { reply }) = inbox.recv().await {
            let result = answer
                .map(|()| ArtifactStatus {
                    id: "a1".into(),
                    epoch: 2,
                    from_position: None,
                    position: "0/00000010".into(),
                    at: "2026-01-01T00:00:00Z".into(),
                    records: 3,
                    bytes: 10,
                })
                .map_err(|cause| {
                    SnapshotFailure::Failed(ArchiveError::Destination(DestError::Failed {
                        dest: "s3://b/p/".into(),
                        operation: "put",
                        key: "k".into(),
                        source: cause.into(),
                        transient: true,
                    }))
                });
            let _ = reply.send(result);
        }
    });
    (TableHandle::new(name, status_rx, commands), status_tx)
}

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

#[tokio::test]
async fn readiness_waits_for_every_table() {
    let (users, users_status) = table("public.users", true, Ok(()));
    let (orders, orders_status) = table("public.orders", false, Ok(()));
    let router = router(ApiState::new(vec![users, orders], Metrics::new()));
    let (code, body) = call(&router, "GET", "/health/ready").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, r#"{"ready":false,"waiting":["public.orders"]}"#);
    orders_status.send_modify(|s| s.ready = true);
    assert_eq!(
        call(&router, "GET", "/health/ready").await,
        (StatusCode::OK, r#"{"ready":true}"#.into())
    );
    users_status.send_modify(|s| s.ready = false);
    assert_eq!(
        call(&router, "GET", "/health/ready").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        call(&router, "GET", "/health/live").await,
        (StatusCode::OK, r#"{"status":"ok"}"#.into())
    );
}

#[tokio::test]
async fn status_lists_every_table_in_order() {
    let (users, _u) = table("public.users", true, Ok(()));
    let (orders, _o) = table("public.orders", false, Ok(()));
    let router = router(ApiState::new(vec![users, orders], Metrics::new()));
    let (code, body) = call(&router, "GET", "/status").await;
    assert_eq!(code, StatusCode::OK);
    let parsed: Vec<TableStatus> = serde_json::from_str(&body).unwrap();
    assert_eq!(
        parsed,
        [status("public.users", true), status("public.orders", false)]
    );
    let raw: serde_json::Value = serde_json::from_str(&body).unwrap();
    for laredo_field in [
        "table",
        "epoch",
        "head_position",
        "buffer_depth",
        "churn_records",
        "last_snapshot_at",
    ] {
        assert!(
            raw[0].get(laredo_field).is_some(),
            "laredo's {laredo_field} is kept"
        );
    }
}

#[tokio::test]
async fn snapshot_answers_per_table_with_what_it_made() {
    let (users, _u) = table("public.users", true, Ok(()));
    let (orders, _o) = table("public.orders", true, Err("destination down"));
    let router = router(ApiState::new(vec![users, orders], Metrics::new()));
    let made = serde_json::json!({
        "id": "a1", "epoch": 2, "from_position": null, "position": "0/00000010",
        "at": "2026-01-01T00:00:00Z", "records": 3, "bytes": 10,
    });
    let (code, body) = call(&router, "POST", "/snapshot?table=public.users").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"public.users": made})
    );
    let (code, body) = call(&router, "POST", "/snapshot").await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({
            "public.orders": {"error": "s3://b/p/: put k: destination down"},
            "public.users": made,
        })
    );
    let (code, body) = call(&router, "POST", "/snapshot?table=public.nope").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(body.contains(r#"unknown table \"public.nope\""#), "{body}");
    assert_eq!(
        call(&router, "GET", "/snapshot").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn snapshot_of_a_stopped_table_is_an_error_not_a_hang() {
    let (status_tx, status_rx) = watch::channel(status("public.users", true));
    let (commands, inbox) = mpsc::channel(1);
    drop(inbox);
    let handle = TableHandle::new("public.users", status_rx, commands);
    let router = router(ApiState::new(vec![handle], Metrics::new()));
    let (code, body) = call(&router, "POST", "/snapshot").await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        r#"{"public.users":{"error":"the writer for this table has stopped"}}"#
    );
    drop(status_tx);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let metrics = Metrics::new();
    metrics.table("public.users").epoch.set(4);
    let router = router(ApiState::new(Vec::new(), metrics));
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("snapshotter_epoch{table=\"public.users\"} 4"));
}
