//! The local demo (`cargo run --release -p snapshot-writer --example demo`):
//! everything on one machine with no external service — the fan-out
//! simulator serving a generated table with live changes over a real
//! socket, and a writer archiving it to a local folder with its HTTP API up.
//!
//! An example rather than a subcommand: the simulator is a dev-dependency of
//! the writer and stays out of its binary.

#![allow(clippy::print_stdout)] // the demo talks to the person who started it

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use fanout_sim::{Sim, SimConfig};
use snapshot_writer::cli::serve;
use snapshot_writer::config::{self, WriterConfig};
use snapshot_writer::service::handle::TableHandle;
use snapshot_writer::telemetry::{self, LogFormat};

// As the writer's binary (src/main.rs), so the demo ingests at its pace.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Local demo: a fan-out simulator with a generated table and live
/// changes, and a writer archiving it to a local folder.
#[derive(Debug, Clone, Parser)]
#[command(name = "demo")]
struct DemoArgs {
    /// Folder the archive is written to.
    #[arg(long, default_value = "laredo-demo")]
    dir: PathBuf,
    /// Rows in the generated table.
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    /// Live changes per second (updates, inserts and deletes).
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Port of the writer's HTTP API (0: any free port).
    #[arg(long, default_value_t = snapshot_contract::names::HTTP_PORT)]
    http_port: u16,
}

const SCHEMA: &str = "public";
const TABLE: &str = "accounts";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = DemoArgs::parse();
    telemetry::init(LogFormat::Text, None).map_err(anyhow::Error::msg)?;
    run(args).await
}

/// Runs the demo until Ctrl-C.
async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let sim = Sim::new(SimConfig {
        schema: SCHEMA.into(),
        table: TABLE.into(),
        rows: args.rows,
        ..SimConfig::default()
    });
    let server = sim
        .serve(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
        .await
        .context("starting the fan-out simulator")?;
    let _changes = sim.spawn_generator(args.rate);
    let sim_addr = server.local_addr();
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating the archive folder {}", args.dir.display()))?;
    let dir = std::path::absolute(&args.dir).unwrap_or_else(|_| args.dir.clone());
    let config = demo_config(sim_addr, &dir, args.http_port)?;
    let archive = dir.join(format!("{TABLE}/"));
    let banner = move |api: SocketAddr, handles: Vec<TableHandle>| {
        let api = format!("http://{api}");
        let archive = archive.display();
        println!("laredo snapshot-writer demo");
        println!(
            "  fan-out simulator   http://{sim_addr}  ({SCHEMA}.{TABLE}: {} rows, {} changes/s)",
            args.rows, args.rate
        );
        println!("  archive             {archive}manifest.json");
        println!("  HTTP API            {api}/status   {api}/metrics   {api}/health/ready");
        println!("  force a snapshot    curl -XPOST {api}/snapshot");
        println!("  read it back        snapshot-writer read {archive}");
        println!("  verify it           snapshot-writer verify {archive}");
        println!("Ctrl-C stops it; the writer flushes a final diff first.");
        tokio::spawn(print_progress(handles));
    };
    let ctrl_c = async { tokio::signal::ctrl_c().await.context("waiting for Ctrl-C") };
    let result = serve(config, ctrl_c, banner).await;
    server.stop().await;
    result
}

/// The writer config the demo runs: diffs every 5 s, a re-base every 2 min
/// or when half the table changed, both formats for snapshots.
fn demo_config(
    sim: SocketAddr,
    dir: &std::path::Path,
    http_port: u16,
) -> anyhow::Result<WriterConfig> {
    let yaml = format!(
        r#"
http: {{port: {http_port}, bind: 127.0.0.1}}
shutdown: {{grace_period: 10s}}
source: {{server: "http://{sim}", schema: {SCHEMA}, table: {TABLE}}}
diff: {{interval: 5s}}
snapshot: {{min_interval: 30s, max_interval: 2m, max_churn_fraction: 0.5}}
retention: {{keep_epochs: 3}}
destinations: [{{type: local, path: {dir:?}}}]
formats: {{snapshot: [jsonl, protobuf], diff: [jsonl]}}
"#
    );
    config::parse_str(&yaml).context("building the demo config")
}

/// One line every 5 s: what the archive and the buffer hold.
async fn print_progress(handles: Vec<TableHandle>) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    every.tick().await;
    loop {
        every.tick().await;
        for handle in &handles {
            let s = handle.status();
            println!(
                "{}: {}  epoch {}  head {}  rows {}  diffs since snapshot {}  buffered {}  ready {}",
                s.table,
                format!("{:?}", s.state).to_lowercase(),
                s.epoch,
                if s.head_position.is_empty() {
                    "-"
                } else {
                    &s.head_position
                },
                s.row_count,
                s.diffs_since_snapshot,
                s.buffer_depth,
                s.ready
            );
        }
    }
}
