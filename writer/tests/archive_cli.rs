//! `snapshot-writer read` and `verify` on the golden archives, through the
//! real binary.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/golden")
        .join(name)
}

fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_snapshot-writer"))
        .args(args)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (
        output.status.success(),
        text(output.stdout),
        text(output.stderr),
    )
}

#[test]
fn read_prints_the_table_as_jsonl() {
    let go = golden("go-writer");
    let (ok, stdout, stderr) = run(&["read", go.to_str().unwrap(), "--at", "0/0019F000"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(
        stdout.starts_with(r#"{"active":false,"id":1234567,"#),
        "{stdout}"
    );
    assert!(
        stderr.contains("4 rows at position \"0/0019F000\" (epoch 2)"),
        "{stderr}"
    );

    let ours = golden("rust-writer");
    let (ok, stdout, _) = run(&["read", ours.to_str().unwrap(), "--key-fields", "id"]);
    assert!(ok);
    assert!(
        stdout
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );
}

#[test]
fn verify_exits_non_zero_with_a_report() {
    let (ok, _, stderr) = run(&["verify", golden("rust-writer").to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stderr.starts_with("OK:"), "{stderr}");
    let (ok, _, stderr) = run(&["verify", golden("go-writer").to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("problem: ") && stderr.contains("INVALID"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["verify", "/nonexistent/archive"]);
    assert!(!ok);
    assert!(
        stderr.contains("not a directory holding manifest.json"),
        "{stderr}"
    );
}
