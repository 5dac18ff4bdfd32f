//! `manifest.json` as `read`, `verify` and the writer's start-up parse it:
//! `Manifest::parse`, then the chain check and the rebuild plan that run on
//! every manifest read, and the writer's own re-serialisation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapshot_writer::archive::Manifest;
use snapshot_writer::archive::manifest::{ManifestError, chain};
use snapshot_writer::archive::reader::plan;

fuzz_target!(|data: &[u8]| {
    let manifest = match Manifest::parse(data) {
        Ok(manifest) => manifest,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let problems = chain::check(&manifest);
    // As `read` reports them.
    let _ = ManifestError::Inconsistent(problems).to_string();
    let _ = plan(&manifest, None);
    let _ = plan(&manifest, Some(&manifest.head_position));
    if let Some(first) = manifest.artifacts.first() {
        let _ = plan(&manifest, Some(&first.to_position));
    }
    let _ = manifest.progress_cmp(&manifest);
    let _ = manifest.head_is_lsn();
    for artifact in &manifest.artifacts {
        for format in artifact.formats.values() {
            let _ = format.recorded_crc32c();
        }
    }
    // What the writer commits after reading this manifest parses back to it.
    let mut pruned = manifest.clone();
    let _ = pruned.prune(2);
    let again = Manifest::parse(&manifest.to_json()).expect("a written manifest parses");
    assert_eq!(again, manifest, "a manifest changed through to_json");
});
