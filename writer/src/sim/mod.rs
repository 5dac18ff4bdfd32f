//! `fanout-sim`: a laredo fan-out server for tests and demos. It speaks the
//! real replication protocol over real sockets, on one port, in every
//! dialect the client supports: Connect and gRPC-Web over HTTP/1.1 (or
//! HTTP/2), and gRPC over HTTP/2 cleartext; the request's content type
//! selects.
//!
//! It serves one table from a seeded generator (rows of ~200 bytes, eight
//! typed columns, key `id`) or from scripted changes, with laredo-server's
//! semantics: handshake with column definitions, mode choice (position →
//! sequence → full snapshot), snapshot, journal catch-up, live entries,
//! heartbeats when idle, GoAway on drain, filters. And it misbehaves on
//! request: drops connections, stalls, re-snapshots, sends positions that
//! do not advance or are empty with text values (as a PostgreSQL-backed
//! server), malformed and oversized frames, HTML.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use snapshot_writer::sim::{Sim, SimConfig};
//! let sim = Sim::new(SimConfig { rows: 1000, ..SimConfig::default() });
//! let server = sim.serve("127.0.0.1:0".parse().unwrap()).await?;
//! let _changes = sim.spawn_generator(100.0); // 100 changes/s until dropped
//! println!("listening on {}", server.local_addr());
//! server.stop().await; // the state survives; `serve` again to restart
//! # Ok(()) }
//! ```

mod filter;
mod http;
pub mod lsn;
pub mod rows;
mod script;
mod store;
mod stream;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use laredo_proto::replication::v1::ColumnDefinition;
use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;

pub use filter::Filter;
pub use script::{ScriptChange, ScriptError, parse_script};

use crate::table::Row;
use rows::{Generated, Generator};
use store::{Store, Write};

/// How live journal entries carry source positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionMode {
    /// A new LSN (`%X/%08X`) per entry.
    #[default]
    Advancing,
    /// Every entry repeats the baseline's LSN.
    Stuck,
    /// Live entries carry `""`, baseline entries the baseline LSN: what a
    /// PostgreSQL-backed laredo-server sends.
    Empty,
}

/// How live changes carry values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveValues {
    /// As typed JSON values, like the baseline.
    #[default]
    Typed,
    /// As pgoutput text (`"42"`, `"t"`): a PostgreSQL-backed laredo-server.
    Text,
}

/// The simulator's settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Schema served; requests for another table get `not_found`.
    pub schema: String,
    /// Table served.
    pub table: String,
    /// Rows generated as the baseline.
    pub rows: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Idle time after which a stream gets a heartbeat (laredo: 5 s).
    pub heartbeat_interval: Duration,
    /// Journal entries kept; a client further behind gets a full snapshot.
    pub journal_retention: usize,
    /// Positions of live entries.
    pub positions: PositionMode,
    /// Values of live entries.
    pub live_values: LiveValues,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            schema: "public".into(),
            table: "items".into(),
            rows: 1000,
            seed: 1,
            heartbeat_interval: Duration::from_secs(5),
            journal_retention: 100_000,
            positions: PositionMode::Advancing,
            live_values: LiveValues::Typed,
        }
    }
}

impl SimConfig {
    /// What a PostgreSQL-backed laredo-server sends: empty live positions
    /// and live values as text.
    pub fn postgres_like(mut self) -> Self {
        self.positions = PositionMode::Empty;
        self.live_values = LiveValues::Text;
        self
    }
}

/// Wrong bytes to send on every open stream ([`Sim::inject`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes that are no envelope (an HTML page) inside the stream.
    Garbage,
    /// An envelope whose payload is not a `SyncResponse`.
    MalformedMessage,
    /// A `SyncResponse` holding only a field this protocol version lacks.
    UnknownVariant,
    /// An envelope header announcing this many bytes, then a few bytes.
    Oversized(u32),
    /// Half an envelope, then the end of the response.
    TruncatedFrame,
    /// An end-of-stream message that is not the protocol's (bad JSON for
    /// Connect, garbage trailers for gRPC-Web, a non-numeric `grpc-status`).
    BadEndStream,
    /// A journal entry whose row is not a `Struct` (the stream stays valid).
    MalformedRow,
    /// A journal entry whose `action`, a string field, is not UTF-8.
    ActionNotText,
}

/// A fault for the next stream that sends a full snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotFault {
    /// Cut the connection after this many rows.
    DropAfterRows(usize),
    /// Go silent after this many rows (and signal [`Sim::wait_stalled`]).
    StallAfterRows(usize),
}

/// A wrong answer to the next HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFault {
    /// `200 OK` with an HTML page, as a misconfigured proxy.
    Html,
    /// This HTTP status with a plain-text body.
    Status(u16),
}

/// Something every open stream does now.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    Drop,
    End,
    Stall,
    GoAway {
        reason: String,
        deadline: Option<Duration>,
    },
    Resnapshot,
    Inject(Fault),
}

struct Data {
    store: Store,
    generator: Generator,
}

pub(crate) struct Shared {
    config: SimConfig,
    data: Mutex<Data>,
    head: watch::Sender<i64>,
    commands: broadcast::Sender<Command>,
    snapshot_fault: Mutex<Option<SnapshotFault>>,
    request_fault: Mutex<Option<RequestFault>>,
    open_streams: AtomicUsize,
    stalled: Notify,
    /// The columns each new stream's handshake announces.
    columns: Mutex<Vec<ColumnDefinition>>,
}

impl Shared {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn columns(&self) -> Vec<ColumnDefinition> {
        self.columns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
        slot.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// A simulated fan-out server's state; cheap to clone. Its listener is a
/// [`SimServer`]; stopping that keeps this state, so a test can restart the
/// server on the same port and the client resumes.
#[derive(Clone)]
pub struct Sim {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field(
                "table",
                &format!("{}.{}", self.shared.config.schema, self.shared.config.table),
            )
            .field("sequence", &self.sequence())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A simulator with `config.rows` generated baseline rows.
    pub fn new(config: SimConfig) -> Self {
        let mut generator = Generator::new(config.seed);
        let mut store = Store::new(config.positions, config.journal_retention);
        store.load_baseline((0..config.rows).map(|_| generator.insert()));
        let (head, _) = watch::channel(store.sequence());
        let (commands, _) = broadcast::channel(64);
        Self {
            shared: Arc::new(Shared {
                config,
                data: Mutex::new(Data { store, generator }),
                head,
                commands,
                snapshot_fault: Mutex::new(None),
                request_fault: Mutex::new(None),
                open_streams: AtomicUsize::new(0),
                stalled: Notify::new(),
                columns: Mutex::new(rows::columns()),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Listens on `addr` (port 0 picks one) until [`SimServer::stop`].
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<SimServer> {
        http::serve(self.shared.clone(), addr, None).await
    }

    /// Like [`serve`](Self::serve), over TLS with `cert_chain` and `key`
    /// (PEM), offering `h2` and `http/1.1` by ALPN: an `https://` source.
    pub async fn serve_tls(
        &self,
        addr: SocketAddr,
        cert_chain: &[u8],
        key: &[u8],
    ) -> std::io::Result<SimServer> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let invalid = |error: &dyn std::fmt::Display| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, error.to_string())
        };
        let certs = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(&e))?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| invalid(&e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(&e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| invalid(&e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        http::serve(self.shared.clone(), addr, Some(acceptor)).await
    }

    /// Generates `count` random changes now.
    pub fn generate(&self, count: usize) {
        let mut data = self.shared.data();
        let Data { store, generator } = &mut *data;
        for _ in 0..count {
            let change = generator.next_change(|id| store.contains(&rows::key_of_id(id)));
            let write = match change {
                Generated::Insert(row) => Write::Insert(row),
                Generated::Update(row) => Write::Update(row),
                Generated::Delete(id) => Write::Delete(rows::id_row(id)),
            };
            // Generated writes always name existing rows.
            let _ = store.write(write);
        }
        self.shared.head.send_replace(store.sequence());
    }

    /// Applies scripted changes in order; stops at the first that cannot apply.
    pub fn apply(
        &self,
        changes: impl IntoIterator<Item = ScriptChange>,
    ) -> Result<(), ScriptError> {
        let mut data = self.shared.data();
        let mut result = Ok(());
        for change in changes {
            let (line, write) = change.into_write();
            if let Err(reason) = data.store.write(write) {
                result = Err(ScriptError { line, reason });
                break;
            }
        }
        self.shared.head.send_replace(data.store.sequence());
        result
    }

    /// Generates `rate` changes per second until the handle is dropped.
    pub fn spawn_generator(&self, rate: f64) -> Generating {
        let sim = self.clone();
        Generating(tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let mut done = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tick.tick().await;
                let due = (start.elapsed().as_secs_f64() * rate) as u64;
                if due > done {
                    sim.generate(usize::try_from(due - done).unwrap_or(usize::MAX));
                    done = due;
                }
            }
        }))
    }

    /// Plays scripted changes at `rate` per second (all at once if `rate`
    /// is 0); a change that cannot apply is logged and skipped.
    pub fn spawn_script(&self, changes: Vec<ScriptChange>, rate: f64) -> Generating {
        let sim = self.clone();
        Generating(tokio::spawn(async move {
            let pause = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
            for change in changes {
                if let Err(error) = sim.apply([change]) {
                    tracing::warn!(%error, "fanout-sim: scripted change skipped");
                }
                if let Some(pause) = pause {
                    tokio::time::sleep(pause).await;
                }
            }
        }))
    }

    /// The authoritative rows (typed, whatever the wire form).
    pub fn rows(&self) -> Vec<Row> {
        self.shared.data().store.rows().cloned().collect()
    }

    /// The newest journal sequence.
    pub fn sequence(&self) -> i64 {
        self.shared.data().store.sequence()
    }

    /// Keeps only the newest `keep` journal entries, so resumes from before
    /// them fall back to a full snapshot.
    pub fn prune_journal(&self, keep: usize) {
        self.shared.data().store.prune(keep);
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.shared.open_streams.load(Ordering::SeqCst)
    }

    /// Cuts every open stream's connection.
    pub fn drop_streams(&self) {
        let _ = self.shared.commands.send(Command::Drop);
    }

    /// Ends every open stream cleanly, as laredo-server does at the end of a
    /// drain (laredo's Go client then stops for good).
    pub fn end_streams(&self) {
        let _ = self.shared.commands.send(Command::End);
    }

    /// Makes every open stream go silent (no entries, no heartbeats).
    pub fn stall_streams(&self) {
        let _ = self.shared.commands.send(Command::Stall);
    }

    /// Sends GoAway on every open stream; each ends cleanly after `deadline`
    /// (never, if `None`, until the client leaves). New streams are served.
    pub fn go_away(&self, reason: &str, deadline: Option<Duration>) {
        let _ = self.shared.commands.send(Command::GoAway {
            reason: reason.to_owned(),
            deadline,
        });
    }

    /// Sends a fresh full snapshot on every open stream, mid-stream.
    pub fn resnapshot(&self) {
        let _ = self.shared.commands.send(Command::Resnapshot);
    }

    /// Makes every stream opened from now on announce `columns` in its
    /// handshake, as laredo-server does after a schema change (open streams
    /// keep theirs: drop them to have the clients reconnect).
    pub fn announce_columns(&self, columns: Vec<ColumnDefinition>) {
        *self
            .shared
            .columns
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = columns;
    }

    /// Sends `fault` on every open stream.
    pub fn inject(&self, fault: Fault) {
        let _ = self.shared.commands.send(Command::Inject(fault));
    }

    /// Arms a fault for the next stream that sends a full snapshot.
    pub fn arm_snapshot_fault(&self, fault: SnapshotFault) {
        *self
            .shared
            .snapshot_fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(fault);
    }

    /// Arms a wrong answer to the next HTTP request.
    pub fn arm_request_fault(&self, fault: RequestFault) {
        *self
            .shared
            .request_fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(fault);
    }

    /// Waits until a stream stalled by [`SnapshotFault::StallAfterRows`] or
    /// [`Sim::stall_streams`] has gone silent.
    pub async fn wait_stalled(&self) {
        self.shared.stalled.notified().await;
    }
}

/// A running generator; dropping it stops it.
#[derive(Debug)]
pub struct Generating(tokio::task::JoinHandle<()>);

impl Drop for Generating {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A listening simulator. Dropping it stops listening too.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the listener and every connection; returns once the port is free.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
