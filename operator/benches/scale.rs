//! How the operator copes with many SnapshotTables on a real API server.
//!
//! Against the cluster `KUBECONFIG` names (the API server kit:
//! `bash .ci/tools/kube-kit.sh start DIR`), it:
//! 1. measures the baseline: `kubectl create` of the same children the
//!    operator makes (ConfigMap, ServiceAccount, Service, StatefulSet per
//!    table, rendered by the operator's own build step) in a namespace of
//!    their own;
//! 2. creates N SnapshotTables (S3 destinations, one prefix each), then starts
//!    the `snapshot-operator` binary, as a user would after `helm install`;
//! 3. prints the seconds until every table has its four children and a
//!    status, the ratio to the baseline, reconciles and applies per table,
//!    the operator's RSS, and its CPU per minute once nothing changes.
//!
//! Writers: by default a stand-in answers every writer's `GET /status` as a
//! ready writer would (there is no kubelet to run a thousand writer pods);
//! `BENCH_WRITERS=unreachable` points the operator at a closed port instead.
//!
//! ```text
//! KUBECONFIG=… cargo bench -p snapshot-operator --bench scale
//! BENCH_TABLES=1000 BENCH_IDLE_SECONDS=60 BENCH_WRITERS=ready|unreachable
//! SCALE_BENCH_OPERATOR=target/release/snapshot-operator   # another build of the operator
//! ```

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::routing::get;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};
use snapshot_operator::crd::SnapshotTable;
use snapshot_operator::reconcile::build::{self, BuildSettings};
use snapshot_operator::reconcile::validate;
use tokio::process::Command;

/// The operator binary: `SCALE_BENCH_OPERATOR`, else the one cargo built
/// beside this bench (in the bench's profile).
fn operator_binary() -> String {
    std::env::var("SCALE_BENCH_OPERATOR")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_snapshot-operator").to_owned())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::var_os("KUBECONFIG").is_none() {
        println!(
            "SKIPPED scale bench: KUBECONFIG is not set (start the API server kit: \
             `bash .ci/tools/kube-kit.sh start DIR`, then export what it prints)"
        );
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let tables: usize = env_or("BENCH_TABLES", 1000);
    let idle_seconds: u64 = env_or("BENCH_IDLE_SECONDS", 60);
    let unreachable = std::env::var("BENCH_WRITERS").is_ok_and(|v| v == "unreachable");
    let client = Client::try_default().await.unwrap();
    let run = std::process::id();
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let version = client.apiserver_version().await.unwrap();
    println!(
        "scale bench: {tables} SnapshotTables on Kubernetes {}.{} ({}), writers {}",
        version.major,
        version.minor,
        version.git_version,
        if unreachable { "unreachable" } else { "ready" }
    );

    command(
        &kubectl,
        &["apply", "--validate=false", "-f", "crds/snapshottable.yaml"],
    )
    .await;
    let specs: Vec<SnapshotTable> = (0..tables).map(table).collect();

    // 1. The baseline: kubectl creating the same children.
    let baseline_ns = format!("bench-baseline-{run}");
    create_namespace(&client, &baseline_ns).await;
    let manifest = std::env::temp_dir().join(format!("scale-baseline-{run}.yaml"));
    std::fs::write(&manifest, children_yaml(&specs, &baseline_ns)).unwrap();
    let started = Instant::now();
    command(
        &kubectl,
        &[
            "create",
            "-n",
            &baseline_ns,
            "-f",
            manifest.to_str().unwrap(),
            "-o",
            "name",
        ],
    )
    .await;
    let baseline = started.elapsed();
    println!(
        "baseline: kubectl create of {} children: {:.1} s",
        tables * 4,
        baseline.as_secs_f64()
    );
    let _ = std::fs::remove_file(&manifest);

    // 2. The SnapshotTables, then the operator.
    let ns = format!("bench-operator-{run}");
    create_namespace(&client, &ns).await;
    let api: Api<SnapshotTable> = Api::namespaced(client.clone(), &ns);
    stream::iter(specs.iter().cloned())
        .map(|table| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &table).await }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let writers = if unreachable {
        format!("http://127.0.0.1:{}", closed_port())
    } else {
        let addr = stand_in_writers().await;
        format!("http://{addr}/{{namespace}}/{{name}}")
    };
    let metrics_port = closed_port();
    let started = Instant::now();
    let mut operator = Command::new(operator_binary())
        .args([
            "--namespace",
            &ns,
            "--writer-url-template",
            &writers,
            "--http-port",
            &metrics_port.to_string(),
            "--log-format",
            "text",
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = operator.id().unwrap();

    // 3. Convergence: every table has its children and a status.
    let mut last_report = Instant::now();
    let converged = loop {
        let done = converged_tables(&client, &ns).await;
        if done == tables {
            break started.elapsed();
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!(
                "  {done}/{tables} converged after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "not converged after 15 minutes ({done}/{tables})"
        );
        // Listing 5,000 objects loads the server too: once a second.
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let at_convergence = scrape(metrics_port).await;
    let rss_converged = rss_kib(pid);

    // 4. Idle: nothing changes; the operator only refreshes status.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu_before = cpu_ticks(pid);
    let idle_start = Instant::now();
    tokio::time::sleep(Duration::from_secs(idle_seconds)).await;
    let ticks = cpu_ticks(pid) - cpu_before;
    let idle = idle_start.elapsed().as_secs_f64();
    let after_idle = scrape(metrics_port).await;
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let idle_cpu = ticks as f64 / ticks_per_second / idle * 100.0;
    let peak = peak_rss_kib(pid);

    let per_table = |text: &str, metric: &str| metric_value(text, metric) / tables as f64;
    println!();
    println!("| figure | value | goal |");
    println!("|---|---|---|");
    println!(
        "| seconds until every table has its children and a status | {:.1} | |",
        converged.as_secs_f64()
    );
    println!(
        "| kubectl create of the same {} children, same server, same run | {:.1} | |",
        tables * 4,
        baseline.as_secs_f64()
    );
    println!(
        "| ratio | {:.2} | ≤ 2 |",
        converged.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "| reconciles per table until converged | {:.2} | ≤ 3 |",
        per_table(&at_convergence, "snapshot_operator_reconciles_total")
    );
    println!(
        "| child applies per table until converged | {:.2} | 4 |",
        per_table(&at_convergence, "snapshot_operator_child_applies_total")
    );
    println!(
        "| reconciles per table in {idle:.0} s idle (status refresh) | {:.2} | |",
        per_table(&after_idle, "snapshot_operator_reconciles_total")
            - per_table(&at_convergence, "snapshot_operator_reconciles_total")
    );
    println!(
        "| child applies in {idle:.0} s idle | {:.0} | 0 |",
        metric_value(&after_idle, "snapshot_operator_child_applies_total")
            - metric_value(&at_convergence, "snapshot_operator_child_applies_total")
    );
    println!(
        "| RSS at convergence / peak, MiB | {:.1} / {:.1} | ≤ 64 |",
        rss_converged as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    println!("| CPU while idle, % of one core | {idle_cpu:.1} | ≤ 5 |");

    let _ = operator.kill().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for namespace in [&ns, &baseline_ns] {
        let _ = namespaces
            .delete(namespace, &DeleteParams::background())
            .await;
    }
}

/// Table `i`: its own S3 prefix, so no two claim one location.
fn table(i: usize) -> SnapshotTable {
    serde_json::from_value(json!({
        "apiVersion": "laredo.io/v1alpha1",
        "kind": "SnapshotTable",
        "metadata": {"name": format!("t{i:05}")},
        "spec": {
            "source": {"server": "laredo-server.laredo.svc:4002", "schema": "public", "table": format!("t{i:05}")},
            "destinations": [{"s3": {"bucket": "archive", "prefix": format!("t{i:05}/"), "region": "eu-west-1"}}],
        },
    }))
    .unwrap()
}

/// The four children of every table as one multi-document YAML, built by the
/// operator's own build step, without owners (kubectl creates them alone).
fn children_yaml(specs: &[SnapshotTable], namespace: &str) -> String {
    let settings = BuildSettings {
        default_image: "snapshot-writer:bench".into(),
    };
    let mut out = String::new();
    for spec in specs {
        let mut table = spec.clone();
        table.metadata.namespace = Some(namespace.into());
        table.metadata.uid = Some(format!("00000000-0000-0000-0000-{:012}", out.len()));
        let validated = validate::validate(&table).unwrap();
        let children = build::build(&table, &validated, &settings).unwrap();
        let documents = [
            typed(&children.config_map),
            typed(children.service_account.as_ref().unwrap()),
            typed(&children.service),
            typed(&children.stateful_set),
        ];
        for mut document in documents {
            document["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("ownerReferences");
            out.push_str("---\n");
            out.push_str(&serde_yaml::to_string(&document).unwrap());
        }
    }
    out
}

fn typed<K: Resource<DynamicType = ()> + serde::Serialize>(object: &K) -> Value {
    let mut value = serde_json::to_value(object).unwrap();
    value["apiVersion"] = K::api_version(&()).into();
    value["kind"] = K::kind(&()).into();
    value
}

/// Tables with a status written and all four children present.
async fn converged_tables(client: &Client, ns: &str) -> usize {
    let list = ListParams::default();
    let names = |items: Vec<String>| items.into_iter().collect::<HashSet<_>>();
    let (Ok(tables), Ok(sets), Ok(maps), Ok(services), Ok(accounts)) = (
        Api::<SnapshotTable>::namespaced(client.clone(), ns)
            .list(&list)
            .await,
        Api::<StatefulSet>::namespaced(client.clone(), ns)
            .list_metadata(&list)
            .await,
        Api::<ConfigMap>::namespaced(client.clone(), ns)
            .list_metadata(&list)
            .await,
        Api::<Service>::namespaced(client.clone(), ns)
            .list_metadata(&list)
            .await,
        Api::<ServiceAccount>::namespaced(client.clone(), ns)
            .list_metadata(&list)
            .await,
    ) else {
        return 0;
    };
    let (sets, maps, services, accounts) = (
        names(sets.items.iter().map(ResourceExt::name_any).collect()),
        names(maps.items.iter().map(ResourceExt::name_any).collect()),
        names(services.items.iter().map(ResourceExt::name_any).collect()),
        names(accounts.items.iter().map(ResourceExt::name_any).collect()),
    );
    tables
        .items
        .iter()
        .filter(|t| {
            let child = format!("{}-writer", t.name_any());
            t.status.as_ref().is_some_and(|s| !s.conditions.is_empty())
                && [&sets, &maps, &services, &accounts]
                    .iter()
                    .all(|kind| kind.contains(&child))
        })
        .count()
}

/// Answers `GET /{namespace}/{name}/status` as a ready writer of table
/// `public.{name}` would.
async fn stand_in_writers() -> SocketAddr {
    let app = Router::new().route(
        "/{namespace}/{name}/status",
        get(|UrlPath((_, name)): UrlPath<(String, String)>| async move {
            axum::Json(json!([{
                "table": format!("public.{name}"),
                "state": "live",
                "ready": true,
                "epoch": 1,
                "head_position": "0/16B3748",
                "buffer_depth": 0,
                "churn_records": 0,
                "last_snapshot_at": "2026-12-07T10:00:00Z",
                "last_snapshot": {"id": "s", "epoch": 1, "position": "0/16B3748", "at": "2026-12-07T10:00:00Z", "records": 10, "bytes": 2048},
                "last_diff": null,
                "diffs_since_snapshot": 0,
                "row_count": 10,
                "last_error": null,
            }]))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn create_namespace(client: &Client, name: &str) {
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await
        .unwrap();
}

async fn command(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program}: {e} (set KUBECTL or put kubectl on PATH)"));
    assert!(
        output.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn scrape(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn proc_status(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    proc_status(pid, "VmRSS:")
}

fn peak_rss_kib(pid: u32) -> u64 {
    proc_status(pid, "VmHWM:")
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}
