//! `snapshot-writer` binary.
fn main() {}
