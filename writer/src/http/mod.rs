//! The writer's HTTP API: health, status, forced snapshots and metrics.
//!
//! | route | answer |
//! |---|---|
//! | `GET /health/live` | 200 `{"status":"ok"}` while the process serves requests |
//! | `GET /health/ready` | 200 `{"ready":true}` once every table's initial base snapshot is durable on all its destinations, else 503 with the tables that are not |
//! | `GET /status` | 200, a JSON array of [`TableStatus`](crate::status::TableStatus) |
//! | `POST /snapshot[?table=schema.table]` | forces a snapshot on every (or one) table; 200 with the committed snapshot per table (`{"schema.table":{"epoch":4,"position":…}}`, a [`SnapshotAnswer`]) when all committed, 500 with `{"error":"…"}` per failed table, 404 for an unknown table, 400 for any other query parameter; requests while a table's forced snapshot runs join it |
//! | `GET /metrics` | Prometheus text format |

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::join_all;
use serde_json::json;

use snapshot_contract::names::{
    HEALTH_LIVE_PATH, HEALTH_READY_PATH, METRICS_PATH, SNAPSHOT_PATH, SNAPSHOT_TABLE_PARAM,
    STATUS_PATH,
};
use snapshot_contract::snapshot::{SnapshotAnswer, SnapshotOutcome};

use crate::metrics::Metrics;
use crate::service::handle::TableHandle;
use crate::telemetry::with_causes;

mod serve;

pub use serve::{HEADER_READ_TIMEOUT, serve_router};

/// How long `POST /snapshot` waits for the snapshots to commit.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(300);

/// What the routes read from.
#[derive(Debug, Clone)]
pub struct ApiState {
    tables: Arc<Vec<TableHandle>>,
    metrics: Metrics,
    snapshot_timeout: Duration,
}

impl ApiState {
    /// State over the process's table handles and metrics registry.
    pub fn new(tables: Vec<TableHandle>, metrics: Metrics) -> Self {
        Self {
            tables: Arc::new(tables),
            metrics,
            snapshot_timeout: SNAPSHOT_TIMEOUT,
        }
    }

    /// Overrides how long `POST /snapshot` waits.
    pub fn with_snapshot_timeout(mut self, timeout: Duration) -> Self {
        self.snapshot_timeout = timeout;
        self
    }
}

/// The API's routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route(HEALTH_LIVE_PATH, get(live))
        .route(HEALTH_READY_PATH, get(ready))
        .route(STATUS_PATH, get(status))
        .route(SNAPSHOT_PATH, get(use_post).post(snapshot))
        .route(METRICS_PATH, get(metrics))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, closing
/// connections that send no complete headers within
/// [`HEADER_READ_TIMEOUT`].
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, router(state), HEADER_READ_TIMEOUT, shutdown).await
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<ApiState>) -> Response {
    let waiting: Vec<String> = state
        .tables
        .iter()
        .map(TableHandle::status)
        .filter(|s| !s.ready)
        .map(|s| s.table)
        .collect();
    if waiting.is_empty() {
        (StatusCode::OK, Json(json!({"ready": true}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "waiting": waiting})),
        )
            .into_response()
    }
}

async fn status(State(state): State<ApiState>) -> Response {
    let statuses: Vec<_> = state.tables.iter().map(TableHandle::status).collect();
    Json(statuses).into_response()
}

async fn use_post() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({"error": "use POST"})),
    )
        .into_response()
}

/// The one query parameter `POST /snapshot` takes; anything else is a 400,
/// so a misspelt `?tabel=` never snapshots every table.
fn snapshot_target(pairs: Vec<(String, String)>) -> Result<Option<String>, String> {
    let mut table = None;
    for (key, value) in pairs {
        match key.as_str() {
            SNAPSHOT_TABLE_PARAM if table.is_none() => table = Some(value),
            SNAPSHOT_TABLE_PARAM => return Err("`table` is given more than once".to_owned()),
            _ => {
                return Err(format!(
                    "unknown query parameter {key:?}; POST /snapshot takes only `table`"
                ));
            }
        }
    }
    Ok(table)
}

async fn snapshot(
    State(state): State<ApiState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let table = match snapshot_target(pairs) {
        Ok(table) => table,
        Err(error) => {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response();
        }
    };
    let targets: Vec<&TableHandle> = match &table {
        None => state.tables.iter().collect(),
        Some(name) => match state.tables.iter().find(|t| t.name() == name) {
            Some(table) => vec![table],
            None => {
                let known: Vec<&str> = state.tables.iter().map(TableHandle::name).collect();
                let error = format!(
                    "unknown table {name:?}; this writer has: {}",
                    known.join(", ")
                );
                return (StatusCode::NOT_FOUND, Json(json!({"error": error}))).into_response();
            }
        },
    };
    let timeout = state.snapshot_timeout;
    let results = join_all(targets.iter().map(|t| t.force_snapshot(timeout))).await;
    let mut all_ok = true;
    let answers: SnapshotAnswer = targets
        .iter()
        .zip(results)
        .map(|(table, result)| {
            let answer = match result {
                Ok(artifact) => SnapshotOutcome::Committed(artifact),
                Err(error) => {
                    all_ok = false;
                    SnapshotOutcome::Failed {
                        error: with_causes(&error).to_string(),
                    }
                }
            };
            (table.name().to_owned(), answer)
        })
        .collect();
    let code = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (code, Json(answers)).into_response()
}

async fn metrics(State(state): State<ApiState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hardening_tests;
