//! Compiles the `.proto` files with protox, a pure-Rust protobuf compiler, so a
//! fresh machine needs no system `protoc`.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "laredo/replication/v1/replication.proto",
    "laredo/replication/v1/replication_raw.proto",
    "laredo/snapshotter/v1/artifact.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }
    let descriptors = protox::compile(PROTOS, [&root])?;
    tonic_prost_build::configure()
        // Raw rows stay as zero-copy slices of the received frame.
        .bytes(".laredo.replication.raw.v1")
        .compile_fds(descriptors)?;
    Ok(())
}
