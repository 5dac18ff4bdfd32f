//! The fan-out client against an `https://` simulator (a laredo-server
//! behind TLS), on every transport: the certificate is verified against
//! the system roots plus `source.tls.ca_file`, and an unknown issuer is a
//! clear connection error, never a plaintext fallback.

#![allow(clippy::unwrap_used)]

#[path = "fanout/harness.rs"]
#[allow(dead_code)] // shared with fanout.rs, which uses all of it
mod harness;

use fanout_sim::{Sim, SimConfig, SimServer};
use harness::{BASELINE_ROWS, Follower, all, converges_with, eventually, source_config};
use snapshot_writer::config::{SourceConfig, SourceProtocol};

const CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem");
const CERT: &[u8] = include_bytes!("fixtures/tls/server.pem");
const KEY: &[u8] = include_bytes!("fixtures/tls/server.key");

async fn tls_sim() -> (Sim, SimServer) {
    let sim = Sim::new(SimConfig {
        rows: BASELINE_ROWS,
        heartbeat_interval: std::time::Duration::from_millis(100),
        ..SimConfig::default()
    });
    let server = sim
        .serve_tls("127.0.0.1:0".parse().unwrap(), CERT, KEY)
        .await
        .unwrap();
    (sim, server)
}

/// `https://localhost:<port>` (the name the test certificate is for).
fn https_config(server: &SimServer, protocol: SourceProtocol, ca: bool) -> SourceConfig {
    let mut config = source_config(server.local_addr(), protocol);
    config.server = format!("https://localhost:{}", server.local_addr().port());
    if ca {
        config.tls.ca_file = Some(CA.into());
    }
    config
}

async fn follows_over_tls(protocol: SourceProtocol) {
    let (sim, server) = tls_sim().await;
    let follower = Follower::start(&https_config(&server, protocol, true));
    converges_with(&follower, &sim, all).await;
    sim.generate(300);
    converges_with(&follower, &sim, all).await;
    server.stop().await;
}

#[tokio::test]
async fn connect_over_tls() {
    follows_over_tls(SourceProtocol::Connect).await;
}

#[tokio::test]
async fn grpc_web_over_tls() {
    follows_over_tls(SourceProtocol::GrpcWeb).await;
}

#[tokio::test]
async fn grpc_over_tls() {
    follows_over_tls(SourceProtocol::Grpc).await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_clear_error() {
    let (_sim, server) = tls_sim().await;
    let follower = Follower::start(&https_config(&server, SourceProtocol::Connect, false));
    eventually("the certificate error", || {
        follower
            .state()
            .last_error
            .is_some_and(|e| e.message.contains("certificate"))
    })
    .await;
    assert!(follower.rows().is_empty(), "nothing read without trust");
    server.stop().await;
}
