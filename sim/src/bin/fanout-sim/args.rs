//! The command line of `fanout-sim` (README, "fanout-sim").

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use fanout_sim::{LiveValues, PositionMode, SimConfig};
use snapshot_contract::GoDuration;

/// Serves one generated (or scripted) table over laredo's replication
/// protocol: Connect, gRPC-Web and gRPC on one port.
#[derive(Debug, Parser)]
#[command(name = "fanout-sim", version)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4002")]
    pub listen: SocketAddr,
    /// Schema of the served table.
    #[arg(long, default_value = "public")]
    schema: String,
    /// Name of the served table.
    #[arg(long, default_value = "items")]
    table: String,
    /// Rows generated as the baseline (key column `id`).
    #[arg(long, default_value_t = 10_000)]
    pub rows: usize,
    /// Random changes (70% updates, 15% inserts, 15% deletes) per second;
    /// with --script, scripted changes per second (0: all at once).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Heartbeat after this much idle time (Go syntax, as the writer's
    /// config: `5s`, `500ms`).
    #[arg(long, default_value = "5s", value_parser = GoDuration::parse)]
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
    pub script: Option<PathBuf>,
    /// Serve over TLS (an `https://` source) with this PEM certificate chain;
    /// needs `--tls-key`.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Positions {
    Advancing,
    Stuck,
    Empty,
}

impl Args {
    /// The simulator's settings these flags ask for.
    pub fn sim_config(&self) -> SimConfig {
        let config = SimConfig {
            schema: self.schema.clone(),
            table: self.table.clone(),
            rows: self.rows,
            seed: self.seed,
            heartbeat_interval: self.heartbeat_interval.0,
            journal_retention: self.journal_retention,
            positions: match self.positions {
                Positions::Advancing => PositionMode::Advancing,
                Positions::Stuck => PositionMode::Stuck,
                Positions::Empty => PositionMode::Empty,
            },
            live_values: if self.text_values {
                LiveValues::Text
            } else {
                LiveValues::Typed
            },
        };
        if self.postgres_like {
            config.postgres_like()
        } else {
            config
        }
    }
}
