//! The writer's HTTP API as the operator uses it: `GET /status` and
//! `POST /snapshot?table=schema.table`.
//!
//! The document types here read the subset of the writer's `TableStatus`
//! (`writer/src/status.rs`) the operator reflects, tolerating fields added
//! later; a test parses the writer's own serialized type into them.

use std::time::Duration;

use serde::Deserialize;

/// How long one call to the writer may take: the reconcile waits for it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One table's entry of the writer's `GET /status` array.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WriterTableStatus {
    /// `schema.table`.
    pub table: String,
    /// What the writer is doing (`starting`, `syncing`, `snapshotting`,
    /// `live`, `degraded`, `fenced`, `stopped`).
    pub state: String,
    /// Whether the initial base snapshot is durable on every destination.
    pub ready: bool,
    /// Epoch of the newest committed snapshot.
    pub epoch: u64,
    /// Position of the newest committed artifact.
    pub head_position: String,
    /// The newest committed snapshot.
    #[serde(default)]
    pub last_snapshot: Option<WriterArtifact>,
    /// The newest committed diff.
    #[serde(default)]
    pub last_diff: Option<WriterArtifact>,
    /// The most recent error, cleared by the next success of its kind.
    #[serde(default)]
    pub last_error: Option<WriterError>,
}

/// A committed artifact in the writer's status.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WriterArtifact {
    /// Epoch it belongs to.
    pub epoch: u64,
    /// Snapshot watermark or a diff's upper bound.
    pub position: String,
    /// Commit time (RFC 3339).
    pub at: String,
    /// Rows or net changes.
    #[serde(default)]
    pub records: Option<u64>,
    /// Size of the first format's object.
    #[serde(default)]
    pub bytes: Option<u64>,
}

/// An error the writer reports.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WriterError {
    /// `source`, `destination`, `manifest`, `events`.
    pub scope: String,
    /// The message as logged.
    pub message: String,
    /// When (RFC 3339).
    pub at: String,
}

/// Why the writer could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum WriterCallError {
    /// No connection, timeout, or a body that is not the expected JSON.
    #[error("{url}: {}", with_causes(source))]
    Unreachable {
        /// The URL called.
        url: String,
        /// The HTTP client's error.
        source: reqwest::Error,
    },
    /// The writer URL (from the URL template) does not parse.
    #[error("invalid writer URL {url:?}: {message}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The writer answered with an error status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The URL called.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The answer's body, shortened.
        body: String,
    },
    /// `/status` has no entry for the table.
    #[error("{url} reports no table {table:?} (it reports {known})")]
    UnknownTable {
        /// The URL called.
        url: String,
        /// `schema.table` asked for.
        table: String,
        /// The tables it does report.
        known: String,
    },
    /// `/snapshot` answered 200 but not `ok` for the table.
    #[error("{url}: snapshot of {table} failed: {message}")]
    Rejected {
        /// The URL called.
        url: String,
        /// `schema.table`.
        table: String,
        /// The writer's message for the table.
        message: String,
    },
}

/// An HTTP client error with its causes: reqwest's own message ("error
/// sending request") does not say that the connection was refused or timed
/// out, and that is what a user reading the Ready condition needs.
fn with_causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// A client for writers' HTTP APIs (plain HTTP inside the cluster).
#[derive(Debug, Clone)]
pub struct WriterClient {
    http: reqwest::Client,
}

impl Default for WriterClient {
    fn default() -> Self {
        Self::new()
    }
}

impl WriterClient {
    /// A client with short timeouts: an unreachable writer must not stall
    /// the reconcile.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self { http }
    }

    /// `GET {base}/status`, the entry for `table`.
    pub async fn table_status(
        &self,
        base: &str,
        table: &str,
    ) -> Result<WriterTableStatus, WriterCallError> {
        let url = format!("{}/status", base.trim_end_matches('/'));
        let response =
            self.http
                .get(&url)
                .send()
                .await
                .map_err(|source| WriterCallError::Unreachable {
                    url: url.clone(),
                    source,
                })?;
        let response = error_for_status(&url, response).await?;
        let tables: Vec<WriterTableStatus> =
            response
                .json()
                .await
                .map_err(|source| WriterCallError::Unreachable {
                    url: url.clone(),
                    source,
                })?;
        let known = tables
            .iter()
            .map(|t| t.table.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        tables
            .into_iter()
            .find(|t| t.table == table)
            .ok_or_else(|| WriterCallError::UnknownTable {
                url,
                table: table.to_owned(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known
                },
            })
    }

    /// `POST {base}/snapshot?table=…`: a new base snapshot (a new epoch).
    pub async fn request_snapshot(&self, base: &str, table: &str) -> Result<(), WriterCallError> {
        let url = format!("{}/snapshot", base.trim_end_matches('/'));
        let target = reqwest::Url::parse_with_params(&url, [("table", table)]).map_err(|e| {
            WriterCallError::InvalidUrl {
                url: url.clone(),
                message: e.to_string(),
            }
        })?;
        let response =
            self.http
                .post(target)
                .send()
                .await
                .map_err(|source| WriterCallError::Unreachable {
                    url: url.clone(),
                    source,
                })?;
        let response = error_for_status(&url, response).await?;
        let outcome: std::collections::BTreeMap<String, String> =
            response
                .json()
                .await
                .map_err(|source| WriterCallError::Unreachable {
                    url: url.clone(),
                    source,
                })?;
        match outcome.get(table).map(String::as_str) {
            Some("ok") => Ok(()),
            Some(message) => Err(WriterCallError::Rejected {
                url,
                table: table.to_owned(),
                message: message.to_owned(),
            }),
            None => Err(WriterCallError::Rejected {
                url,
                table: table.to_owned(),
                message: format!("no outcome for the table in {outcome:?}"),
            }),
        }
    }
}

async fn error_for_status(
    url: &str,
    response: reqwest::Response,
) -> Result<reqwest::Response, WriterCallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let mut body = response.text().await.unwrap_or_default();
    if body.len() > 300 {
        let mut end = 300;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
    }
    Err(WriterCallError::Status {
        url: url.to_owned(),
        status: status.as_u16(),
        body,
    })
}

/// The writer's API address for a SnapshotTable: `template` with `{name}`
/// and `{namespace}` replaced.
pub fn writer_url(template: &str, name: &str, namespace: &str) -> String {
    template
        .replace("{name}", name)
        .replace("{namespace}", namespace)
}

/// The default address: the writer's Service.
pub const DEFAULT_WRITER_URL_TEMPLATE: &str = "http://{name}-writer.{namespace}.svc:8080";

#[cfg(test)]
mod tests {
    use super::*;
    use snapshot_writer::status::{
        ArtifactStatus, ErrorScope, ErrorStatus, ManifestStatus, SourceStatus, TableState,
        TableStatus,
    };

    #[test]
    fn the_writers_status_document_parses() {
        let artifact = |epoch, position: &str| ArtifactStatus {
            id: "a1".into(),
            epoch,
            from_position: None,
            position: position.into(),
            at: "2026-01-02T03:04:05Z".into(),
            records: 10,
            bytes: 2048,
        };
        let writers = vec![TableStatus {
            table: "public.orders".into(),
            state: TableState::Degraded,
            ready: true,
            epoch: 3,
            head_position: "0/16B3748".into(),
            buffer_depth: 5,
            churn_records: 7,
            last_snapshot_at: Some("2026-01-02T03:04:05Z".into()),
            last_snapshot: Some(artifact(3, "0/16B0000")),
            last_diff: Some(artifact(3, "0/16B3748")),
            diffs_since_snapshot: 1,
            row_count: 10,
            manifest: Some(ManifestStatus {
                epoch: 3,
                head_position: "0/16B3748".into(),
                updated_at: "2026-01-02T03:04:05Z".into(),
                artifacts: 2,
                uri: "s3://b/p/manifest.json".into(),
            }),
            source: SourceStatus::default(),
            last_error: Some(ErrorStatus {
                scope: ErrorScope::Destination,
                message: "boom".into(),
                at: "2026-01-02T03:04:06Z".into(),
            }),
        }];
        let json = serde_json::to_string(&writers).unwrap();
        let ours: Vec<WriterTableStatus> = serde_json::from_str(&json).unwrap();
        assert_eq!(
            ours,
            vec![WriterTableStatus {
                table: "public.orders".into(),
                state: "degraded".into(),
                ready: true,
                epoch: 3,
                head_position: "0/16B3748".into(),
                last_snapshot: Some(WriterArtifact {
                    epoch: 3,
                    position: "0/16B0000".into(),
                    at: "2026-01-02T03:04:05Z".into(),
                    records: Some(10),
                    bytes: Some(2048),
                }),
                last_diff: Some(WriterArtifact {
                    epoch: 3,
                    position: "0/16B3748".into(),
                    at: "2026-01-02T03:04:05Z".into(),
                    records: Some(10),
                    bytes: Some(2048),
                }),
                last_error: Some(WriterError {
                    scope: "destination".into(),
                    message: "boom".into(),
                    at: "2026-01-02T03:04:06Z".into(),
                }),
            }]
        );
    }

    #[test]
    fn every_writer_state_reads_as_its_snake_case_name() {
        for (state, name) in [
            (TableState::Starting, "starting"),
            (TableState::Syncing, "syncing"),
            (TableState::Snapshotting, "snapshotting"),
            (TableState::Live, "live"),
            (TableState::Degraded, "degraded"),
            (TableState::Fenced, "fenced"),
            (TableState::Stopped, "stopped"),
        ] {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(name)
            );
        }
    }

    #[test]
    fn the_url_template_takes_name_and_namespace() {
        assert_eq!(
            writer_url(DEFAULT_WRITER_URL_TEMPLATE, "orders", "data"),
            "http://orders-writer.data.svc:8080"
        );
        assert_eq!(
            writer_url("http://127.0.0.1:9000", "orders", "data"),
            "http://127.0.0.1:9000"
        );
    }

    #[tokio::test]
    async fn an_unreachable_writer_says_why() {
        let url = crate::fixtures::closed_url().await;
        let error = WriterClient::new()
            .table_status(&url, "public.orders")
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with(&format!("{url}/status: ")), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
    }
}
