//! An archive of two epochs whose artifacts were committed at distinct
//! times, and the checks of `read --at-time` on it (at, between and before
//! artifacts), shared by the local and the S3 tests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use snapshot_writer::archive::{ArchiveSettings, ChangeBuffer, SourceMark, Trigger};
use snapshot_writer::dest::Destination;
use snapshot_writer::table::{KeySpec, Table};

use super::{open_writer, row, table_rows};

/// One committed artifact: when, at which position, and the table it leaves.
pub struct Committed {
    /// `created_at` as the manifest records it.
    pub created_at: jiff::Timestamp,
    /// Its position.
    pub position: String,
    /// The table (`key → JSON line`) once it is applied.
    pub table: BTreeMap<String, String>,
}

/// Writes snapshot, diff, diff, snapshot, diff to `dests` under `items/`,
/// a few milliseconds apart; returns what each committed.
pub async fn write(dests: &[Arc<dyn Destination>], settings: &ArchiveSettings) -> Vec<Committed> {
    let mut writer = open_writer(dests, settings, "timed").await;
    let mut table = Table::new(KeySpec::default());
    let mut buffer = ChangeBuffer::new();
    let mut mark = SourceMark::default();
    let mut committed = Vec::new();
    let apply = |table: &mut Table, buffer: &mut ChangeBuffer, action, id: u32, n: f64| {
        let new = row(id, &format!("row {id}"), n);
        let old = table.get(&id.to_string()).map(|r| r.as_bytes().to_vec());
        let (old, new) = match action {
            "DELETE" => (old.as_deref(), None),
            _ => (old.as_deref(), Some(new.as_slice())),
        };
        table
            .apply(action, old, new, &mut |change| buffer.record(change))
            .unwrap();
    };
    for step in 0..5u32 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        mark.position = format!("0/{:X}", 0x100 * (step + 1));
        mark.sequence += 1;
        apply(
            &mut table,
            &mut buffer,
            "INSERT",
            step + 10,
            f64::from(step),
        );
        if step > 0 {
            apply(&mut table, &mut buffer, "UPDATE", 10, f64::from(step) * 1.5);
        }
        if step == 2 {
            apply(&mut table, &mut buffer, "DELETE", 11, 0.0);
        }
        let done = match step {
            0 | 3 => writer
                .write_snapshot(&table, &mut buffer, &mark, Trigger::Forced)
                .await
                .unwrap(),
            _ => writer
                .write_diff(&mut buffer, &mark)
                .await
                .unwrap()
                .unwrap(),
        };
        committed.push(Committed {
            created_at: done.created_at.parse().unwrap(),
            position: done.position,
            table: table_rows(&table),
        });
    }
    committed
}

/// The `--at-time` cases: `(time, the table read as of it, or None when
/// nothing was committed by then)`: at every artifact's `created_at`,
/// halfway between each two, and a second before the first.
pub fn cases(committed: &[Committed]) -> Vec<(String, Option<&BTreeMap<String, String>>)> {
    let mut cases = vec![(
        (committed[0].created_at - jiff::SignedDuration::from_secs(1)).to_string(),
        None,
    )];
    for (index, artifact) in committed.iter().enumerate() {
        cases.push((artifact.created_at.to_string(), Some(&artifact.table)));
        if let Some(next) = committed.get(index + 1) {
            let half = next.created_at.duration_since(artifact.created_at) / 2;
            cases.push((
                (artifact.created_at + half).to_string(),
                Some(&artifact.table),
            ));
        }
    }
    cases
}

/// What `read` prints for `table`: its JSON lines sorted by key.
pub fn printed(table: &BTreeMap<String, String>) -> String {
    table.values().map(String::as_str).collect()
}
