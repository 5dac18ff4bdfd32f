//! A loopback TCP proxy in front of a server that can take the server away
//! (connections refused, open ones cut) and bring it back with its state, the
//! way a network partition or a restarted load balancer looks to a client.
//! Counts the bytes clients sent, so a test can act in the middle of an
//! upload, and can hold the requests back for a moment (`pause`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The proxy; starts up.
pub struct Outage {
    listen: SocketAddr,
    upstream: SocketAddr,
    sent: Arc<AtomicU64>,
    paused: watch::Sender<bool>,
    up: Option<CancellationToken>,
}

impl Outage {
    /// A proxy on a free loopback port forwarding to `upstream_port`.
    pub fn start(upstream_port: u16) -> Self {
        let port = super::moto::free_port();
        let mut outage = Self {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            upstream: SocketAddr::from(([127, 0, 0, 1], upstream_port)),
            sent: Arc::new(AtomicU64::new(0)),
            paused: watch::Sender::new(false),
            up: None,
        };
        outage.up();
        outage
    }

    /// `http://127.0.0.1:<proxy port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// Bytes clients have sent through the proxy so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Stops forwarding what clients send (connections stay open) until
    /// [`resume`](Self::resume).
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Forwards again after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// Takes the server away: the port refuses connections and every open
    /// connection is cut.
    pub fn down(&mut self) {
        if let Some(token) = self.up.take() {
            token.cancel();
        }
    }

    /// Brings the server back on the same port.
    pub fn up(&mut self) {
        if self.up.is_some() {
            return;
        }
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.listen).expect("bind the proxy port again");
        let listener = socket.listen(64).expect("listen");
        let token = CancellationToken::new();
        let (upstream, sent, accept_token) = (self.upstream, Arc::clone(&self.sent), token.clone());
        let paused = self.paused.subscribe();
        tokio::spawn(async move {
            loop {
                let client = tokio::select! {
                    _ = accept_token.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => client,
                        Err(_) => continue,
                    },
                };
                let (token, sent, paused) =
                    (accept_token.clone(), Arc::clone(&sent), paused.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = forward(client, upstream, sent, paused) => {}
                    }
                });
            }
        });
        self.up = Some(token);
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.down();
    }
}

async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    sent: Arc<AtomicU64>,
    mut paused: watch::Receiver<bool>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = client_read.read(&mut buf).await {
            if paused.wait_for(|paused| !paused).await.is_err() {
                break;
            }
            if n == 0 || server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            sent.fetch_add(n as u64, Ordering::SeqCst);
        }
        let _ = server_write.shutdown().await;
    };
    let responses = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(requests, responses);
}
