//! `fanout-sim`: a laredo fan-out server to try the writer against. See the
//! README ("fanout-sim") and the `fanout_sim` library.

mod args;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use fanout_sim::{Sim, parse_script};
use tracing_subscriber::EnvFilter;

use args::Args;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs to stderr at `RUST_LOG`, else `info`.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let script = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(parse_script(&text).with_context(|| path.display().to_string())?)
        }
        None => None,
    };
    let config = args.sim_config();
    let table = format!("{}.{}", config.schema, config.table);
    let sim = Sim::new(config);
    let server = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => sim.serve_tls(args.listen, &read(cert)?, &read(key)?).await,
        _ => sim.serve(args.listen).await,
    }
    .with_context(|| format!("listening on {}", args.listen))?;
    let _changes = match script {
        Some(changes) => sim.spawn_script(changes, args.rate),
        None => sim.spawn_generator(args.rate),
    };
    let tls = args.tls_cert.is_some();
    tracing::info!(addr = %server.local_addr(), %table, rows = args.rows, rate = args.rate, tls, "fanout-sim serving (Connect, gRPC-Web, gRPC)");
    stop_signal().await?;
    tracing::info!(sequence = sim.sequence(), "stopping");
    tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .ok();
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM (`docker stop`: as PID 1 the process
/// would otherwise ignore it until killed).
async fn stop_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => Ok(result.context("waiting for Ctrl-C")?),
        _ = terminate.recv() => Ok(()),
    }
}
