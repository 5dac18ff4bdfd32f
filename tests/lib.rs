//! End-to-end suites live in `tests/*.rs`; this library is empty on purpose.
