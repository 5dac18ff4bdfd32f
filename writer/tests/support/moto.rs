//! A moto server (S3 with conditional writes, STS, SNS, SQS, Kinesis) on a
//! free loopback port, one per test, killed on drop.
//!
//! The binary is `$MOTO_SERVER`, else `$LAREDO_TOOLS_DIR/moto/bin/moto_server`
//! (default `~/.cache/laredo-tools`), else `moto_server` on `PATH`; install
//! the pinned version with `bash .ci/tools/moto.sh`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_credential_types::Credentials;
use snapshot_writer::aws::{CredentialResolver, CredentialResolverBuilder};
use snapshot_writer::config::CredentialProfile;
use snapshot_writer::dest::s3::{S3Destination, S3Location, S3Options};

/// The region every test uses.
pub const REGION: &str = "us-east-1";
/// The dummy access key of the ambient identity in tests.
pub const ACCESS_KEY: &str = "AKIDMOTOTESTS";

/// A running moto server.
pub struct Moto {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
    log: tempfile::NamedTempFile,
}

impl Moto {
    /// Starts moto on a free port and waits until it answers.
    pub async fn start() -> Self {
        let binary = find_binary();
        let log = tempfile::NamedTempFile::new().expect("temp file for the moto log");
        let port = free_port();
        let mut moto = Self {
            binary,
            port,
            child: None,
            log,
        };
        moto.spawn().await;
        moto
    }

    async fn spawn(&mut self) {
        let log = self.log.reopen().expect("moto log");
        let child = launcher(&self.binary)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; install moto with `bash .ci/tools/moto.sh`",
                    self.binary.display()
                )
            });
        self.child = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let url = format!("{}/moto-api/", self.endpoint());
        let http = reqwest::Client::new();
        for _ in 0..600 {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "moto_server exited ({status}) on port {}:\n{}",
                    self.port,
                    std::fs::read_to_string(self.log.path()).unwrap_or_default()
                );
            }
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "moto_server on port {} did not answer {url} within 30 s",
            self.port
        );
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server; its state (buckets, objects, queues) is lost.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// A resolver builder whose ambient identity is a dummy key in
    /// [`REGION`] with every service at this server, whatever the
    /// developer's environment holds.
    pub fn resolver_builder(
        &self,
        profiles: BTreeMap<String, CredentialProfile>,
    ) -> CredentialResolverBuilder {
        CredentialResolver::builder(profiles)
            .ambient_credentials(Credentials::new(ACCESS_KEY, "secret", None, None, "tests"))
            .ambient_region(REGION)
            .endpoint_url(self.endpoint())
    }

    /// [`resolver_builder`](Self::resolver_builder) without profiles.
    pub fn resolver(&self) -> CredentialResolver {
        self.resolver_builder(BTreeMap::new()).build()
    }

    /// The S3 location of `bucket`/`prefix` on this server (path style).
    pub fn location(&self, bucket: &str, prefix: &str) -> S3Location {
        S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            region: None,
            endpoint: Some(self.endpoint()),
            path_style: true,
            credentials: None,
        }
    }

    /// Creates `bucket` and returns a destination on it under `prefix`.
    pub async fn destination(
        &self,
        bucket: &str,
        prefix: &str,
        options: S3Options,
    ) -> S3Destination {
        self.create_bucket(bucket).await;
        S3Destination::connect_with(&self.location(bucket, prefix), &self.resolver(), options)
            .await
            .expect("S3 destination on moto")
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, bucket: &str) {
        self.s3_client()
            .await
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create bucket");
    }

    /// A plain S3 client on this server, for checks behind the destination's back.
    pub async fn s3_client(&self) -> aws_sdk_s3::Client {
        let sdk = self
            .resolver()
            .sdk_config("test", None, None)
            .await
            .unwrap();
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        )
    }

    /// The SDK configuration of the ambient test identity.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        self.resolver()
            .sdk_config("test", None, None)
            .await
            .unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The command that runs moto. moto checks a conditional write and then
/// stores the object without a lock, relying on no other request thread
/// running in between; on a busy machine Python's 5 ms thread switch lands
/// there and two concurrent `If-Match` writers both win. When `moto_server`
/// is a Python script, run its entry point with a long switch interval so a
/// request's check and write are not preempted (threads still switch at
/// every socket wait).
fn launcher(binary: &Path) -> Command {
    let interpreter = std::fs::read_to_string(binary)
        .ok()
        .and_then(|script| script.lines().next().map(str::to_owned))
        .and_then(|line| line.strip_prefix("#!").map(|i| i.trim().to_owned()))
        .filter(|i| {
            Path::new(i)
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("python"))
        });
    match interpreter {
        Some(python) => {
            let mut command = Command::new(python);
            command.args([
                "-c",
                "import sys; sys.setswitchinterval(600); \
                 from moto.server import main; sys.exit(main())",
            ]);
            command
        }
        None => Command::new(binary),
    }
}

fn find_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let tools = std::env::var_os("LAREDO_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/laredo-tools")));
    if let Some(tools) = tools {
        let candidate = tools.join("moto/bin/moto_server");
        if candidate.is_file() {
            return candidate;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("moto_server");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "moto_server not found ($MOTO_SERVER, $LAREDO_TOOLS_DIR/moto/bin, PATH): \
         install it with `bash .ci/tools/moto.sh` (or run the tests with `bash .ci/test`)"
    );
}

/// A port free right now; moto binds it a moment later.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
