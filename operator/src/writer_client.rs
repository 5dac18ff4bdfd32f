//! The writer's HTTP API as the operator uses it: `GET /status` and
//! `POST /snapshot?table=schema.table`, read as the contract's
//! [`TableStatus`] (which tolerates fields and states a newer writer adds).

use std::sync::Arc;
use std::time::Duration;

use snapshot_contract::causes::with_causes;
use snapshot_contract::names::{HTTP_PORT, SNAPSHOT_PATH, SNAPSHOT_TABLE_PARAM, STATUS_PATH};
use snapshot_contract::snapshot::SnapshotAnswer;
use snapshot_contract::status::{ArtifactStatus, TableStatus};

/// How long one call to the writer may take: the reconcile waits for it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the writer could not be asked. Kept as it is through the reconcile
/// until a condition or an Event puts it in words; cheap to clone (a
/// re-base and the status both report one failed call).
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriterCallError {
    /// No connection, timeout, or a body that is not the expected JSON.
    /// The message carries the client error's causes: reqwest's own ("error
    /// sending request") does not say that the connection was refused or
    /// timed out, which a user reading the Ready condition needs.
    #[error("{url}: {}", with_causes(source.as_ref()))]
    Unreachable {
        /// The URL called.
        url: String,
        /// The HTTP client's error.
        source: Arc<reqwest::Error>,
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
    /// `/snapshot` answered that the table's snapshot was refused or failed.
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

/// The error of a call to `url` that got no usable answer.
fn unreachable(url: &str) -> impl FnOnce(reqwest::Error) -> WriterCallError + '_ {
    move |source| WriterCallError::Unreachable {
        url: url.to_owned(),
        source: Arc::new(source),
    }
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
    ) -> Result<TableStatus, WriterCallError> {
        let url = format!("{}{STATUS_PATH}", base.trim_end_matches('/'));
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(unreachable(&url))?;
        let response = error_for_status(&url, response).await?;
        let tables: Vec<TableStatus> = response.json().await.map_err(unreachable(&url))?;
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

    /// `POST {base}/snapshot?table=…`: a new base snapshot (a new epoch);
    /// the snapshot the writer committed (`None` from a writer that only
    /// answers `ok`).
    pub async fn request_snapshot(
        &self,
        base: &str,
        table: &str,
    ) -> Result<Option<ArtifactStatus>, WriterCallError> {
        let url = format!("{}{SNAPSHOT_PATH}", base.trim_end_matches('/'));
        let target = reqwest::Url::parse_with_params(&url, [(SNAPSHOT_TABLE_PARAM, table)])
            .map_err(|e| WriterCallError::InvalidUrl {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let response = self
            .http
            .post(target)
            .send()
            .await
            .map_err(unreachable(&url))?;
        // A failed snapshot answers 500 with the table's reason in the
        // same document: read it rather than the bare status.
        if response.status() == reqwest::StatusCode::INTERNAL_SERVER_ERROR {
            let body = response.text().await.map_err(unreachable(&url))?;
            return Err(match serde_json::from_str::<SnapshotAnswer>(&body) {
                Ok(answer) => rejection(&url, table, &answer),
                Err(_) => WriterCallError::Status {
                    url,
                    status: 500,
                    body: shortened(body),
                },
            });
        }
        let response = error_for_status(&url, response).await?;
        let answer: SnapshotAnswer = response.json().await.map_err(unreachable(&url))?;
        match answer.get(table).map(|outcome| outcome.committed()) {
            Some(Ok(made)) => Ok(made.cloned()),
            _ => Err(rejection(&url, table, &answer)),
        }
    }
}

/// The writer's reason for not snapshotting `table`, from its answer.
fn rejection(url: &str, table: &str, answer: &SnapshotAnswer) -> WriterCallError {
    let message = match answer.get(table).map(|outcome| outcome.committed()) {
        Some(Err(reason)) => reason.to_owned(),
        Some(Ok(_)) => "the writer answered 500 for a committed snapshot".to_owned(),
        None => format!("no outcome for the table in {answer:?}"),
    };
    WriterCallError::Rejected {
        url: url.to_owned(),
        table: table.to_owned(),
        message,
    }
}

/// `body` cut to 300 bytes (at a character boundary): enough to say what
/// went wrong without copying a whole page into a condition.
fn shortened(mut body: String) -> String {
    if body.len() > 300 {
        let mut end = 300;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
    }
    body
}

async fn error_for_status(
    url: &str,
    response: reqwest::Response,
) -> Result<reqwest::Response, WriterCallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(WriterCallError::Status {
        url: url.to_owned(),
        status: status.as_u16(),
        body: shortened(body),
    })
}

/// The writer's API address for a SnapshotTable: `template` with `{name}`
/// and `{namespace}` replaced.
pub fn writer_url(template: &str, name: &str, namespace: &str) -> String {
    template
        .replace("{name}", name)
        .replace("{namespace}", namespace)
}

/// The default address: the writer's Service, on the writer's port.
pub fn default_writer_url_template() -> String {
    format!("http://{{name}}-writer.{{namespace}}.svc:{HTTP_PORT}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::FakeWriter;
    use snapshot_contract::status::TableState;

    #[tokio::test]
    async fn the_writers_status_document_is_read_as_the_contracts() {
        let writer = FakeWriter::start(serde_json::json!([
            crate::fixtures::writer_status_json("public.other", false, 0),
            crate::fixtures::writer_status_json("public.orders", true, 3),
        ]))
        .await;
        let status = WriterClient::new()
            .table_status(&writer.url, "public.orders")
            .await
            .unwrap();
        assert_eq!(
            status,
            crate::fixtures::writer_report("public.orders", true, 3)
        );
        assert_eq!(status.state, TableState::Live);
        let error = WriterClient::new()
            .table_status(&writer.url, "public.nope")
            .await
            .unwrap_err();
        assert!(
            error.to_string().ends_with(
                r#"reports no table "public.nope" (it reports public.other, public.orders)"#
            ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_forced_snapshot_answers_what_it_made_or_why_not() {
        let writer = FakeWriter::start(serde_json::json!([])).await;
        let client = WriterClient::new();
        let made = client
            .request_snapshot(&writer.url, "public.orders")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((made.epoch, made.position.as_str()), (4, "0/2000000"));

        // A writer from before the answer carried the snapshot.
        writer.answer_snapshot(200, serde_json::json!({"public.orders": "ok"}));
        let legacy = client.request_snapshot(&writer.url, "public.orders").await;
        assert_eq!(legacy.unwrap(), None);

        writer.answer_snapshot(
            500,
            serde_json::json!({"public.orders": {"error": "this writer is fenced"}}),
        );
        let error = client
            .request_snapshot(&writer.url, "public.orders")
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("snapshot of public.orders failed: this writer is fenced"),
            "{error}"
        );
    }

    #[test]
    fn the_url_template_takes_name_and_namespace() {
        assert_eq!(
            writer_url(&default_writer_url_template(), "orders", "data"),
            format!("http://orders-writer.data.svc:{HTTP_PORT}")
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
