//! The command line: config errors are one line naming the path and value,
//! from `check-config` and from starting the writer alike.

use std::process::{Command, Output};

use crate::harness::writer_binary;

const VALID: &str = "source: {server: \"127.0.0.1:4002\", schema: public, table: users}
destinations: [{type: local, path: /tmp/laredo-check}]
";

/// Each bad config and the line the writer must print for it.
const BAD: [(&str, &str); 6] = [
    (
        "tables:\n  - {source: {server: a, schema: s, table: t}, destinations: [{type: local, path: /a}]}\n  - source: {server: a, schema: s, table: u}\n    destinations: [{type: local, path: /b}]\n    snapshot: {max_interval: 10 minutes}\n",
        r#"tables[1].snapshot.max_interval: invalid duration "10 minutes""#,
    ),
    (
        "source: {server: a, schema: s, table: t}\ndestinations: [{type: local, path: /a}]\nsnapshot: {max_diff_bytes: 32 megabytes}\n",
        r#"snapshot.max_diff_bytes: invalid size "32 megabytes""#,
    ),
    (
        "source: {server: a, schema: s, table: t}\ndestinations: [{type: local, path: /a}]\nsnapshot: {max_intervall: 10m}\n",
        "snapshot.max_intervall: unknown field `max_intervall`",
    ),
    (
        "source: {server: a, schema: s}\ndestinations: [{type: local, path: /a}]\n",
        "source.table: required key is missing",
    ),
    (
        "credentials: {s3w: {type: ambient}}\nsource: {server: a, schema: s, table: t}\ndestinations: [{type: s3, bucket: b, credentials: nope}]\n",
        r#"destinations[0].credentials: a destination names a credential profile that is not defined: "nope" (defined: s3w)"#,
    ),
    (
        "source: {server: a, schema: s, table: t}\ndestinations: [{type: local, path: /a}]\nformats: {snapshot: [avro]}\n",
        "formats.snapshot[0]: unknown variant `avro`",
    ),
];

fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(writer_binary()).args(args).output().unwrap()
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn each_bad_config_is_one_line_naming_the_path_and_value() {
    let dir = tempfile::tempdir().unwrap();
    for (index, (yaml, expected)) in BAD.iter().enumerate() {
        let file = dir.path().join(format!("bad-{index}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        for args in [
            vec!["check-config".as_ref(), file.as_os_str()],
            vec!["--config".as_ref(), file.as_os_str()],
        ] {
            let output = run(&args);
            assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
            let lines = stderr_lines(&output);
            assert_eq!(lines.len(), 1, "{args:?}: not one line: {lines:#?}");
            assert!(
                lines[0].contains(expected) && lines[0].contains(&format!("bad-{index}.yaml")),
                "{args:?}: {:?} does not name the file and say {expected:?}",
                lines[0]
            );
        }
    }
}

#[test]
fn check_config_accepts_a_valid_file_and_names_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ok.yaml");
    std::fs::write(&file, VALID).unwrap();
    let output = run(&["check-config".as_ref(), file.as_os_str()]);
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("public.users"));
}

#[test]
fn check_config_warns_of_a_kind_written_in_no_format_go_consumers_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parquet.yaml");
    let yaml = format!("{VALID}formats: {{snapshot: [parquet], diff: [parquet, protobuf]}}\n");
    std::fs::write(&file, yaml).unwrap();
    let output = run(&["check-config".as_ref(), file.as_os_str()]);
    assert!(
        output.status.success(),
        "a warning, not an error: {output:?}"
    );
    let lines = stderr_lines(&output);
    assert_eq!(
        lines.len(),
        1,
        "snapshots only: diffs have protobuf {lines:#?}"
    );
    assert!(
        lines[0].starts_with("warning: table public.users: snapshots are written only as parquet")
            && lines[0].contains("laredo's Go consumers")
            && lines[0].contains("add jsonl or protobuf"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_missing_config_file_or_no_config_is_a_clear_error() {
    let output = run(&["--config".as_ref(), "/nonexistent/writer.yaml".as_ref()]);
    assert_eq!(output.status.code(), Some(1));
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("/nonexistent/writer.yaml"),
        "{}",
        lines[0]
    );

    let output = Command::new(writer_binary())
        .env_remove("SNAPSHOT_WRITER_CONFIG")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--config FILE"));
}

#[test]
fn every_example_config_is_accepted() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let output = run(&["check-config".as_ref(), path.as_os_str()]);
            assert!(output.status.success(), "{}: {output:?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} example configs");
}
