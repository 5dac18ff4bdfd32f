//! Test support shared by the writer's integration tests that need real AWS
//! services on loopback: a moto server per test ([`moto`]), a TCP proxy that
//! takes a server away and brings it back with its state ([`outage`]), an
//! HTTP client that records what the SDK sends ([`recording`]), the whole
//! writer service fed by the fan-out simulator ([`service`]), and DuckDB
//! as a consumer of Parquet archives ([`duckdb`]).
//!
//! Include it with `#[path = "../support/mod.rs"] mod support;`.

#![allow(dead_code)] // each test binary uses a different part

pub mod duckdb;
pub mod moto;
pub mod outage;
pub mod recording;
pub mod service;

use std::time::Duration;

/// Polls `check` every 20 ms until it holds, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fails, naming a few missing, extra and differing keys, unless `actual`
/// equals `expected` (tables as `key → row`).
pub fn assert_same_table<V: PartialEq>(
    actual: &std::collections::BTreeMap<String, V>,
    expected: &std::collections::BTreeMap<String, V>,
    what: &str,
) {
    if actual == expected {
        return;
    }
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .take(3)
        .collect();
    let extra: Vec<_> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .take(3)
        .collect();
    let differing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| actual.get(*k).is_some_and(|a| a != *v))
        .map(|(k, _)| k)
        .take(3)
        .collect();
    panic!(
        "{what}: {} rows rebuilt vs {} expected; missing e.g. {missing:?}, extra e.g. {extra:?}, differing e.g. {differing:?}",
        actual.len(),
        expected.len()
    );
}
