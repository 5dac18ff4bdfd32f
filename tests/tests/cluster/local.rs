//! The processes a cluster test runs in place of the pods a kubelet would
//! run: the fan-out simulator as the source, and the writer from the config
//! the operator rendered into its ConfigMap, moved to this machine.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};
use snapshot_contract::config::DestinationConfig;
use snapshot_contract::names;
use snapshot_contract::status::TableStatus;
use tokio::process::{Child, Command};

use super::kit::{TIMEOUT, free_port, spawn, wait_for, writer_binaries};

/// `fanout-sim` streaming changes to `public.orders`, killed on drop.
pub struct Sim {
    /// Where it listens on 127.0.0.1.
    pub port: u16,
    _process: Child,
}

impl Sim {
    /// Starts it (200 rows, 20 changes a second) and waits until it listens.
    pub async fn start() -> Self {
        let (_, sim) = writer_binaries();
        let port = free_port();
        let process = spawn(Command::new(&sim).args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--schema",
            "public",
            "--table",
            "orders",
            "--rows",
            "200",
            "--rate",
            "20",
        ]));
        wait_for("fanout-sim to listen", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        Self {
            port,
            _process: process,
        }
    }
}

/// A writer process, as the kubelet would run the StatefulSet's pod.
pub struct Writer {
    process: Child,
    status_url: String,
}

impl Writer {
    /// Starts `snapshot-writer --config config`, its API on `port`.
    pub fn start(config: &Path, port: u16) -> Self {
        let (writer, _) = writer_binaries();
        Self {
            process: spawn(Command::new(&writer).arg("--config").arg(config)),
            status_url: format!("http://127.0.0.1:{port}{}", names::STATUS_PATH),
        }
    }

    /// Its one table's `/status` entry, once it answers.
    pub async fn status(&self) -> Option<TableStatus> {
        let tables: Vec<TableStatus> = reqwest::get(&self.status_url)
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        tables.into_iter().next()
    }

    /// SIGTERM, as the kubelet sends when the pod goes; waits for the exit.
    pub async fn terminate(&mut self) {
        let pid = self.process.id().expect("the writer is running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let exit = tokio::time::timeout(TIMEOUT, self.process.wait())
            .await
            .expect("the writer exits after SIGTERM")
            .unwrap();
        assert!(exit.success(), "the writer's exit after SIGTERM: {exit}");
    }
}

/// The config the operator rendered for `name`, moved to this machine
/// (API on `port`, archive under `dir`), written to a file in `dir`.
pub async fn writer_config(
    client: &Client,
    ns: &str,
    name: &str,
    port: u16,
    dir: &Path,
) -> PathBuf {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let child = format!("{name}-writer");
    let config_map = wait_for("the writer's ConfigMap", || {
        let (api, child) = (config_maps.clone(), child.clone());
        async move { api.get_opt(&child).await.ok().flatten() }
    })
    .await;
    let rendered = &config_map.data.as_ref().unwrap()[names::CONFIG_FILE_NAME];
    let path = dir.join(names::CONFIG_FILE_NAME);
    std::fs::write(&path, local_config(rendered, port, &dir.join("archive"))).unwrap();
    path
}

/// The rendered config, moved from the pod's world (the writer's port,
/// `/data`) to this machine's.
pub fn local_config(rendered: &str, port: u16, archive: &Path) -> String {
    let mut config = snapshot_contract::parse_str(rendered).unwrap();
    config.http.port = port;
    config.http.bind = [127, 0, 0, 1].into();
    config.tables[0].destinations[0] = DestinationConfig::Local {
        path: archive.to_owned(),
    };
    serde_yaml::to_string(&config).unwrap()
}
