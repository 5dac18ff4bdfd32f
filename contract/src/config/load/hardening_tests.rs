//! Configs that cannot work, and configs built to hurt the loader: each is
//! refused by `check-config` with one line naming the path and the value.

use super::*;

fn error_of(yaml: &str) -> String {
    parse_str(yaml)
        .expect_err("config should be rejected")
        .to_string()
}

/// One inline table with `extra` appended at the root.
fn table_with(extra: &str) -> String {
    format!(
        "source: {{server: 'localhost:4002', schema: public, table: users}}\n\
         destinations: [{{type: local, path: /tmp/archive}}]\n{extra}"
    )
}

#[test]
fn key_prefixes_that_leave_the_destination_are_refused_for_what_they_are() {
    let absolute = error_of(&table_with("key_prefix: /etc/"));
    assert_eq!(
        absolute,
        r#"key_prefix: "/etc/" is absolute; a key prefix is relative to each destination"#
    );
    assert!(
        !absolute.contains(".."),
        "the absolute one is not blamed on `..`"
    );
    assert_eq!(
        error_of(&table_with("key_prefix: items/../../x/")),
        r#"key_prefix: "items/../../x/" has a `..` segment, which would leave the destination"#
    );
    assert_eq!(
        error_of(&table_with("key_prefix: \"items\\0/\"")),
        r#"key_prefix: "items\0/" contains a NUL byte"#
    );
    assert_eq!(
        error_of(
            "source: {server: 'a:1', schema: public, table: '..'}\n\
             destinations: [{type: local, path: /tmp/a}]"
        ),
        r#"source.table: the table name makes the default key_prefix "../", which has a `..` segment, which would leave the destination"#
    );
    // `..` inside a name is not a segment.
    parse_str(&table_with("key_prefix: a..b/")).unwrap();
}

#[test]
fn nul_bytes_are_refused_wherever_they_reach_a_path_or_url() {
    let error = error_of(
        "source: {server: 'localhost:4002', schema: \"pub\\0lic\", table: users}\n\
         destinations: [{type: local, path: \"/tmp/a\\0b\"}]",
    );
    assert!(error.starts_with("2 problems: "), "{error}");
    assert!(
        error.contains(r#"source.schema: "pub\0lic" contains a NUL byte"#),
        "{error}"
    );
    assert!(
        error.contains(r#"destinations[0].path: "/tmp/a\0b" contains a NUL byte"#),
        "{error}"
    );
}

#[test]
fn nul_bytes_in_event_sinks_and_credentials_are_refused() {
    let error = error_of(&table_with(
        "events: [{type: sqs, queue_url: \"q\\0\"}]\n\
         credentials: {r: {type: assume_role, role_arn: \"arn:aws:iam::1:role/x\\0\"}}",
    ));
    assert!(error.starts_with("2 problems: "), "{error}");
    assert!(
        error.contains(r#"events[0].queue_url: "q\0" contains a NUL byte"#),
        "{error}"
    );
    assert!(
        error.contains(r#"credentials.r.role_arn: "arn:aws:iam::1:role/x\0" contains a NUL byte"#),
        "{error}"
    );
}

#[test]
fn diff_intervals_below_the_minimum_are_refused() {
    for value in ["1ns", "99ms"] {
        assert_eq!(
            error_of(&table_with(&format!("diff: {{interval: {value}}}"))),
            format!("diff.interval: {value} is below the minimum of 100ms")
        );
    }
    parse_str(&table_with("diff: {interval: 100ms}")).unwrap();
}

#[test]
fn https_sources_are_accepted_and_a_bad_scheme_is_named() {
    let https = "source: {server: 'https://laredo:4002', schema: public, table: users}\n\
                 destinations: [{type: local, path: /tmp/archive}]\n";
    assert_eq!(
        parse_str(https).unwrap().tables[0].source.server,
        "https://laredo:4002"
    );
    let error = error_of(
        "source: {server: 'ftp://laredo:4002', schema: public, table: users}\n\
         destinations: [{type: local, path: /tmp/archive}]",
    );
    assert_eq!(
        error,
        r#"source.server: "ftp://laredo:4002": the scheme must be http or https"#
    );
}

#[test]
fn a_host_name_as_bind_address_names_the_value() {
    let error = error_of(&table_with("http: {bind: 'localhost:x'}"));
    assert!(
        error.starts_with(r#"http.bind: invalid IP address "localhost:x""#),
        "{error}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let error = error_of(
        "source: {server: 'ftp://a:1', schema: public, table: users}\n\
         key_prefix: /abs/\n\
         diff: {interval: 1ns}\n\
         destinations: [{type: local, path: /tmp/a}]",
    );
    assert!(error.starts_with("3 problems: "), "{error}");
    for part in ["source.server: ", "key_prefix: ", "diff.interval: "] {
        assert!(error.contains(part), "{part} in {error}");
    }
    assert!(!error.contains('\n'), "one line");
}

#[test]
fn spellings_of_one_place_are_two_tables_on_one_place() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    std::fs::create_dir(dir.path().join("X")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("X"), dir.path().join("link")).unwrap();
    for (first, second) in [
        (format!("{root}/X"), format!("{root}/X/")),
        (format!("{root}/X"), format!("{root}/x/../X")),
        (format!("{root}/X"), format!("{root}//X/.")),
        (format!("{root}/X"), format!("{root}/link")),
    ] {
        let yaml = format!(
            "tables:\n\
             - {{source: {{server: a, schema: s, table: t}}, key_prefix: items/, destinations: [{{type: local, path: '{first}'}}]}}\n\
             - {{source: {{server: a, schema: s, table: u}}, key_prefix: items/, destinations: [{{type: local, path: '{second}'}}]}}"
        );
        let error = error_of(&yaml);
        assert!(
            error.starts_with("tables[1].destinations[0]: writes its manifest at ")
                && error.contains("where tables[0].destinations[0] already writes"),
            "{first} vs {second}: {error}"
        );
    }
    for (first, second) in [("./items/", "items//"), ("items/", "./items/./")] {
        for destination in [
            "{type: local, path: /tmp/a}".to_owned(),
            "{type: s3, bucket: b, prefix: arch/}".to_owned(),
        ] {
            let yaml = format!(
                "tables:\n\
                 - {{source: {{server: a, schema: s, table: t}}, key_prefix: '{first}', destinations: [{destination}]}}\n\
                 - {{source: {{server: a, schema: s, table: u}}, key_prefix: '{second}', destinations: [{destination}]}}"
            );
            assert!(
                error_of(&yaml).contains("already writes"),
                "{first} vs {second} on {destination}"
            );
        }
    }
    // Different places stay allowed.
    parse_str(
        "tables:\n\
         - {source: {server: a, schema: s, table: t}, key_prefix: items, destinations: [{type: local, path: /tmp/a}]}\n\
         - {source: {server: a, schema: s, table: u}, key_prefix: items/, destinations: [{type: local, path: /tmp/a}]}",
    )
    .unwrap();
}

#[test]
fn deep_nesting_is_refused_before_the_yaml_parser_runs() {
    // 200 KB of brackets took serde_yaml 24 s before this check.
    let error = error_of(&"[".repeat(200_000));
    let limit = prescan::MAX_NESTING;
    assert_eq!(
        error,
        format!(
            "config nests {} levels deep at line 1; at most {limit} are accepted (a writer config needs fewer than 10)",
            limit + 1
        )
    );
    let mut block = String::new();
    for level in 0..100 {
        block.push_str(&"  ".repeat(level));
        block.push_str("k:\n");
    }
    assert!(
        error_of(&block).starts_with("config nests"),
        "block nesting"
    );
}

#[test]
fn oversized_and_special_files_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(50 << 20).unwrap();
    let error = load_file(&big).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "config {} is larger than 1048576 bytes (the limit); is it the right file?",
            big.display()
        )
    );
    let error = load_file(Path::new("/dev/zero")).unwrap_err().to_string();
    assert_eq!(error, "cannot read config /dev/zero: not a regular file");
    assert!(parse_str(&" ".repeat((1 << 20) + 1)).is_err());
}
