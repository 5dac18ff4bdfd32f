//! `fanout-sim` binary.
fn main() {}
