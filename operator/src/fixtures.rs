//! Test helpers: SnapshotTables, a writer report, a fake writer HTTP server,
//! and a mocked Kubernetes API server that checks each request the reconcile
//! makes (method, path, query, body) in order, in the style of kube-rs's
//! controller-rs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use http::{Request, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde_json::{Value, json};

use crate::crd::{
    CredentialProfileSpec, DestinationSpec, IrsaProfile, LocalDestination, S3Destination,
    SnapshotTable, SnapshotTableSpec, SourceSpec, StorageSpec, WriterSpec,
};
use crate::metrics::Metrics;
use crate::reconcile::build::BuildSettings;
use crate::reconcile::{Context, Settings};
use snapshot_contract::names::{SNAPSHOT_PATH, SNAPSHOT_TABLE_PARAM, STATUS_PATH};
use snapshot_contract::status::{ArtifactStatus, SourceStatus, TableState, TableStatus};

/// A SnapshotTable in `default` writing `public.orders` to a local volume.
pub fn local_table(name: &str) -> SnapshotTable {
    table(
        name,
        DestinationSpec {
            local: Some(LocalDestination {
                path: "/data/archive".into(),
            }),
            s3: None,
        },
    )
}

/// A SnapshotTable in `default` writing `public.orders` to `s3://bucket/prefix`.
pub fn s3_table(name: &str, bucket: &str, prefix: &str) -> SnapshotTable {
    table(
        name,
        DestinationSpec {
            local: None,
            s3: Some(S3Destination {
                bucket: bucket.into(),
                prefix: Some(prefix.into()),
                region: Some("eu-west-1".into()),
                endpoint: None,
                path_style: None,
                credentials: None,
            }),
        },
    )
}

fn table(name: &str, destination: DestinationSpec) -> SnapshotTable {
    let mut table = SnapshotTable::new(
        name,
        SnapshotTableSpec {
            source: SourceSpec {
                server: "laredo-server.laredo.svc:4002".into(),
                protocol: None,
                schema: "public".into(),
                table: "orders".into(),
                client_id: None,
                filters: None,
                heartbeat_timeout: None,
                connect_timeout: None,
                max_message_size: None,
                reconnect: None,
            },
            key_prefix: None,
            key_fields: None,
            diff: None,
            stale_after: None,
            snapshot: None,
            retention: None,
            destinations: vec![destination],
            formats: None,
            events: None,
            credentials: None,
            writer: None,
            suspend: None,
        },
    );
    table.metadata = ObjectMeta {
        name: Some(name.into()),
        namespace: Some("default".into()),
        uid: Some(format!("uid-{name}")),
        generation: Some(1),
        resource_version: Some("1".into()),
        creation_timestamp: Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap(),
        )),
        ..ObjectMeta::default()
    };
    table
}

/// `table` created `seconds` after a fixed epoch, with `uid`.
pub fn with_age(mut table: SnapshotTable, seconds: i64, uid: &str) -> SnapshotTable {
    table.metadata.creation_timestamp = Some(Time(
        k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 - seconds).unwrap(),
    ));
    table.metadata.uid = Some(uid.into());
    table
}

/// An `irsa` credential profile with `role`.
pub fn irsa_profile(role: &str) -> CredentialProfileSpec {
    CredentialProfileSpec {
        irsa: Some(IrsaProfile {
            role_arn: role.into(),
            region: Some("eu-west-1".into()),
        }),
        assume_role: None,
        ambient: None,
    }
}

/// `table` with one `irsa` profile, `archive`, which its S3 destinations use.
pub fn with_irsa(mut table: SnapshotTable, role: &str) -> SnapshotTable {
    table.spec.credentials = Some(BTreeMap::from([("archive".to_owned(), irsa_profile(role))]));
    for s3 in table
        .spec
        .destinations
        .iter_mut()
        .filter_map(|d| d.s3.as_mut())
    {
        s3.credentials = Some("archive".into());
    }
    table
}

/// `table` with its data volume on the existing claim `claim`.
pub fn with_shared_claim(mut table: SnapshotTable, claim: &str) -> SnapshotTable {
    table.spec.writer = Some(WriterSpec {
        storage: Some(StorageSpec {
            existing_claim: Some(claim.into()),
            ..StorageSpec::default()
        }),
        ..WriterSpec::default()
    });
    table
}

/// An `http://` URL on 127.0.0.1 where nothing listens.
pub async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// A writer's `/status` entry: ready at `epoch` with a snapshot, or still
/// syncing.
pub fn writer_report(table: &str, ready: bool, epoch: u64) -> TableStatus {
    let mut status = TableStatus::starting(table, "s");
    status.state = if ready {
        TableState::Live
    } else {
        TableState::Syncing
    };
    status.ready = ready;
    status.epoch = epoch;
    status.row_count = 10;
    status.source = SourceStatus {
        server: "s".into(),
        connected: true,
        ..SourceStatus::default()
    };
    if ready {
        status.head_position = "0/16B3748".into();
        status.last_snapshot_at = Some("2026-01-02T03:04:05Z".into());
        status.last_snapshot = Some(ArtifactStatus {
            id: "artifact-1".into(),
            epoch,
            from_position: None,
            position: "0/16B3748".into(),
            at: "2026-01-02T03:04:05Z".into(),
            records: 10,
            bytes: 2048,
        });
    }
    status
}

/// The JSON of one `/status` entry, as the writer serializes it.
pub fn writer_status_json(table: &str, ready: bool, epoch: u64) -> Value {
    serde_json::to_value(writer_report(table, ready, epoch)).unwrap()
}

/// The snapshot [`FakeWriter`] says it made: epoch 4 at `0/2000000`.
pub fn made_snapshot() -> Value {
    serde_json::to_value(ArtifactStatus {
        id: "artifact-4".into(),
        epoch: 4,
        from_position: None,
        position: "0/2000000".into(),
        at: "2026-01-02T04:00:00Z".into(),
        records: 12,
        bytes: 4096,
    })
    .unwrap()
}

/// A writer HTTP API on 127.0.0.1 with a settable `/status` and `/snapshot`
/// outcome; records the `/snapshot` requests it gets.
pub struct FakeWriter {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<FakeState>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct FakeState {
    status: Mutex<Value>,
    snapshot: Mutex<(u16, Value)>,
    snapshot_requests: Mutex<Vec<String>>,
}

impl FakeWriter {
    /// Starts a writer that reports `status` and answers `/snapshot` with 200
    /// and [`made_snapshot`] for `public.orders`.
    pub async fn start(status: Value) -> Self {
        let state = Arc::new(FakeState::default());
        *state.status.lock().unwrap() = status;
        *state.snapshot.lock().unwrap() = (200, json!({"public.orders": made_snapshot()}));
        let app =
            Router::new()
                .route(
                    STATUS_PATH,
                    get(|State(s): State<Arc<FakeState>>| async move {
                        axum::Json(s.status.lock().unwrap().clone())
                    }),
                )
                .route(
                    SNAPSHOT_PATH,
                    post(
                        |State(s): State<Arc<FakeState>>,
                         Query(q): Query<BTreeMap<String, String>>| async move {
                            s.snapshot_requests
                                .lock()
                                .unwrap()
                                .push(q.get(SNAPSHOT_TABLE_PARAM).cloned().unwrap_or_default());
                            let (code, body) = s.snapshot.lock().unwrap().clone();
                            (StatusCode::from_u16(code).unwrap(), axum::Json(body))
                        },
                    ),
                )
                .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, state, server }
    }

    /// Makes `/snapshot` answer `code` with `body`.
    pub fn answer_snapshot(&self, code: u16, body: Value) {
        *self.state.snapshot.lock().unwrap() = (code, body);
    }

    /// The `table` query of every `/snapshot` request so far.
    pub fn snapshot_requests(&self) -> Vec<String> {
        self.state.snapshot_requests.lock().unwrap().clone()
    }
}

impl Drop for FakeWriter {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One request the mocked API server expects, and its answer.
pub struct Expect {
    method: http::Method,
    path: String,
    query: Vec<&'static str>,
    check: Box<dyn Fn(&Value) + Send>,
    status: u16,
    response: Option<Value>,
}

impl Expect {
    /// Expects `method` on `path` (no query string).
    pub fn new(method: http::Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            check: Box::new(|_| {}),
            status: 200,
            response: None,
        }
    }

    /// A server-side apply (`PATCH …?fieldManager=snapshot-operator&force=true`).
    pub fn apply(path: impl Into<String>) -> Self {
        Self::new(http::Method::PATCH, path)
            .query(&["fieldManager=snapshot-operator", "force=true"])
    }

    /// A Recorder event creation in `namespace`.
    pub fn event(namespace: &str, reason: &'static str, type_: &'static str) -> Self {
        Self::new(
            http::Method::POST,
            format!("/apis/events.k8s.io/v1/namespaces/{namespace}/events"),
        )
        .body(move |body| {
            assert_eq!(body["reason"], reason, "event: {body}");
            assert_eq!(body["type"], type_, "event: {body}");
        })
    }

    /// Query parameters that must be present.
    pub fn query(mut self, parts: &[&'static str]) -> Self {
        self.query.extend_from_slice(parts);
        self
    }

    /// A check of the request body (parsed as JSON), after the checks
    /// already set (an [`Expect::event`]'s reason and type).
    pub fn body(mut self, check: impl Fn(&Value) + Send + 'static) -> Self {
        let before = std::mem::replace(&mut self.check, Box::new(|_| {}));
        self.check = Box::new(move |body| {
            before(body);
            check(body);
        });
        self
    }

    /// Answers with `status` and `body` instead of echoing the request body.
    pub fn respond(mut self, status: u16, body: Value) -> Self {
        self.status = status;
        self.response = Some(body);
        self
    }
}

/// A 404 `Status` body, as the API server sends for a missing object.
pub fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found", "metadata": {}})
}

/// The mocked API server's side: serves the expected requests in order,
/// then fails on any further request until [`Verifier::finish`].
pub struct Verifier {
    task: tokio::task::JoinHandle<Vec<Value>>,
    done: tokio::sync::oneshot::Sender<()>,
}

impl Verifier {
    /// Call once the code under test has returned: checks that every
    /// expected request came and no other; returns the request bodies.
    pub async fn finish(self) -> Vec<Value> {
        let _ = self.done.send(());
        self.task
            .await
            .expect("the API requests differ from the expected ones")
    }
}

/// A client on a mocked API server that expects `expected`, in order.
pub fn mock_api(expected: Vec<Expect>) -> (Client, Verifier) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let (done, mut finished) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut bodies = Vec::new();
        for expect in expected {
            let (request, send) =
                tokio::time::timeout(Duration::from_secs(5), handle.next_request())
                    .await
                    .unwrap_or_else(|_| {
                        panic!("timed out waiting for {} {}", expect.method, expect.path)
                    })
                    .unwrap_or_else(|| {
                        panic!("client gone before {} {}", expect.method, expect.path)
                    });
            let (parts, body) = request.into_parts();
            assert_eq!(
                (&parts.method, parts.uri.path()),
                (&expect.method, expect.path.as_str()),
                "unexpected request {} {}",
                parts.method,
                parts.uri
            );
            let query = parts.uri.query().unwrap_or_default();
            for part in &expect.query {
                assert!(
                    query.split('&').any(|q| q == *part),
                    "{} lacks {part}",
                    parts.uri
                );
            }
            let bytes = body.collect_bytes().await.unwrap();
            let value: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            (expect.check)(&value);
            let response = expect.response.clone().unwrap_or_else(|| value.clone());
            send.send_response(
                Response::builder()
                    .status(expect.status)
                    .body(Body::from(serde_json::to_vec(&response).unwrap()))
                    .unwrap(),
            );
            bodies.push(value);
        }
        tokio::select! {
            Some((request, _)) = handle.next_request() => {
                panic!("unexpected extra request {} {}", request.method(), request.uri())
            }
            _ = &mut finished => {}
        }
        bodies
    });
    (Client::new(service, "default"), Verifier { task, done })
}

/// A reconcile context on `client` whose store holds `tables` and whose
/// writers are all at `writer_url`.
pub fn context(client: Client, tables: &[&SnapshotTable], writer_url: &str) -> Arc<Context> {
    let (store, mut writer): (Store<SnapshotTable>, _) = reflector::store();
    writer.apply_watcher_event(&watcher::Event::Init);
    for table in tables {
        writer.apply_watcher_event(&watcher::Event::InitApply((*table).clone()));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    // The store's readiness is tied to the writer; keep it alive.
    std::mem::forget(writer);
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "snapshot-operator".into(),
            instance: None,
        },
    );
    Arc::new(Context::new(
        client,
        recorder,
        store,
        Settings {
            writer_url_template: writer_url.into(),
            requeue_interval: Duration::from_secs(30),
            build: BuildSettings {
                default_image: "snapshot-writer:test".into(),
            },
        },
        Arc::new(Metrics::new().unwrap()),
        Arc::default(),
    ))
}

/// The API path of a child of `table` (kind plural, `core` or `apps`).
pub fn child_path(group: &str, plural: &str, name: &str) -> String {
    match group {
        "" => format!("/api/v1/namespaces/default/{plural}/{name}"),
        group => format!("/apis/{group}/namespaces/default/{plural}/{name}"),
    }
}

/// The four server-side applies of a reconcile that runs a writer, in order,
/// with body checks.
pub fn child_applies(
    name: &str,
    config_map: impl Fn(&Value) + Send + 'static,
    account: impl Fn(&Value) + Send + 'static,
    stateful_set: impl Fn(&Value) + Send + 'static,
) -> Vec<Expect> {
    let writer = format!("{name}-writer");
    vec![
        Expect::apply(child_path("", "configmaps", &writer)).body(config_map),
        Expect::apply(child_path("", "serviceaccounts", &writer)).body(account),
        Expect::apply(child_path("", "services", &writer)).body(|body| {
            assert_eq!(body["kind"], "Service");
            assert_eq!(
                body["spec"]["ports"][0]["port"],
                snapshot_contract::names::HTTP_PORT
            );
            assert_eq!(body["spec"]["ports"][0]["name"], "http");
        }),
        Expect::apply(child_path("apps/v1", "statefulsets", &writer)).body(stateful_set),
    ]
}

/// The path of `table`'s status subresource.
pub fn status_path(table: &SnapshotTable) -> String {
    format!(
        "/apis/laredo.io/v1alpha1/namespaces/default/snapshottables/{}/status",
        table.meta().name.clone().unwrap()
    )
}
