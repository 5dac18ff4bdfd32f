//! A `snapshot-writer` process under test, a fan-out simulator for it to
//! follow, and the comparisons the tests make.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fanout_sim::{Sim, SimServer};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use snapshot_writer::archive::Manifest;
use snapshot_writer::dest::LocalDestination;
use snapshot_writer::status::TableStatus;

use crate::support::service;

/// The table the simulator serves.
pub const SCHEMA: &str = "public";
/// The table the simulator serves.
pub const TABLE: &str = "items";

/// The path of the `snapshot-writer` binary cargo built for these tests.
pub fn writer_binary() -> &'static str {
    env!("CARGO_BIN_EXE_snapshot-writer")
}

/// A fan-out simulator on a loopback port.
pub struct Source {
    pub sim: Sim,
    pub server: Option<SimServer>,
    pub addr: SocketAddr,
}

impl Source {
    /// Serves a generated table of `rows` rows.
    pub async fn start(rows: usize) -> Self {
        let (sim, server) = service::sim(rows).await;
        let addr = server.local_addr();
        Self {
            sim,
            server: Some(server),
            addr,
        }
    }

    /// Stops serving (the table and journal are kept).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Serves again on the same port.
    pub async fn restart(&mut self) {
        self.server = Some(self.sim.serve(self.addr).await.unwrap());
    }

    /// The simulator's table, decoded, by key.
    pub fn rows(&self) -> BTreeMap<String, prost_types::Struct> {
        service::sim_rows(&self.sim)
    }
}

/// The table's archive in the local destination `dir`: verified (every
/// object present with its size and checksum, the chain contiguous), then
/// rebuilt at its head.
pub async fn verified_archive(dir: &Path) -> (Manifest, BTreeMap<String, prost_types::Struct>) {
    service::verified_head(Arc::new(LocalDestination::new(dir))).await
}

/// A running `snapshot-writer --config FILE` with its log collected.
pub struct WriterProcess {
    child: Child,
    /// `http://127.0.0.1:PORT` of its HTTP API.
    pub api: String,
    log: Arc<Mutex<Vec<String>>>,
    http: reqwest::Client,
}

impl WriterProcess {
    /// Writes `config` (YAML; `http.port` should be 0) to `dir/writer.yaml`,
    /// starts the writer with JSON logs and waits for its API address.
    pub async fn start(dir: &Path, config: &str) -> Self {
        let file = dir.join("writer.yaml");
        std::fs::write(&file, config).unwrap();
        let mut child = Command::new(writer_binary())
            .args(["--log-format", "json", "--log-level", "info", "--config"])
            .arg(&file)
            // Static credentials so AWS clients never probe instance
            // metadata; sinks in these tests point at closed ports.
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (log, api) = collect_log(child.stderr.take().unwrap());
        let api = tokio::task::spawn_blocking(move || api.recv_timeout(Duration::from_secs(30)))
            .await
            .unwrap()
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("the writer never logged its HTTP address")
            });
        Self {
            child,
            api: format!("http://{api}"),
            log,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    /// `GET path`: status code and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.request(reqwest::Method::GET, path).await
    }

    /// `POST path`: status code and body.
    pub async fn post(&self, path: &str) -> (u16, String) {
        self.request(reqwest::Method::POST, path).await
    }

    async fn request(&self, method: reqwest::Method, path: &str) -> (u16, String) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.api))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// `GET /status`, parsed.
    pub async fn status(&self) -> Vec<TableStatus> {
        let (code, body) = self.get("/status").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The status of one table.
    pub async fn table(&self, name: &str) -> TableStatus {
        self.status()
            .await
            .into_iter()
            .find(|t| t.table == name)
            .unwrap_or_else(|| panic!("{name} is not in /status"))
    }

    /// Polls `/status` until `condition` holds for `table` (up to `within`).
    pub async fn wait_for(
        &self,
        table: &str,
        within: Duration,
        what: &str,
        condition: impl Fn(&TableStatus) -> bool,
    ) -> TableStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let status = self.table(table).await;
            if condition(&status) {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; last status: {status:#?}\nlog tail:\n{}",
                self.log_tail(20)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        kill(pid, signal).unwrap();
    }

    /// Waits for the process to exit (up to `within`).
    pub async fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the log reader drain the pipe.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return status;
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "the writer did not exit in {within:?}; log tail:\n{}",
                    self.log_tail(20)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last `n` log lines.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(n)..].join("\n")
    }

    /// Log lines containing `needle`.
    pub fn log_lines_with(&self, needle: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(needle)).cloned().collect()
    }
}

impl Drop for WriterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the writer's stderr on a thread: every line is kept, and the HTTP
/// address from the "snapshot-writer started" line is sent on the channel.
fn collect_log(
    stderr: std::process::ChildStderr,
) -> (
    Arc<Mutex<Vec<String>>>,
    std::sync::mpsc::Receiver<SocketAddr>,
) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && event["message"] == "snapshot-writer started"
                && let Some(addr) = event["http"].as_str()
                && let Ok(addr) = addr.parse()
            {
                let _ = tx.send(addr);
            }
            lines.lock().unwrap().push(line);
        }
    });
    (log, rx)
}

/// A writer config for one table of the simulator at `source`, archived
/// under `archive`; `extra` adds or overrides top-level table keys.
pub fn one_table_config(source: SocketAddr, archive: &Path, extra: &str) -> String {
    format!(
        r#"
http: {{port: 0, bind: 127.0.0.1}}
shutdown: {{grace_period: 20s}}
source:
  server: "http://{source}"
  schema: {SCHEMA}
  table: {TABLE}
  reconnect: {{initial_backoff: 100ms, max_backoff: 1s}}
destinations: [{{type: local, path: {archive:?}}}]
{extra}
"#
    )
}

/// Whether the table's archive in `dir` has a manifest yet.
pub fn has_manifest(dir: &Path) -> bool {
    dir.join(TABLE).join("manifest.json").exists()
}

/// A fresh temporary directory with an `archive/` folder inside.
pub fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    (dir, archive)
}

/// A loopback address nothing listens on.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

/// The table name as the writer reports it.
pub fn table_name() -> String {
    format!("{SCHEMA}.{TABLE}")
}
