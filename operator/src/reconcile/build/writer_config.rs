//! The writer's YAML config rendered from a validated spec: the camelCase CR
//! fields become the writer's snake_case keys; `irsa` profiles become
//! `ambient` ones (the SDK's web-identity chain picks the role up from the
//! ServiceAccount).
//!
//! These types mirror `snapshot_writer::config` for serialization only; the
//! operator does not link the writer. A test feeds every rendered example to
//! the writer's own parser so the two cannot drift apart.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::crd::{CredentialProfileSpec, DestinationSpec, EventSinkSpec, SnapshotTableSpec};
use crate::reconcile::validate::ValidatedSpec;
use crate::units::format_seconds;

/// The writer's HTTP port, also the Service's and the probes'.
pub const WRITER_HTTP_PORT: u16 = 8080;

#[derive(Serialize)]
struct WriterConfig<'a> {
    http: Http,
    shutdown: Shutdown,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    credentials: BTreeMap<&'a str, Profile<'a>>,
    tables: Vec<Table<'a>>,
}

#[derive(Serialize)]
struct Http {
    port: u16,
}

#[derive(Serialize)]
struct Shutdown {
    grace_period: String,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Profile<'a> {
    Ambient {
        #[serde(skip_serializing_if = "Option::is_none")]
        region: Option<&'a str>,
    },
    AssumeRole {
        role_arn: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        external_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        region: Option<&'a str>,
    },
}

#[derive(Serialize)]
struct Table<'a> {
    source: Source<'a>,
    key_prefix: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_fields: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<Diff<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<Snapshot<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention: Option<Retention>,
    destinations: Vec<Destination<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    formats: Option<Formats>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<EventSink<'a>>,
}

#[derive(Serialize)]
struct Source<'a> {
    server: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<&'static str>,
    schema: &'a str,
    table: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    filters: Vec<Filter<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    heartbeat_timeout: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connect_timeout: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_message_size: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reconnect: Option<Reconnect<'a>>,
}

#[derive(Serialize)]
struct Filter<'a> {
    field: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    equals: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<&'a str>,
    #[serde(rename = "in", skip_serializing_if = "Option::is_none")]
    one_of: Option<&'a [serde_json::Value]>,
}

#[derive(Serialize)]
struct Reconnect<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    initial_backoff: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_backoff: Option<&'a str>,
}

#[derive(Serialize)]
struct Diff<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<&'a str>,
}

#[derive(Serialize)]
struct Snapshot<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    min_interval: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_interval: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_diff_bytes: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_diff_fraction: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_churn_records: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_churn_fraction: Option<f64>,
}

#[derive(Serialize)]
struct Retention {
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_epochs: Option<i32>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Destination<'a> {
    Local {
        path: &'a str,
    },
    S3 {
        bucket: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        prefix: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        region: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        endpoint: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        path_style: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        credentials: Option<&'a str>,
    },
}

#[derive(Serialize)]
struct Formats {
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<Vec<&'static str>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EventSink<'a> {
    Sns {
        topic_arn: &'a str,
        #[serde(flatten)]
        common: SinkCommon<'a>,
    },
    Sqs {
        queue_url: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        message_group_id: Option<&'a str>,
        #[serde(flatten)]
        common: SinkCommon<'a>,
    },
    Kinesis {
        stream: &'a str,
        #[serde(flatten)]
        common: SinkCommon<'a>,
    },
}

#[derive(Serialize)]
struct SinkCommon<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<&'a str>,
}

/// Renders the writer config (YAML) for one SnapshotTable.
pub fn render(
    spec: &SnapshotTableSpec,
    validated: &ValidatedSpec,
) -> Result<String, serde_yaml::Error> {
    let config = WriterConfig {
        http: Http {
            port: WRITER_HTTP_PORT,
        },
        shutdown: Shutdown {
            grace_period: format_seconds(validated.writer_shutdown),
        },
        credentials: spec
            .credentials
            .iter()
            .flatten()
            .filter_map(|(name, profile)| Some((name.as_str(), profile_of(profile)?)))
            .collect(),
        tables: vec![table_of(spec, validated)],
    };
    serde_yaml::to_string(&config)
}

fn profile_of(profile: &CredentialProfileSpec) -> Option<Profile<'_>> {
    if let Some(irsa) = &profile.irsa {
        // The role is on the ServiceAccount; inside the pod it is the ambient
        // identity (web identity token + AWS_ROLE_ARN injected by EKS).
        return Some(Profile::Ambient {
            region: irsa.region.as_deref(),
        });
    }
    if let Some(role) = &profile.assume_role {
        return Some(Profile::AssumeRole {
            role_arn: &role.role_arn,
            external_id: role.external_id.as_deref(),
            session_name: role.session_name.as_deref(),
            region: role.region.as_deref(),
        });
    }
    profile.ambient.as_ref().map(|ambient| Profile::Ambient {
        region: ambient.region.as_deref(),
    })
}

fn table_of<'a>(spec: &'a SnapshotTableSpec, validated: &'a ValidatedSpec) -> Table<'a> {
    let source = &spec.source;
    Table {
        source: Source {
            server: &source.server,
            protocol: source.protocol.map(|p| p.config_name()),
            schema: &source.schema,
            table: &source.table,
            client_id: source.client_id.as_deref(),
            filters: source
                .filters
                .iter()
                .flatten()
                .map(|f| Filter {
                    field: &f.field,
                    equals: f.equals.as_ref(),
                    prefix: f.prefix.as_deref(),
                    one_of: f.one_of.as_deref(),
                })
                .collect(),
            heartbeat_timeout: source.heartbeat_timeout.as_deref(),
            connect_timeout: source.connect_timeout.as_deref(),
            max_message_size: source.max_message_size.as_deref(),
            reconnect: source.reconnect.as_ref().map(|r| Reconnect {
                initial_backoff: r.initial_backoff.as_deref(),
                max_backoff: r.max_backoff.as_deref(),
            }),
        },
        key_prefix: &validated.key_prefix,
        key_fields: spec.key_fields.as_deref(),
        diff: spec.diff.as_ref().map(|d| Diff {
            interval: d.interval.as_deref(),
        }),
        snapshot: spec.snapshot.as_ref().map(|s| Snapshot {
            min_interval: s.min_interval.as_deref(),
            max_interval: s.max_interval.as_deref(),
            max_diff_bytes: s.max_diff_bytes.as_deref(),
            max_diff_fraction: s.max_diff_fraction,
            max_churn_records: s.max_churn_records,
            max_churn_fraction: s.max_churn_fraction,
        }),
        retention: spec.retention.as_ref().map(|r| Retention {
            keep_epochs: r.keep_epochs,
        }),
        destinations: spec
            .destinations
            .iter()
            .filter_map(destination_of)
            .collect(),
        formats: spec.formats.as_ref().map(|f| Formats {
            snapshot: f
                .snapshot
                .as_ref()
                .map(|l| l.iter().map(|x| x.config_name()).collect()),
            diff: f
                .diff
                .as_ref()
                .map(|l| l.iter().map(|x| x.config_name()).collect()),
        }),
        events: spec.events.iter().flatten().filter_map(event_of).collect(),
    }
}

fn destination_of(destination: &DestinationSpec) -> Option<Destination<'_>> {
    if let Some(local) = &destination.local {
        return Some(Destination::Local { path: &local.path });
    }
    destination.s3.as_ref().map(|s3| Destination::S3 {
        bucket: &s3.bucket,
        prefix: s3.prefix.as_deref(),
        region: s3.region.as_deref(),
        endpoint: s3.endpoint.as_deref(),
        path_style: s3.path_style,
        credentials: s3.credentials.as_deref(),
    })
}

fn event_of(sink: &EventSinkSpec) -> Option<EventSink<'_>> {
    let (_, _, _, common) = sink.target()?;
    let common = SinkCommon {
        region: common.region.as_deref(),
        endpoint: common.endpoint.as_deref(),
        credentials: common.credentials.as_deref(),
    };
    if let Some(sns) = &sink.sns {
        return Some(EventSink::Sns {
            topic_arn: &sns.topic_arn,
            common,
        });
    }
    if let Some(sqs) = &sink.sqs {
        return Some(EventSink::Sqs {
            queue_url: &sqs.queue_url,
            message_group_id: sqs.message_group_id.as_deref(),
            common,
        });
    }
    sink.kinesis.as_ref().map(|kinesis| EventSink::Kinesis {
        stream: &kinesis.stream,
        common,
    })
}
