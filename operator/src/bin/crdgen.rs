//! `crdgen`: writes the SnapshotTable CRD generated from the Rust types to
//! `crds/snapshottable.yaml` and to the Helm chart's CRD template.
//!
//! `cargo run -p snapshot-operator --bin crdgen` from the repository root
//! (or pass the root as the first argument); `--stdout` prints instead.

use std::path::PathBuf;

use anyhow::Context;
use snapshot_operator::crd::{CHART_CRD_PATH, CRD_PATH, chart_crd_template, crd_yaml};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    let yaml = crd_yaml().context("serializing the CRD")?;
    if first.as_deref() == Some("--stdout") {
        use std::io::Write;
        std::io::stdout().write_all(yaml.as_bytes())?;
        return Ok(());
    }
    let root = first
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    for (path, text) in [
        (CRD_PATH, yaml.clone()),
        (CHART_CRD_PATH, chart_crd_template(&yaml)),
    ] {
        let target = root.join(path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
        eprintln!("wrote {}", target.display());
    }
    Ok(())
}
