//! A problem the contract's validation finds in the config mapped from a
//! spec, told at the spec's path: `tables[0].source.heartbeat_timeout` is
//! `spec.source.heartbeatTimeout`, `tables[0].destinations[1].bucket` is
//! `spec.destinations[1].s3.bucket`, `credentials.x.role_arn` is
//! `spec.credentials.x.assumeRole.roleArn`.

use snapshot_contract::config::{ConfigError, ConfigPath, Segment};

use super::FieldError;
use super::mapping::Mapped;
use crate::crd::{DestinationSpec, EventSinkSpec, SnapshotTableSpec};

/// `problem` (one entry of the contract's error) at its spec path.
pub(super) fn field_error(
    problem: &ConfigError,
    spec: &SnapshotTableSpec,
    mapped: &Mapped,
) -> FieldError {
    match problem {
        ConfigError::SamePlace { path, place, other } => FieldError {
            path: spec_path(path, spec, mapped),
            message: format!(
                "writes its manifest at {place}, which {} already writes",
                spec_path(other, spec, mapped)
            ),
        },
        ConfigError::Invalid { path, message } => FieldError {
            path: spec_path(path, spec, mapped),
            message: message.clone(),
        },
        // Not produced by validating a config value; kept whole.
        other => FieldError {
            path: "spec".into(),
            message: other.to_string(),
        },
    }
}

/// The spec path of `path`, a path in the config mapped from `spec`.
pub(super) fn spec_path(path: &ConfigPath, spec: &SnapshotTableSpec, mapped: &Mapped) -> String {
    match path.segments() {
        [table, Segment::Index(0), rest @ ..] if key(table) == Some("tables") => {
            table_path(rest, spec, mapped)
        }
        [credentials, Segment::Key(name), rest @ ..] if key(credentials) == Some("credentials") => {
            let kind = spec
                .credentials
                .as_ref()
                .and_then(|c| c.get(name))
                .map_or("", |p| {
                    if p.irsa.is_some() {
                        ".irsa"
                    } else if p.assume_role.is_some() {
                        ".assumeRole"
                    } else {
                        ".ambient"
                    }
                });
            let tail = if rest.is_empty() {
                String::new()
            } else {
                format!("{kind}{}", camel_path(rest))
            };
            format!("spec.credentials.{name}{tail}")
        }
        // The operator sets `shutdown` from the pod's grace period.
        [shutdown, ..] if key(shutdown) == Some("shutdown") => {
            "spec.writer.terminationGracePeriodSeconds".into()
        }
        rest => format!("spec{}", camel_path(rest)),
    }
}

fn key(segment: &Segment) -> Option<&str> {
    match segment {
        Segment::Key(key) => Some(key),
        Segment::Index(_) => None,
    }
}

/// A path inside the one table (`source.…`, `destinations[i].…`).
fn table_path(rest: &[Segment], spec: &SnapshotTableSpec, mapped: &Mapped) -> String {
    match rest {
        [Segment::Key(list), Segment::Index(i), tail @ ..] if list == "destinations" => {
            let index = mapped.destinations.get(*i).copied().unwrap_or(*i);
            let kind = spec.destinations.get(index).map_or("", destination_kind);
            entry_path("destinations", index, kind, tail)
        }
        [Segment::Key(list), Segment::Index(i), tail @ ..] if list == "events" => {
            let index = mapped.events.get(*i).copied().unwrap_or(*i);
            let kind = spec
                .events
                .as_ref()
                .and_then(|e| e.get(index))
                .map_or("", sink_kind);
            entry_path("events", index, kind, tail)
        }
        rest => format!("spec{}", camel_path(rest)),
    }
}

/// `spec.<list>[index]`, and below it the kind's block: a destination's
/// `bucket` is `s3.bucket` in the spec.
fn entry_path(list: &str, index: usize, kind: &str, tail: &[Segment]) -> String {
    if tail.is_empty() {
        format!("spec.{list}[{index}]")
    } else {
        format!("spec.{list}[{index}].{kind}{}", camel_path(tail))
    }
}

fn destination_kind(destination: &DestinationSpec) -> &'static str {
    if destination.s3.is_some() {
        "s3"
    } else {
        "local"
    }
}

fn sink_kind(sink: &EventSinkSpec) -> &'static str {
    sink.target().map_or("", |(kind, ..)| kind)
}

/// `.key[index]…` with each key in camelCase (`heartbeat_timeout` →
/// `heartbeatTimeout`).
fn camel_path(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) => {
                out.push('.');
                let mut upper = false;
                for c in key.chars() {
                    if c == '_' {
                        upper = true;
                    } else if upper {
                        out.extend(c.to_uppercase());
                        upper = false;
                    } else {
                        out.push(c);
                    }
                }
            }
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::s3_table;
    use crate::reconcile::validate::Errors;

    fn path_of(config_path: &str, spec: &SnapshotTableSpec) -> String {
        let mapped =
            super::super::mapping::map(spec, std::time::Duration::ZERO, &mut Errors::default());
        spec_path(&ConfigPath::root().join(config_path), spec, &mapped)
    }

    #[test]
    fn config_paths_read_as_spec_paths() {
        let mut table = s3_table("orders", "bucket", "archive/");
        table.spec.credentials = Some(
            [(
                "x".to_owned(),
                crate::crd::CredentialProfileSpec {
                    irsa: None,
                    assume_role: Some(crate::crd::AssumeRoleProfile {
                        role_arn: "r".into(),
                        external_id: None,
                        session_name: None,
                        region: None,
                    }),
                    ambient: None,
                },
            )]
            .into(),
        );
        let spec = &table.spec;
        for (config, expected) in [
            (
                "tables[0].source.heartbeat_timeout",
                "spec.source.heartbeatTimeout",
            ),
            (
                "tables[0].source.reconnect.initial_backoff",
                "spec.source.reconnect.initialBackoff",
            ),
            ("tables[0].source.filters[2]", "spec.source.filters[2]"),
            (
                "tables[0].destinations[0].bucket",
                "spec.destinations[0].s3.bucket",
            ),
            ("tables[0].destinations[0]", "spec.destinations[0]"),
            ("tables[0].key_prefix", "spec.keyPrefix"),
            (
                "credentials.x.role_arn",
                "spec.credentials.x.assumeRole.roleArn",
            ),
            (
                "shutdown.grace_period",
                "spec.writer.terminationGracePeriodSeconds",
            ),
        ] {
            assert_eq!(path_of(config, spec), expected, "{config}");
        }
    }

    #[test]
    fn an_entry_left_out_of_the_config_keeps_the_others_at_their_spec_index() {
        let mut table = s3_table("orders", "bucket", "archive/");
        let second = table.spec.destinations[0].clone();
        table.spec.destinations[0].local = Some(crate::crd::LocalDestination {
            path: "/data/x".into(),
        });
        table.spec.destinations.push(second);
        assert_eq!(
            path_of("tables[0].destinations[0].bucket", &table.spec),
            "spec.destinations[1].s3.bucket"
        );
    }
}
