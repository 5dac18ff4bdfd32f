//! [`Sim`]: the simulated server's state (its table, journal and armed
//! faults) and the handle tests drive it with; [`SimServer`]: one listener
//! serving it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use laredo_proto::replication::v1::ColumnDefinition;
use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::rows::{self, Generated, Generator};
use crate::script::{ScriptChange, ScriptError};
use crate::store::{Store, Write};
use crate::{Fault, RequestFault, Row, SimConfig, SnapshotFault, http};

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

/// The served table and the generator of its changes.
pub(crate) struct Data {
    pub(crate) store: Store,
    generator: Generator,
}

/// What the listener's connections and streams share with the [`Sim`].
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    data: Mutex<Data>,
    pub(crate) head: watch::Sender<i64>,
    pub(crate) commands: broadcast::Sender<Command>,
    pub(crate) snapshot_fault: Mutex<Option<SnapshotFault>>,
    pub(crate) request_fault: Mutex<Option<RequestFault>>,
    pub(crate) open_streams: AtomicUsize,
    pub(crate) stalled: Notify,
    /// The columns each new stream's handshake announces.
    columns: Mutex<Vec<ColumnDefinition>>,
}

impl Shared {
    /// The table and the generator, locked.
    pub(crate) fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The columns a handshake announces now.
    pub(crate) fn columns(&self) -> Vec<ColumnDefinition> {
        self.columns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes an armed fault out of its slot.
    pub(crate) fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
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
    /// The listener bound to `addr`, run by `task` until `cancel`.
    pub(crate) fn new(
        addr: SocketAddr,
        cancel: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            addr,
            cancel,
            task: Some(task),
        }
    }

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
