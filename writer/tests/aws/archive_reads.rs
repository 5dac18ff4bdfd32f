//! Reading an archive on S3 (moto): `read --at-time` at, between and before
//! artifacts, through the `snapshot-writer` binary; and the README's DuckDB
//! query over a Parquet archive through `httpfs`, equal to `read`.

use std::sync::Arc;

use snapshot_writer::archive::ArchiveSettings;
use snapshot_writer::config::Format;
use snapshot_writer::dest::Destination;
use snapshot_writer::dest::s3::S3Options;

use crate::archive_support::{parquet, timed};
use crate::support::duckdb;
use crate::support::moto::{ACCESS_KEY, Moto, REGION};

/// Runs the binary with `args`, with only the test identity in its
/// environment; `(success, stdout, stderr)`.
pub async fn read_cli(moto: &Moto, args: Vec<String>) -> (bool, String, String) {
    let env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let endpoint = moto.endpoint();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_snapshot-writer"))
            .args(&args)
            .args(["--endpoint", &endpoint, "--path-style"])
            .env_clear()
            .envs(env)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_at_time_answers_at_between_and_before_artifacts_on_s3() {
    let moto = Moto::start().await;
    let dest: Arc<dyn Destination> = Arc::new(
        moto.destination("timed", "archive/", S3Options::default())
            .await,
    );
    let settings = ArchiveSettings {
        snapshot_formats: vec![Format::Jsonl, Format::Protobuf],
        ..ArchiveSettings::new("public.items", "items/")
    };
    let committed = timed::write(&[dest], &settings).await;
    for (time, expected) in timed::cases(&committed) {
        let args = ["read", "s3://timed/archive/items/", "--at-time", &time];
        let (ok, stdout, stderr) =
            read_cli(&moto, args.iter().map(|a| (*a).to_owned()).collect()).await;
        match expected {
            Some(table) => {
                assert!(ok, "--at-time {time}: {stderr}");
                assert_eq!(stdout, timed::printed(table), "--at-time {time}");
            }
            None => {
                assert!(!ok, "--at-time {time}: {stdout}");
                assert!(
                    stderr.contains("no snapshot committed at or before"),
                    "{stderr}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_duckdb_query_over_s3_is_the_table_read_prints() {
    let moto = Moto::start().await;
    let dest: Arc<dyn Destination> = Arc::new(
        moto.destination("lake", "laredo/", S3Options::default())
            .await,
    );
    let table = parquet::write_scenario(&[dest], &parquet::settings(&[Format::Parquet])).await;

    let args = ["read", "s3://lake/laredo/items/"];
    let (ok, printed, stderr) =
        read_cli(&moto, args.iter().map(|a| (*a).to_owned()).collect()).await;
    assert!(ok, "{stderr}");
    assert_eq!(printed.lines().count(), table.len());

    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("read.jsonl");
    std::fs::write(&output, &printed).unwrap();
    let env = [
        ("S3_ENDPOINT", format!("127.0.0.1:{}", moto.port())),
        ("S3_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
    ];
    let head = tokio::task::spawn_blocking(move || {
        duckdb::check_head_query("s3://lake/laredo/items/", &output, &env)
    })
    .await
    .unwrap();
    assert_eq!(head.rows, table.len());
    assert_eq!((head.missing, head.extra), (0, 0), "{head:?}");
    assert_eq!(head.types["balance"], "DECIMAL(12,2)");
}
