//! `fanout-sim`: a laredo fan-out server to try the writer against. See the
//! README ("fanout-sim") and `snapshot_writer::sim`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use snapshot_writer::cli;
use snapshot_writer::config::GoDuration;
use snapshot_writer::sim::{LiveValues, PositionMode, Sim, SimConfig, parse_script};
use snapshot_writer::telemetry::{self, LogFormat};

/// Serves one generated (or scripted) table over laredo's replication
/// protocol: Connect, gRPC-Web and gRPC on one port.
#[derive(Debug, Parser)]
#[command(name = "fanout-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4002")]
    listen: SocketAddr,
    /// Schema of the served table.
    #[arg(long, default_value = "public")]
    schema: String,
    /// Name of the served table.
    #[arg(long, default_value = "items")]
    table: String,
    /// Rows generated as the baseline (key column `id`).
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    /// Random changes (70% updates, 15% inserts, 15% deletes) per second;
    /// with --script, scripted changes per second (0: all at once).
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Heartbeat after this much idle time.
    #[arg(long, default_value = "5s", value_parser = duration)]
    heartbeat_interval: GoDuration,
    /// Journal entries kept; clients further behind get a full snapshot.
    #[arg(long, default_value_t = 100_000)]
    journal_retention: usize,
    /// Source positions of live entries.
    #[arg(long, value_enum, default_value_t = Positions::Advancing)]
    positions: Positions,
    /// Send live values as PostgreSQL text (`"42"`, `"t"`).
    #[arg(long)]
    text_values: bool,
    /// Behave as a PostgreSQL-backed laredo-server: `--positions empty --text-values`.
    #[arg(long)]
    postgres_like: bool,
    /// Play changes from this JSON Lines file instead of random ones.
    #[arg(long)]
    script: Option<std::path::PathBuf>,
    /// Serve over TLS (an `https://` source) with this PEM certificate chain;
    /// needs `--tls-key`.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Positions {
    Advancing,
    Stuck,
    Empty,
}

fn duration(text: &str) -> Result<GoDuration, String> {
    GoDuration::parse(text)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init(LogFormat::Text, None).map_err(anyhow::Error::msg)?;
    let args = Args::parse();
    let mut config = SimConfig {
        schema: args.schema,
        table: args.table,
        rows: args.rows,
        seed: args.seed,
        heartbeat_interval: args.heartbeat_interval.0,
        journal_retention: args.journal_retention,
        positions: match args.positions {
            Positions::Advancing => PositionMode::Advancing,
            Positions::Stuck => PositionMode::Stuck,
            Positions::Empty => PositionMode::Empty,
        },
        live_values: if args.text_values {
            LiveValues::Text
        } else {
            LiveValues::Typed
        },
    };
    if args.postgres_like {
        config = config.postgres_like();
    }
    let script = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(parse_script(&text).with_context(|| path.display().to_string())?)
        }
        None => None,
    };
    let table = format!("{}.{}", config.schema, config.table);
    let sim = Sim::new(config);
    let server = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let read = |path: &std::path::PathBuf| {
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))
            };
            sim.serve_tls(args.listen, &read(cert)?, &read(key)?).await
        }
        _ => sim.serve(args.listen).await,
    }
    .with_context(|| format!("listening on {}", args.listen))?;
    let _changes = match script {
        Some(changes) => sim.spawn_script(changes, args.rate),
        None => sim.spawn_generator(args.rate),
    };
    let tls = args.tls_cert.is_some();
    tracing::info!(addr = %server.local_addr(), %table, rows = args.rows, rate = args.rate, tls, "fanout-sim serving (Connect, gRPC-Web, gRPC)");
    cli::shutdown_signal().await?;
    tracing::info!(sequence = sim.sequence(), "stopping");
    tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .ok();
    Ok(())
}
