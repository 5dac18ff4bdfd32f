//! Advisory events, published to SNS, SQS and Kinesis after the manifest
//! head advances.
//!
//! - [`Event`] is the JSON payload: laredo's fields (`table`, `kind`, `epoch`,
//!   `from_position`, `to_position`, `head_position`, `manifest_uri`,
//!   `formats`, `created_at`) plus additive ones (`id`, `writer`).
//! - [`sinks`] publishes one event to one sink ([`connect_sink`] builds a sink
//!   from its config).
//! - [`EventPublisher`] (one per table) queues events per sink and publishes
//!   them in the background, at least once, retrying with capped backoff;
//!   [`EventPublisher::publish`] never blocks the caller, so a dead sink never
//!   holds up artifacts or the manifest.

mod publisher;
pub mod sinks;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use publisher::{EventPublisher, PublisherOptions};
pub use sinks::{EventSink, SinkError, connect_sink};

/// What kind of artifact an event announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A base snapshot (starts an epoch).
    Snapshot,
    /// A diff on top of the epoch's snapshot.
    Diff,
}

/// The event payload, sent as JSON. Field names and meanings are laredo's
/// (reference §3.8) so its consumers parse it unchanged; `manifest_uri` is a
/// real URI here (laredo sends the bare key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `schema.table`.
    pub table: String,
    /// `snapshot` or `diff`.
    pub kind: EventKind,
    /// The artifact's epoch.
    pub epoch: u64,
    /// The diff's exclusive lower bound; `null` for snapshots (always present).
    pub from_position: Option<String>,
    /// The artifact's upper bound.
    pub to_position: String,
    /// The manifest head after the commit (laredo: equal to `to_position`).
    pub head_position: String,
    /// Where the manifest is, e.g. `s3://bucket/prefix/users/manifest.json`
    /// or `file:///var/lib/laredo/users/manifest.json`.
    pub manifest_uri: String,
    /// Format id (`jsonl`, `protobuf`) to the artifact's URI.
    pub formats: BTreeMap<String, String>,
    /// When the artifact was created (RFC 3339, UTC, nanoseconds).
    pub created_at: jiff::Timestamp,
    /// Additive: an id unique to this artifact within the table (its key in
    /// the archive does). Consumers may deduplicate on (`table`, `id`); it is
    /// the deduplication id on FIFO queues and topics.
    pub id: String,
    /// Additive: the identity of the writer that committed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
}

impl Event {
    /// The JSON payload.
    pub fn to_json(&self) -> String {
        // Serialising plain strings, numbers and a map cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_has_laredos_fields_with_null_from_for_snapshots() {
        let event = Event {
            table: "public.users".into(),
            kind: EventKind::Snapshot,
            epoch: 3,
            from_position: None,
            to_position: "0/1A".into(),
            head_position: "0/1A".into(),
            manifest_uri: "s3://b/p/users/manifest.json".into(),
            formats: BTreeMap::from([(
                "jsonl".into(),
                "s3://b/p/users/epoch=3/snapshot-0_1A.jsonl".into(),
            )]),
            created_at: "2026-01-02T03:04:05.123456789Z".parse().unwrap(),
            id: "users/epoch=3/snapshot-0_1A".into(),
            writer: None,
        };
        let json: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "table": "public.users",
                "kind": "snapshot",
                "epoch": 3,
                "from_position": null,
                "to_position": "0/1A",
                "head_position": "0/1A",
                "manifest_uri": "s3://b/p/users/manifest.json",
                "formats": {"jsonl": "s3://b/p/users/epoch=3/snapshot-0_1A.jsonl"},
                "created_at": "2026-01-02T03:04:05.123456789Z",
                "id": "users/epoch=3/snapshot-0_1A",
            })
        );
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
