//! One run reports every problem: values that do not parse, in any number of
//! places, and the checks of everything that did parse.

use super::*;

fn problems_of(yaml: &str) -> Vec<String> {
    parse_str(yaml)
        .expect_err("config should be rejected")
        .problems()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn bad_values_in_several_tables_and_an_unknown_key_are_all_reported() {
    let yaml = "
http: {port: 8080, colour: blue}
tables:
  - source: {server: 'a:1', schema: s, table: t, heartbeat_timeout: 30 seconds}
    destinations: [{type: local, path: /a}]
  - source: {server: 'a:1', schema: s, table: u}
    destinations: [{type: local, path: /b}]
    snapshot: {max_interval: 10 minutes, max_diff_bytes: lots}
    diff: {interval: 1ns}
";
    let error = parse_str(yaml).unwrap_err();
    assert!(matches!(error, ConfigError::Several(_)), "{error}");
    assert_eq!(
        problems_of(yaml),
        [
            "http.colour: unknown field `colour`, expected `port` or `bind`",
            r#"tables[0].source.heartbeat_timeout: invalid duration "30 seconds""#,
            r#"tables[1].snapshot.max_interval: invalid duration "10 minutes""#,
            r#"tables[1].snapshot.max_diff_bytes: invalid size "lots""#,
            "tables[1].diff.interval: 1ns is below the minimum of 100ms",
        ]
    );
    assert!(error.to_string().starts_with("5 problems: "), "{error}");
}

#[test]
fn an_inline_table_reports_bad_values_and_the_checks_of_the_rest() {
    let problems = problems_of(
        "source: {server: 'ftp://a:1', schema: s, table: t, connect_timeout: soon}\n\
         destinations: [{type: local, path: /a}]\n\
         key_prefix: /abs/\n\
         shutdown: {grace_period: forever}\n",
    );
    assert_eq!(
        problems,
        [
            r#"shutdown.grace_period: invalid duration "forever""#,
            r#"source.connect_timeout: invalid duration "soon""#,
            r#"source.server: "ftp://a:1": the scheme must be http or https"#,
            r#"key_prefix: "/abs/" is absolute; a key prefix is relative to each destination"#,
        ]
    );
}

#[test]
fn a_missing_required_key_skips_only_that_tables_checks() {
    let problems = problems_of(
        "tables:\n\
         - {source: {server: 'a:1', schema: s}, key_prefix: /abs/, destinations: [{type: local, path: /a}]}\n\
         - {source: {server: 'a:1', schema: s, table: u}, key_prefix: /abs/, destinations: [{type: local, path: /b}]}\n",
    );
    assert_eq!(
        problems,
        [
            "tables[0].source.table: required key is missing",
            r#"tables[1].key_prefix: "/abs/" is absolute; a key prefix is relative to each destination"#,
        ]
    );
}

#[test]
fn a_value_of_the_wrong_type_for_a_required_key_is_one_problem() {
    let problems = problems_of(
        "source: {server: [a, b], schema: s, table: t}\n\
         destinations: [{type: local, path: /a}]\n",
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("source.server: invalid type: sequence"),
        "{problems:?}"
    );
}

#[test]
fn bad_list_entries_are_named_at_their_own_positions() {
    let problems = problems_of(
        "source: {server: 'a:1', schema: s, table: t}\n\
         destinations: [{type: local, path: /a}]\n\
         formats: {snapshot: [csv, jsonl, avro], diff: [orc]}\n",
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
    for (problem, path) in problems.iter().zip([
        "formats.snapshot[0]: unknown variant `csv`",
        "formats.snapshot[2]: unknown variant `avro`",
        "formats.diff[0]: unknown variant `orc`",
    ]) {
        assert!(problem.starts_with(path), "{path} in {problems:?}");
    }
}

#[test]
fn a_profile_that_does_not_parse_is_not_also_undefined() {
    let problems = problems_of(
        "credentials: {r: {type: assume_role, role_arn: [x]}, a: {type: ambient, colour: red}}\n\
         source: {server: 'a:1', schema: s, table: t}\n\
         destinations: [{type: s3, bucket: b, credentials: r}]\n\
         events: [{type: sns, topic_arn: t, credentials: a}]\n",
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(
        problems,
        [
            "credentials.r: invalid type: sequence, expected a string",
            "credentials.a: unknown field `colour`, expected `region`",
        ]
    );
}

#[test]
fn a_table_that_is_not_a_mapping_is_named_and_the_others_checked() {
    let problems = problems_of(
        "tables:\n\
         - just a string\n\
         - {source: {server: 'a:1', schema: s, table: u}, destinations: []}\n",
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("tables[0]: invalid type"),
        "{problems:?}"
    );
    assert_eq!(
        problems[1],
        "tables[1].destinations: at least one destination is required"
    );
    assert_eq!(
        problems_of("tables: 5\n"),
        ["tables: invalid type: integer `5`, expected a sequence"]
    );
    assert_eq!(
        problems_of("tables: []\n"),
        ["tables: at least one table is required"]
    );
}

#[test]
fn a_flood_of_problems_stops_at_a_bound() {
    let keys: String = (0..100).map(|i| format!("k{i}: 1, ")).collect();
    let yaml = format!(
        "source: {{server: 'a:1', schema: s, table: t}}\n\
         destinations: [{{type: local, path: /a}}]\n\
         snapshot: {{{keys}}}\n"
    );
    let problems = problems_of(&yaml);
    assert!(problems.len() <= 70, "{}", problems.len());
    assert!(
        problems
            .last()
            .unwrap()
            .ends_with("problems here; fix these first"),
        "{problems:?}"
    );
}
