//! The operator's own HTTP endpoints: `/metrics` (Prometheus text),
//! `/livez` (the process serves requests), `/readyz` (the CRD is installed
//! and the controller runs, or this replica is a leader-election standby).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// Where the operator is in its start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// The SnapshotTable CRD is not installed (yet).
    WaitingForCrd = 0,
    /// Another replica holds the leader lease; this one waits.
    Standby = 1,
    /// The controller is running.
    Running = 2,
}

/// Shared start-up state, read by `/readyz`.
#[derive(Debug, Default)]
pub struct Health {
    phase: AtomicU8,
}

impl Health {
    /// Records the current phase.
    pub fn set(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            1 => Phase::Standby,
            2 => Phase::Running,
            _ => Phase::WaitingForCrd,
        }
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

/// The router of the operator's endpoints.
pub fn router(metrics: Arc<Metrics>, health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, health })
}

/// Serves the endpoints on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, health))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics_text(
    State(state): State<AppState>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.health.phase() {
        Phase::Running => (StatusCode::OK, "ok: controller running"),
        // A standby must count as ready, or a rolling update of a
        // two-replica Deployment would never finish.
        Phase::Standby => (StatusCode::OK, "ok: standby, waiting for the leader lease"),
        Phase::WaitingForCrd => (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the SnapshotTable CRD (snapshottables.laredo.io) to be installed",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readiness_follows_the_phase_and_metrics_are_served() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let metrics = Arc::new(Metrics::new().unwrap());
        let health = Arc::new(Health::default());
        metrics.observe(std::time::Duration::from_millis(1), None);
        let server = tokio::spawn(serve(
            listener,
            metrics,
            health.clone(),
            std::future::pending(),
        ));
        let get = |path: &str| {
            let url = format!("http://{address}{path}");
            async move {
                let response = reqwest::get(url).await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        assert_eq!(get("/livez").await.0, 200);
        let (status, body) = get("/readyz").await;
        assert_eq!(status, 503);
        assert!(body.contains("CRD"), "{body}");
        health.set(Phase::Running);
        assert_eq!(get("/readyz").await.0, 200);
        let (status, body) = get("/metrics").await;
        assert_eq!(status, 200);
        assert!(
            body.contains("snapshot_operator_reconciles_total 1"),
            "{body}"
        );
        server.abort();
    }
}
