//! Reading an archive on S3 (moto) through the `snapshot-writer` binary:
//! `read --at-time` at, between and before artifacts.

use std::sync::Arc;

use snapshot_writer::archive::ArchiveSettings;
use snapshot_writer::config::Format;
use snapshot_writer::dest::Destination;
use snapshot_writer::dest::s3::S3Options;

use crate::archive_support::timed;
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
