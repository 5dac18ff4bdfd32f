//! One test per kind of bad config, each asserting the exact one-line error.

use super::*;
use crate::config::{Format, SourceProtocol};

const MINIMAL_INLINE: &str = "
source: {server: 'localhost:4002', schema: public, table: users}
destinations: [{type: local, path: /tmp/archive}]
";

fn error_of(yaml: &str) -> String {
    parse_str(yaml)
        .expect_err("config should be rejected")
        .to_string()
}

#[test]
fn inline_table_gets_laredo_defaults() {
    let config = parse_str(MINIMAL_INLINE).unwrap();
    assert_eq!(config.tables.len(), 1);
    let table = &config.tables[0];
    assert_eq!(table.qualified_name(), "public.users");
    assert_eq!(table.effective_key_prefix(), "users/");
    assert_eq!(table.key_fields, ["id"]);
    assert_eq!(table.diff.interval.to_string(), "30s");
    assert_eq!(table.formats.snapshot, [Format::Jsonl]);
    assert_eq!(table.source.protocol, SourceProtocol::Connect);
    assert_eq!(config.http.port, 8080);
    assert_eq!(
        table.snapshot,
        Default::default(),
        "every trigger is off unless set"
    );
}

#[test]
fn tables_list_with_every_section_parses() {
    let config = parse_str(
        "
http: {port: 9090}
credentials:
  s3w: {type: ambient}
  pub: {type: assume_role, role_arn: 'arn:aws:iam::222233334444:role/pub', external_id: laredo}
tables:
  - source: {server: 'laredo:4002', schema: public, table: users, protocol: grpc-web,
             filters: [{field: region, equals: eu}, {field: id, in: [1, 2]}]}
    key_fields: [tenant, id]
    snapshot: {min_interval: 30s, max_interval: 10m, max_diff_bytes: 32MiB,
               max_diff_fraction: 0.5, max_churn_records: 1000, max_churn_fraction: 0.2}
    retention: {keep_epochs: 3}
    destinations:
      - {type: s3, bucket: b, prefix: cfg/, credentials: s3w, endpoint: 'http://127.0.0.1:9000', path_style: true}
    formats: {snapshot: [jsonl, protobuf], diff: [protobuf]}
    events: [{type: sns, topic_arn: 'arn:aws:sns:us-east-1:1:t', credentials: pub}]
  - source: {server: 'laredo:4002', schema: public, table: orders}
    destinations: [{type: local, path: /var/lib/laredo/orders}]
",
    )
    .unwrap();
    assert_eq!(config.http.port, 9090);
    assert_eq!(config.tables.len(), 2);
    assert_eq!(
        config.tables[0].snapshot.max_diff_bytes.unwrap().0,
        32 << 20
    );
    assert_eq!(config.tables[0].formats.diff, [Format::Protobuf]);
    assert_eq!(config.tables[0].source.filters.len(), 2);
}

#[test]
fn serialized_config_parses_back_identically() {
    let config = parse_str(MINIMAL_INLINE).unwrap();
    let yaml = serde_yaml::to_string(&config).unwrap();
    assert_eq!(parse_str(&yaml).unwrap(), config);
}

#[test]
fn bad_duration_names_path_and_value() {
    let yaml = "tables:\n - {source: {server: a, schema: s, table: t}, destinations: [{type: local, path: /a}]}\n - source: {server: a, schema: s, table: u}\n   destinations: [{type: local, path: /b}]\n   snapshot: {max_interval: 10 minutes}\n".to_string();
    assert_eq!(
        error_of(&yaml),
        r#"tables[1].snapshot.max_interval: invalid duration "10 minutes""#
    );
}

#[test]
fn bad_size_names_path_and_value() {
    let yaml = format!("{MINIMAL_INLINE}snapshot: {{max_diff_bytes: 32 megabytes}}\n");
    assert_eq!(
        error_of(&yaml),
        r#"snapshot.max_diff_bytes: invalid size "32 megabytes""#
    );
}

#[test]
fn unknown_key_is_named() {
    let yaml = format!("{MINIMAL_INLINE}snapshot: {{max_intervall: 10m}}\n");
    let error = error_of(&yaml);
    assert!(
        error.starts_with("snapshot.max_intervall: unknown field `max_intervall`"),
        "{error}"
    );
}

#[test]
fn unknown_root_key_is_named() {
    let error = error_of(&format!("{MINIMAL_INLINE}colour: blue\n"));
    assert!(
        error.starts_with("colour: unknown field `colour`"),
        "{error}"
    );
}

#[test]
fn missing_required_field_is_named() {
    let error =
        error_of("source: {server: a, schema: s}\ndestinations: [{type: local, path: /a}]\n");
    assert_eq!(error, "source.table: required key is missing");
}

#[test]
fn missing_destinations_is_named() {
    let error = error_of("source: {server: a, schema: s, table: t}\n");
    assert_eq!(error, "destinations: required key is missing");
}

#[test]
fn unknown_credential_profile_is_named() {
    let yaml = "
credentials: {s3w: {type: ambient}}
source: {server: a, schema: s, table: t}
destinations: [{type: s3, bucket: b, credentials: nope}]
";
    assert_eq!(
        error_of(yaml),
        r#"destinations[0].credentials: a destination names a credential profile that is not defined: "nope" (defined: s3w)"#
    );
}

#[test]
fn unknown_format_is_named() {
    let error = error_of(&format!("{MINIMAL_INLINE}formats: {{snapshot: [avro]}}\n"));
    assert!(
        error.starts_with("formats.snapshot[0]: unknown variant `avro`"),
        "{error}"
    );
}

#[test]
fn parquet_is_a_format_and_its_diffs_need_its_snapshots() {
    let yaml =
        format!("{MINIMAL_INLINE}formats: {{snapshot: [parquet, jsonl], diff: [parquet]}}\n");
    let config = parse_str(&yaml).unwrap();
    assert_eq!(
        config.tables[0].formats.snapshot,
        [Format::Parquet, Format::Jsonl]
    );
    let error = error_of(&format!(
        "{MINIMAL_INLINE}formats: {{snapshot: [jsonl], diff: [parquet]}}\n"
    ));
    assert_eq!(
        error,
        "formats.diff: parquet diffs need parquet snapshots: add parquet to formats.snapshot"
    );
}

#[test]
fn a_kind_in_no_go_readable_format_is_warned_of_not_refused() {
    let yaml =
        format!("{MINIMAL_INLINE}formats: {{snapshot: [parquet], diff: [parquet, protobuf]}}\n");
    let config = parse_str(&yaml).unwrap();
    let warnings = config.tables[0].format_warnings();
    assert_eq!(warnings.len(), 1, "diffs have protobuf: {warnings:?}");
    assert!(
        warnings[0].contains("snapshots are written only as parquet")
            && warnings[0].contains("add jsonl or protobuf"),
        "{warnings:?}"
    );
    let yaml = format!("{MINIMAL_INLINE}formats: {{snapshot: [jsonl, parquet]}}\n");
    assert!(
        parse_str(&yaml).unwrap().tables[0]
            .format_warnings()
            .is_empty()
    );
}

#[test]
fn unknown_destination_type_is_named() {
    let error = error_of(
        "source: {server: a, schema: s, table: t}\ndestinations: [{type: gcs, bucket: b}]\n",
    );
    assert!(
        error.starts_with("destinations[0].type: unknown variant `gcs`"),
        "{error}"
    );
}

#[test]
fn unknown_protocol_is_named() {
    let error = error_of(
        "source: {server: a, schema: s, table: t, protocol: http3}\ndestinations: [{type: local, path: /a}]\n",
    );
    assert!(
        error.starts_with("source.protocol: unknown variant `http3`"),
        "{error}"
    );
}

#[test]
fn filter_needs_exactly_one_predicate() {
    let yaml = "source: {server: a, schema: s, table: t, filters: [{field: x, equals: 1, prefix: a}]}\ndestinations: [{type: local, path: /a}]\n";
    assert_eq!(
        error_of(yaml),
        r#"source.filters[0]: a filter needs exactly one of equals, prefix, in (the filter on "x")"#
    );
}

#[test]
fn two_tables_on_one_prefix_are_rejected() {
    let yaml = "
tables:
  - {source: {server: a, schema: s, table: t}, key_prefix: x/, destinations: [{type: s3, bucket: b}]}
  - {source: {server: a, schema: s, table: u}, key_prefix: x/, destinations: [{type: s3, bucket: b}]}
";
    assert_eq!(
        error_of(yaml),
        "tables[1].destinations[0]: writes its manifest at s3://aws/b/x/manifest.json, where tables[0].destinations[0] already writes; one table per place (give each table its own key_prefix or destination)"
    );
}

#[test]
fn min_interval_longer_than_max_is_rejected() {
    let error = error_of(&format!(
        "{MINIMAL_INLINE}snapshot: {{min_interval: 1h, max_interval: 10m}}\n"
    ));
    assert_eq!(
        error,
        "snapshot.min_interval: the minimum re-base interval must not be longer than the maximum (1h > 10m)"
    );
}

#[test]
fn inline_and_list_together_are_rejected() {
    let error = error_of(&format!("{MINIMAL_INLINE}tables: []\n"));
    assert!(
        error.starts_with("source: a table is given inline"),
        "{error}"
    );
}

#[test]
fn non_mapping_and_bad_yaml_are_rejected() {
    assert!(error_of("- a\n- b\n").starts_with("(root): expected a mapping"));
    assert!(error_of("source: [unclosed\n").starts_with("config is not valid YAML"));
}

#[test]
fn bad_endpoint_is_named() {
    let yaml = "source: {server: a, schema: s, table: t}\ndestinations: [{type: s3, bucket: b, endpoint: 'localhost:9000'}]\n";
    assert_eq!(
        error_of(yaml),
        r#"destinations[0].endpoint: invalid endpoint "localhost:9000": expected http(s)://host[:port]"#
    );
}
