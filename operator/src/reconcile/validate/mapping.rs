//! The writer config a spec stands for: the one mapping from the CR's
//! camelCase fields to the contract's [`WriterConfig`], in one direction.
//! `irsa` profiles become `ambient` ones (the SDK's web-identity chain picks
//! the role up from the ServiceAccount).
//!
//! Durations and sizes are parsed here, by the contract's grammar; a value
//! that does not parse is a problem at its CR path and is left at its
//! default, so the contract's validation still checks everything else. An
//! entry with none or several kinds (a destination that is both `local` and
//! `s3`) is left out: the operator's own checks report it.

use std::time::Duration;

use snapshot_contract::config::{
    CredentialProfile, DestinationConfig, DiffConfig, EventSinkConfig, FilterConfig, FormatsConfig,
    ReconnectConfig, RetentionConfig, ShutdownConfig, SnapshotPolicyConfig, SourceConfig,
    TableConfig, WriterConfig,
};
use snapshot_contract::{ByteSize, GoDuration};

use super::Errors;
use crate::crd::{
    CredentialProfileSpec, DestinationSpec, EventSinkSpec, SnapshotTableSpec, SourceSpec,
};

/// A spec's writer config, and where its list entries came from.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Mapped {
    /// The config the writer will run.
    pub config: WriterConfig,
    /// For each destination of the config's table, its index in
    /// `spec.destinations`.
    pub destinations: Vec<usize>,
    /// For each event sink of the config's table, its index in `spec.events`.
    pub events: Vec<usize>,
}

/// Maps `spec` (with the writer's shutdown deadline `shutdown`) to the
/// writer config; values that do not parse go to `errors`.
pub(super) fn map(spec: &SnapshotTableSpec, shutdown: Duration, errors: &mut Errors) -> Mapped {
    let (destinations, destination_index): (Vec<_>, Vec<_>) = spec
        .destinations
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((destination_of(d)?, i)))
        .unzip();
    let (events, event_index): (Vec<_>, Vec<_>) = spec
        .events
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, e)| Some((event_of(e)?, i)))
        .unzip();
    let mut table = TableConfig::new(source_of(&spec.source, errors), destinations);
    table.key_prefix = spec.key_prefix.clone();
    if let Some(fields) = &spec.key_fields {
        table.key_fields = fields.clone();
    }
    if let Some(interval) = spec
        .diff
        .as_ref()
        .and_then(|d| errors.duration("spec.diff.interval", d.interval.as_deref()))
    {
        table.diff = DiffConfig { interval };
    }
    if let Some(snapshot) = &spec.snapshot {
        table.snapshot = SnapshotPolicyConfig {
            min_interval: errors.duration(
                "spec.snapshot.minInterval",
                snapshot.min_interval.as_deref(),
            ),
            max_interval: errors.duration(
                "spec.snapshot.maxInterval",
                snapshot.max_interval.as_deref(),
            ),
            max_diff_bytes: errors.size(
                "spec.snapshot.maxDiffBytes",
                snapshot.max_diff_bytes.as_deref(),
            ),
            max_diff_fraction: snapshot.max_diff_fraction,
            max_churn_records: snapshot.max_churn_records.and_then(|records| {
                let positive = u64::try_from(records).ok().filter(|r| *r >= 1);
                if positive.is_none() {
                    errors.push(
                        "spec.snapshot.maxChurnRecords",
                        format!("must be at least 1, not {records}"),
                    );
                }
                positive
            }),
            max_churn_fraction: snapshot.max_churn_fraction,
        };
    }
    if let Some(keep) = spec.retention.as_ref().and_then(|r| r.keep_epochs) {
        match u32::try_from(keep) {
            Ok(keep_epochs) => {
                table.retention = RetentionConfig {
                    keep_epochs: Some(keep_epochs),
                }
            }
            Err(_) => errors.push(
                "spec.retention.keepEpochs",
                format!("must not be negative, not {keep}"),
            ),
        }
    }
    if let Some(formats) = &spec.formats {
        let list = |kinds: &Option<Vec<crate::crd::Format>>, default: Vec<_>| {
            kinds
                .as_ref()
                .map_or(default, |l| l.iter().copied().map(Into::into).collect())
        };
        let defaults = FormatsConfig::default();
        table.formats = FormatsConfig {
            snapshot: list(&formats.snapshot, defaults.snapshot),
            diff: list(&formats.diff, defaults.diff),
        };
    }
    table.events = events;
    Mapped {
        config: WriterConfig {
            http: Default::default(),
            credentials: spec
                .credentials
                .iter()
                .flatten()
                .map(|(name, profile)| (name.clone(), profile_of(profile)))
                .collect(),
            shutdown: ShutdownConfig {
                grace_period: GoDuration(shutdown),
            },
            tables: vec![table],
        },
        destinations: destination_index,
        events: event_index,
    }
}

fn source_of(spec: &SourceSpec, errors: &mut Errors) -> SourceConfig {
    let mut source = SourceConfig::new(&spec.server, &spec.schema, &spec.table);
    source.protocol = spec.protocol.map(Into::into).unwrap_or_default();
    source.client_id = spec.client_id.clone();
    source.filters = spec
        .filters
        .iter()
        .flatten()
        .map(|f| FilterConfig {
            field: f.field.clone(),
            equals: f.equals.clone(),
            prefix: f.prefix.clone(),
            one_of: f.one_of.clone(),
        })
        .collect();
    if let Some(timeout) = errors.duration(
        "spec.source.heartbeatTimeout",
        spec.heartbeat_timeout.as_deref(),
    ) {
        source.heartbeat_timeout = timeout;
    }
    if let Some(timeout) = errors.duration(
        "spec.source.connectTimeout",
        spec.connect_timeout.as_deref(),
    ) {
        source.connect_timeout = timeout;
    }
    if let Some(size) = errors.size(
        "spec.source.maxMessageSize",
        spec.max_message_size.as_deref(),
    ) {
        source.max_message_size = size;
    }
    if let Some(reconnect) = &spec.reconnect {
        let defaults = ReconnectConfig::default();
        source.reconnect = ReconnectConfig {
            initial_backoff: errors
                .duration(
                    "spec.source.reconnect.initialBackoff",
                    reconnect.initial_backoff.as_deref(),
                )
                .unwrap_or(defaults.initial_backoff),
            max_backoff: errors
                .duration(
                    "spec.source.reconnect.maxBackoff",
                    reconnect.max_backoff.as_deref(),
                )
                .unwrap_or(defaults.max_backoff),
        };
    }
    source
}

/// A profile without a kind becomes an ambient one here; the operator's own
/// check reports it, and a reference to it is not a second problem.
fn profile_of(profile: &CredentialProfileSpec) -> CredentialProfile {
    if let Some(irsa) = &profile.irsa {
        // The role is on the ServiceAccount; inside the pod it is the ambient
        // identity (web identity token + AWS_ROLE_ARN injected by EKS).
        return CredentialProfile::Ambient {
            region: irsa.region.clone(),
        };
    }
    if let Some(role) = &profile.assume_role {
        return CredentialProfile::AssumeRole {
            role_arn: role.role_arn.clone(),
            external_id: role.external_id.clone(),
            session_name: role.session_name.clone(),
            region: role.region.clone(),
        };
    }
    CredentialProfile::Ambient {
        region: profile.ambient.as_ref().and_then(|a| a.region.clone()),
    }
}

fn destination_of(destination: &DestinationSpec) -> Option<DestinationConfig> {
    match (&destination.local, &destination.s3) {
        (Some(local), None) => Some(DestinationConfig::Local {
            path: local.path.clone().into(),
        }),
        (None, Some(s3)) => Some(DestinationConfig::S3 {
            bucket: s3.bucket.clone(),
            prefix: s3.prefix.clone().unwrap_or_default(),
            region: s3.region.clone(),
            endpoint: s3.endpoint.clone(),
            path_style: s3.path_style.unwrap_or(false),
            credentials: s3.credentials.clone(),
        }),
        _ => None,
    }
}

fn event_of(sink: &EventSinkSpec) -> Option<EventSinkConfig> {
    let (_, _, _, common) = sink.target()?;
    let (region, endpoint, credentials) = (
        common.region.clone(),
        common.endpoint.clone(),
        common.credentials.clone(),
    );
    if let Some(sns) = &sink.sns {
        return Some(EventSinkConfig::Sns {
            topic_arn: sns.topic_arn.clone(),
            region,
            endpoint,
            credentials,
        });
    }
    if let Some(sqs) = &sink.sqs {
        return Some(EventSinkConfig::Sqs {
            queue_url: sqs.queue_url.clone(),
            message_group_id: sqs.message_group_id.clone(),
            region,
            endpoint,
            credentials,
        });
    }
    sink.kinesis
        .as_ref()
        .map(|kinesis| EventSinkConfig::Kinesis {
            stream: kinesis.stream.clone(),
            region,
            endpoint,
            credentials,
        })
}

impl Errors {
    /// `text` as a Go duration; a problem at `path` if it is not one.
    fn duration(&mut self, path: &str, text: Option<&str>) -> Option<GoDuration> {
        GoDuration::parse(text?)
            .map_err(|message| self.push(path, message))
            .ok()
    }

    /// `text` as a byte size; a problem at `path` if it is not one.
    fn size(&mut self, path: &str, text: Option<&str>) -> Option<ByteSize> {
        ByteSize::parse(text?)
            .map_err(|message| self.push(path, message))
            .ok()
    }
}
