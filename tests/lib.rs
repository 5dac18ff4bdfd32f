//! Helpers the end-to-end suites in `tests/*.rs` share: where the repository
//! is and where the command-line tools the suites drive (helm, kubectl,
//! promtool) are found.

use std::path::{Path, PathBuf};

/// The repository root: from `CARGO_MANIFEST_DIR` as cargo and nextest set
/// it when they run a test, else as it was at compile time. At run time
/// because a target dir shared by two checkouts of the same tree (a CI
/// cache) can hand one checkout the test binaries built in the other, with
/// the other's path compiled in.
pub fn repository() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
}

/// A tool by name: `$NAME` (upper case, e.g. `$HELM`), else
/// `$LAREDO_TOOLS_DIR/bin/NAME` (default `~/.cache/laredo-tools`, where
/// `.ci/tools/*.sh` install them), else `PATH`.
pub fn tool(name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(name.to_uppercase()) {
        return Some(PathBuf::from(path));
    }
    let tools = std::env::var_os("LAREDO_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/laredo-tools"))
        });
    if let Some(candidate) = tools.map(|dir| dir.join("bin").join(name))
        && candidate.is_file()
    {
        return Some(candidate);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether this run must not skip a suite for a missing tool or cluster:
/// under CI (`CI=true`) or when `.ci/test` started the API server kit.
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var_os("LAREDO_CLUSTER_REQUIRED").is_some()
}
