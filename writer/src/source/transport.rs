//! The three wire protocols behind one interface: open a `Sync` stream for a
//! request, then read its messages one at a time.

use std::time::Duration;

use http_body_util::BodyExt;

use laredo_proto::prost_types;
use laredo_proto::replication::v1::{FieldPredicate, SyncRequest, field_predicate::Match};
use laredo_wire::json_value;

use super::decode::ServerMessage;
use super::error::SourceError;
use super::{connect, grpc};
use crate::config::{FilterConfig, SourceConfig, SourceProtocol, server_origin};
use crate::telemetry::with_causes;

/// Opens streams to one server with one protocol.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    protocol: SourceProtocol,
    origin: String,
    /// TLS settings for an `https://` origin (unused for `http://`).
    tls: std::sync::Arc<rustls::ClientConfig>,
    max_message_size: usize,
    connect_timeout: Duration,
}

/// An open `Sync` response stream.
pub(crate) enum MessageStream {
    Connect(connect::ConnectStream),
    Tonic(grpc::TonicStream),
}

impl MessageStream {
    /// The next message; `None` when the server ended the stream cleanly.
    /// Cancel-safe: dropping the future loses no bytes.
    pub async fn next(&mut self) -> Result<Option<ServerMessage>, SourceError> {
        match self {
            MessageStream::Connect(stream) => stream.next().await,
            MessageStream::Tonic(stream) => stream.next().await,
        }
    }
}

impl Transport {
    /// Validates the server address.
    pub fn new(config: &SourceConfig) -> Result<Self, SourceError> {
        let origin = origin(&config.server)?;
        let https = origin.starts_with("https://");
        let tls = super::tls::client_config(https, config.tls.ca_file.as_deref())
            .map_err(|error| SourceError::Tls(error.to_string()))?;
        Ok(Self {
            protocol: config.protocol,
            origin,
            tls,
            max_message_size: usize::try_from(config.max_message_size.0).unwrap_or(usize::MAX),
            connect_timeout: config.connect_timeout.0,
        })
    }

    /// `http(s)://host:port`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Connects and sends the request; the response headers have arrived
    /// when this returns.
    pub async fn open(&self, request: SyncRequest) -> Result<MessageStream, SourceError> {
        let limits = Limits {
            origin: &self.origin,
            tls: &self.tls,
            max_message_size: self.max_message_size,
            connect_timeout: self.connect_timeout,
        };
        match self.protocol {
            SourceProtocol::Connect => connect::open(&limits, request)
                .await
                .map(MessageStream::Connect),
            SourceProtocol::GrpcWeb => grpc::open(&limits, request, grpc::Flavor::Web)
                .await
                .map(MessageStream::Tonic),
            SourceProtocol::Grpc => grpc::open(&limits, request, grpc::Flavor::H2c)
                .await
                .map(MessageStream::Tonic),
        }
    }
}

/// What every protocol needs to open a stream.
pub(crate) struct Limits<'a> {
    pub origin: &'a str,
    pub tls: &'a rustls::ClientConfig,
    pub max_message_size: usize,
    pub connect_timeout: Duration,
}

impl Limits<'_> {
    /// A connection error naming the server and the error's causes.
    pub fn connection_error(&self, error: &(dyn std::error::Error + 'static)) -> SourceError {
        SourceError::Connection {
            origin: self.origin.to_owned(),
            reason: with_causes(error).to_string(),
        }
    }
}

/// Up to 512 bytes of a body, for error messages.
pub(crate) async fn read_snippet(mut body: hyper::body::Incoming) -> String {
    const LIMIT: usize = 512;
    let mut bytes = Vec::new();
    let read = async {
        while bytes.len() < LIMIT {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        bytes.extend_from_slice(data);
                    }
                }
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), read).await;
    bytes.truncate(LIMIT);
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

/// `http(s)://host:port` from `source.server` ([`server_origin`], the
/// parse the operator also runs).
pub fn origin(server: &str) -> Result<String, SourceError> {
    server_origin(server).map_err(|invalid| SourceError::InvalidServer {
        server: invalid.server,
        reason: invalid.reason,
    })
}

/// The fixed part of every `SyncRequest` of one subscription.
#[derive(Debug, Clone)]
pub(crate) struct RequestTemplate {
    schema: String,
    table: String,
    client_id: String,
    filters: Vec<FieldPredicate>,
}

impl RequestTemplate {
    /// From the configuration; the client id defaults to
    /// `snapshot-writer-<schema>.<table>`.
    pub fn new(config: &SourceConfig) -> Result<Self, SourceError> {
        let filters = config
            .filters
            .iter()
            .enumerate()
            .map(|(index, filter)| {
                predicate(filter).map_err(|reason| SourceError::InvalidFilter { index, reason })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            schema: config.schema.clone(),
            table: config.table.clone(),
            client_id: config
                .client_id
                .clone()
                .unwrap_or_else(|| format!("snapshot-writer-{}.{}", config.schema, config.table)),
            filters,
        })
    }

    /// The request resuming from `cursor`.
    pub fn request(&self, cursor: &super::Cursor) -> SyncRequest {
        SyncRequest {
            schema: self.schema.clone(),
            table: self.table.clone(),
            last_known_sequence: cursor.sequence,
            last_snapshot_id: cursor.snapshot_id.clone(),
            client_id: self.client_id.clone(),
            last_known_source_position: cursor.resume_position().to_owned(),
            filters: self.filters.clone(),
        }
    }
}

fn predicate(filter: &FilterConfig) -> Result<FieldPredicate, String> {
    if filter.field.is_empty() {
        return Err("`field` is empty".into());
    }
    let matcher = match (&filter.equals, &filter.prefix, &filter.one_of) {
        (Some(value), None, None) => Match::Equals(json_value(value)),
        (None, Some(prefix), None) => Match::Prefix(prefix.clone()),
        (None, None, Some(values)) => Match::In(prost_types::ListValue {
            values: values.iter().map(json_value).collect(),
        }),
        _ => {
            return Err(format!(
                "{} (the filter on {:?})",
                snapshot_contract::rules::FILTER_ONE_KIND,
                filter.field
            ));
        }
    };
    Ok(FieldPredicate {
        field: filter.field.clone(),
        r#match: Some(matcher),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_get_a_scheme() {
        assert_eq!(origin("localhost:4002").unwrap(), "http://localhost:4002");
        assert_eq!(
            origin("http://10.0.0.1:4002/").unwrap(),
            "http://10.0.0.1:4002"
        );
        assert_eq!(origin("[::1]:4002").unwrap(), "http://[::1]:4002");
        assert_eq!(
            origin("https://laredo:4002/").unwrap(),
            "https://laredo:4002"
        );
        for (bad, why) in [
            ("", "empty"),
            ("ftp://x:1", "scheme"),
            ("http://x:1/api", "path"),
            ("x y:1", "not a URL"),
        ] {
            let error = origin(bad).unwrap_err().to_string();
            assert!(error.contains(why), "{bad:?}: {error}");
        }
    }

    #[test]
    fn filters_become_predicates() {
        let filter = |equals, prefix: Option<&str>, one_of| FilterConfig {
            field: "region".into(),
            equals,
            prefix: prefix.map(str::to_owned),
            one_of,
        };
        let p = predicate(&filter(Some(serde_json::json!(5)), None, None)).unwrap();
        assert_eq!(
            p.r#match,
            Some(Match::Equals(json_value(&serde_json::json!(5.0))))
        );
        let p = predicate(&filter(None, None, Some(vec![serde_json::json!("eu")]))).unwrap();
        assert!(matches!(p.r#match, Some(Match::In(list)) if list.values.len() == 1));
        assert!(predicate(&filter(None, None, None)).is_err());
        assert!(predicate(&filter(Some(serde_json::json!(1)), Some("a"), None)).is_err());
    }
}
