//! Archive benchmark.
fn main() {}
