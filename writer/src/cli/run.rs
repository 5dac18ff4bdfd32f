//! `snapshot-writer --config FILE`: the tables and the HTTP API until
//! SIGTERM/SIGINT, then a final flush within the grace period.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::WriterConfig;
use crate::http::{self, ApiState};
use crate::metrics::Metrics;
use crate::service::handle::TableHandle;
use crate::service::{Service, writer_identity};

/// Loads the config and runs the writer until a signal.
pub async fn run_writer(file: &Path) -> anyhow::Result<()> {
    let config = crate::config::load_file(file)
        .map_err(|e| anyhow::anyhow!(describe_config_error(file, &e)))?;
    serve(config, shutdown_signal(), |_, _| {}).await
}

/// A config error as one line that names the file too (a read error
/// already does).
pub fn describe_config_error(file: &Path, error: &crate::config::ConfigError) -> String {
    match error {
        crate::config::ConfigError::Read { .. }
        | crate::config::ConfigError::NotAFile { .. }
        | crate::config::ConfigError::TooLarge { .. } => error.to_string(),
        _ => format!("{}: {error}", file.display()),
    }
}

/// Runs a writer with `config` in this process (the tables and the HTTP
/// API) until `stop` completes, then flushes and returns: what
/// `--config FILE` runs, and what the demo (`examples/demo.rs`) embeds.
/// `on_started` gets the HTTP API's address and the table handles once the
/// API listens.
pub async fn serve(
    config: WriterConfig,
    stop: impl std::future::Future<Output = anyhow::Result<()>>,
    on_started: impl FnOnce(SocketAddr, Vec<TableHandle>),
) -> anyhow::Result<()> {
    let identity = writer_identity();
    let metrics = Metrics::new();
    let addr = SocketAddr::new(config.http.bind, config.http.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the HTTP API to {addr} (http.port)"))?;
    let bound = listener.local_addr()?;
    let service = Service::start(&config, &metrics, &identity);
    let tables: Vec<String> = config.tables.iter().map(|t| t.qualified_name()).collect();
    tracing::info!(writer = %identity, http = %bound, tables = ?tables, "snapshot-writer started");
    on_started(bound, service.handles());
    let api_stop = CancellationToken::new();
    let api = ApiState::new(service.handles(), metrics);
    let server = tokio::spawn(http::serve_listener(
        listener,
        api,
        api_stop.clone().cancelled_owned(),
    ));
    stop.await?;
    tracing::info!(grace = %config.shutdown.grace_period, "shutting down: flushing every table");
    service.stop().await;
    api_stop.cancel();
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "HTTP API stopped with an error"),
        Err(error) => tracing::warn!(%error, "HTTP API task failed"),
    }
    tracing::info!("snapshot-writer stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (a container runtime stopping us).
pub(crate) async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C"),
        _ = terminate.recv() => Ok(()),
    }
}
