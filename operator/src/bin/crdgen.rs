//! `crdgen` binary.
fn main() {}
