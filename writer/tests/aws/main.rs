//! Integration tests of the S3 destination, credential profiles, event sinks
//! and the whole writer service (fed by the fan-out simulator) against a
//! real moto server on loopback (one per test). Install moto
//! with `bash .ci/tools/moto.sh`; `bash .ci/test` does it for you.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

#[path = "../archive_support/mod.rs"]
mod archive_support;

mod archive_reads;
mod credentials;
mod events;
mod s3;
mod s3_outage;
mod service;

use std::path::Path;

/// `len` bytes that differ at every position from another seed's.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Writes `bytes` to a file in `dir`.
fn spool(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}
