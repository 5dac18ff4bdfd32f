//! `snapshot-operator`: parses flags and wires the health server, optional
//! leader election and the controller together.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use snapshot_operator::cli::Args;
use snapshot_operator::controller::{self, ControllerConfig};
use snapshot_operator::leader::{self, LeaseConfig};
use snapshot_operator::metrics::Metrics;
use snapshot_operator::reconcile::Settings;
use snapshot_operator::reconcile::build::BuildSettings;
use snapshot_operator::server::{self, Health, Phase};
use snapshot_operator::telemetry;
use tokio::sync::watch;
use tracing::{error, info};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    telemetry::init(args.log_format).context("installing the log subscriber")?;
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let metrics = Arc::new(Metrics::new().context("registering metrics")?);
    let health = Arc::new(Health::default());

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        }
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", args.http_port))
        .await
        .with_context(|| format!("binding the health and metrics port {}", args.http_port))?;
    let server = tokio::spawn(server::serve(
        listener,
        metrics.clone(),
        health.clone(),
        stopped(),
    ));

    let config = ControllerConfig {
        namespace: args.namespace.clone(),
        settings: Settings {
            writer_url_template: args.writer_url_template.clone(),
            requeue_interval: args.requeue_interval(),
            build: BuildSettings {
                default_image: args.writer_image.clone(),
            },
        },
        instance: args.identity(),
        concurrency: args.concurrency,
    };
    let mut lost_leadership = false;
    if args.leader_election {
        health.set(Phase::Standby);
        let lease = LeaseConfig {
            name: args.lease_name.clone(),
            namespace: args.lease_namespace(),
            identity: args.identity(),
            duration_seconds: 15,
            grace_seconds: 5,
        };
        let leadership = tokio::select! {
            result = leader::acquire(client.clone(), &lease) => result.context("leader election")?,
            () = stopped() => return Ok(()),
        };
        let stop = stopped();
        let (lost_tx, lost_rx) = tokio::sync::oneshot::channel();
        let until = async move {
            tokio::select! {
                () = stop => {}
                () = leadership.lost() => { let _ = lost_tx.send(()); }
            }
        };
        controller::run(client, config, metrics, health, until).await;
        lost_leadership = lost_rx.await.is_ok();
    } else {
        controller::run(client, config, metrics, health, stopped()).await;
    }
    server.abort();
    if lost_leadership {
        // Exit non-zero: the pod restarts as a standby instead of running a
        // second controller next to the new leader.
        error!("lost the leader lease");
        anyhow::bail!("lost the leader lease");
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
