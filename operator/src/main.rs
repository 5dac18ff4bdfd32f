//! `snapshot-operator` binary.
fn main() {}
