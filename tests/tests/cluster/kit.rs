//! What every cluster test needs: a client for the cluster `KUBECONFIG`
//! names, the CRD installed once, a namespace of its own that goes when the
//! test ends, the operator running in this process, and polling.

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_tests::{repository, required, tool};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client, Config};
use snapshot_operator::controller::{self, ControllerConfig};
use snapshot_operator::metrics::Metrics;
use snapshot_operator::reconcile::Settings;
use snapshot_operator::reconcile::build::BuildSettings;
use snapshot_operator::server::Health;
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

/// How long any one wait may take.
pub const TIMEOUT: Duration = Duration::from_secs(120);
/// Field manager of what the tests apply.
pub const MANAGER: &str = "e2e-tests";

/// A client for the cluster `KUBECONFIG` names, with the CRD installed; `None`
/// (after a notice) when no cluster is configured and none is required.
pub async fn cluster(test: &str) -> Option<Client> {
    if std::env::var_os("KUBECONFIG").is_none() {
        assert!(
            !required(),
            "{test}: KUBECONFIG is not set, but a cluster is required here (CI=true or \
             LAREDO_CLUSTER_REQUIRED): `.ci/test` starts the API server kit (.ci/tools/kube-kit.sh)"
        );
        eprintln!(
            "SKIPPED {test}: KUBECONFIG is not set. Start the API server kit \
             (`bash .ci/tools/kube-kit.sh start DIR`) or a kind cluster and point KUBECONFIG at it."
        );
        return None;
    }
    let client = Client::try_default()
        .await
        .expect("a client from KUBECONFIG");
    static CRD: OnceCell<()> = OnceCell::const_new();
    CRD.get_or_init(|| install_crd(client.clone())).await;
    Some(client)
}

/// A client that acts as `system:serviceaccount:{namespace}:{account}`, to
/// run the operator with exactly the chart's RBAC.
pub async fn impersonating(namespace: &str, account: &str) -> Client {
    let mut config = Config::infer().await.expect("a config from KUBECONFIG");
    config.auth_info.impersonate = Some(format!("system:serviceaccount:{namespace}:{account}"));
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".into(),
        format!("system:serviceaccounts:{namespace}"),
        "system:authenticated".into(),
    ]);
    Client::try_from(config).expect("an impersonating client")
}

/// Installs `crds/snapshottable.yaml` as `kubectl create`/`replace` would
/// (a server before 1.25 drops the CEL rules it does not know; a server-side
/// apply would refuse them instead) and waits until it is established.
async fn install_crd(client: Client) {
    let crd: CustomResourceDefinition = serde_yaml::from_str(
        &std::fs::read_to_string(repository().join("crds/snapshottable.yaml")).unwrap(),
    )
    .unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let name = "snapshottables.laredo.io";
    // Tests run in parallel processes, each installing it: a create that
    // finds it, or a replace that lost a race, tries again.
    for attempt in 1.. {
        let outcome = match crds.get_opt(name).await.expect("reading the CRD") {
            None => crds.create(&PostParams::default(), &crd).await,
            Some(existing) => {
                let mut crd = crd.clone();
                crd.metadata.resource_version = existing.metadata.resource_version;
                crds.replace(name, &PostParams::default(), &crd).await
            }
        };
        match outcome {
            Ok(_) => break,
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < 10 => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("installing the CRD: {error}"),
        }
    }
    wait_for("the CRD to be established", || {
        let crds = crds.clone();
        async move {
            let crd = crds.get(name).await.ok()?;
            crd.status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        }
    })
    .await;
}

/// A namespace for one test, deleted (with everything in it) when dropped.
pub struct TestNamespace {
    /// Its name.
    pub name: String,
}

impl TestNamespace {
    /// Creates `laredo-{prefix}-{pid}`.
    pub async fn create(client: &Client, prefix: &str) -> Self {
        let name = format!("laredo-{prefix}-{}", std::process::id());
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &Namespace {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        ..ObjectMeta::default()
                    },
                    ..Namespace::default()
                },
            )
            .await
            .expect("creating the test namespace");
        Self { name }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Also while a failed test unwinds: a thread with its own runtime
        // and its own client (the test's client is served by a task of the
        // test's runtime, which this blocked thread would starve).
        let deleting = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let client = Client::try_default().await.map_err(std::io::Error::other)?;
                Api::<Namespace>::all(client)
                    .delete(&name, &DeleteParams::background())
                    .await
                    .map(|_| ())
                    .map_err(std::io::Error::other)
            })
        });
        if let Ok(Err(error)) = deleting.join() {
            eprintln!("could not delete the test namespace: {error}");
        }
    }
}

/// The operator running in this process, watching one namespace.
pub struct Operator {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<bool>,
}

impl Operator {
    /// Starts the controller on `client` for `namespace`, with writers at
    /// `writer_url_template` and a status refresh every two seconds.
    pub fn start(client: Client, namespace: &str, writer_url_template: &str) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(controller::run(
            client,
            ControllerConfig {
                namespace: Some(namespace.to_owned()),
                settings: Settings {
                    writer_url_template: writer_url_template.to_owned(),
                    requeue_interval: Duration::from_secs(2),
                    build: BuildSettings {
                        default_image: "snapshot-writer:e2e".into(),
                    },
                },
                instance: "e2e".into(),
                concurrency: controller::DEFAULT_CONCURRENCY,
            },
            Arc::new(Metrics::new().unwrap()),
            Arc::new(Health::default()),
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            stop: Some(stop),
            task,
        }
    }

    /// Stops the controller and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }
}

/// Runs `kubectl` (found like every tool: `$KUBECTL`, the tools directory,
/// `PATH`) against the cluster; its combined output, or a failure naming the
/// command.
pub async fn kubectl(args: &[&str]) -> Result<String, String> {
    let kubectl = tool("kubectl").ok_or("kubectl not found: run `bash .ci/tools/helm.sh`")?;
    run(&kubectl, args).await
}

/// Runs `helm` like [`kubectl`].
pub async fn helm(args: &[&str]) -> Result<String, String> {
    let helm = tool("helm").ok_or("helm not found: run `bash .ci/tools/helm.sh`")?;
    run(&helm, args).await
}

async fn run(program: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(repository())
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "`{} {}` failed ({}): {text}",
            program.display(),
            args.join(" "),
            output.status
        ))
    }
}

/// Starts `command`, killed when the handle drops.
pub fn spawn(command: &mut Command) -> Child {
    command
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting a process")
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `snapshot-writer` and `fanout-sim` (two packages), next to this test's
/// executable, where a workspace build puts them; built with cargo when
/// missing (e.g. `-p e2e-tests` builds no other package's binaries). Only
/// under nextest: `cargo test` holds the build directory's lock while tests
/// run, so a nested build would wait forever.
pub fn writer_binaries() -> (PathBuf, PathBuf) {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/cluster_e2e-<hash>
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    let target_dir = profile_dir.parent().unwrap().to_owned();
    let writer = profile_dir.join("snapshot-writer");
    let sim = profile_dir.join("fanout-sim");
    if !writer.is_file() || !sim.is_file() {
        let release = profile_dir.file_name().is_some_and(|p| p == "release");
        let command = format!(
            "cargo build -p snapshot-writer -p fanout-sim --bins --target-dir {}{}",
            target_dir.display(),
            if release { " --release" } else { "" }
        );
        assert!(
            std::env::var_os("NEXTEST").is_some(),
            "{} or {} is missing; run `{command}` first (a build from inside `cargo test` would wait on its lock)",
            writer.display(),
            sim.display()
        );
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        let mut build = std::process::Command::new(cargo);
        build
            .args([
                "build",
                "-p",
                "snapshot-writer",
                "-p",
                "fanout-sim",
                "--bins",
            ])
            .arg("--target-dir")
            .arg(&target_dir);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("running cargo build");
        assert!(status.success(), "`{command}` failed");
    }
    assert!(
        writer.is_file() && sim.is_file(),
        "no {} or {}",
        writer.display(),
        sim.display()
    );
    (writer, sim)
}

/// Polls `probe` every half second until it yields a value; fails after
/// [`TIMEOUT`] naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "timed out after {TIMEOUT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
