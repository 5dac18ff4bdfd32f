//! Ingest benchmark: journal entries decoded (`RawSyncResponse`) and applied
//! (`Table::apply`) per second on one core, and the memory a held row costs.
//!
//! `cargo bench -p snapshot-writer --bench ingest` (figures in BENCHMARKS.md).
//! The workload: 100,000 inserts, then 900,000 changes (about 70% updates,
//! 15% inserts, 15% deletes) of ~210-byte rows with eight typed columns, as
//! the fan-out simulator generates them; UPDATE and DELETE entries carry the
//! full old row, as laredo-server sends them. Frames are encoded beforehand,
//! so only the client's work is timed.

// A counting global allocator needs `unsafe impl GlobalAlloc`; it only
// forwards to the system allocator.
#![allow(unsafe_code, clippy::print_stdout, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout};

// The allocator the `snapshot-writer` binary uses, behind the counter.
use mimalloc::MiMalloc as Inner;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Duration;

#[allow(dead_code)] // each bench uses part of it
mod support;
use support::timed;

use bytes::{Bytes, BytesMut};
use fanout_sim::Row;
use fanout_sim::rows::{Generated, Generator, columns};
use laredo_proto::replication::raw::v1::raw_sync_response::Message;
use laredo_proto::replication::raw::v1::{RawJournalEntry, RawSyncResponse};
use laredo_wire::{RawStructEntries, is_utf8, write_struct_entry};
use prost::Message as _;
use snapshot_writer::source::{
    Batch, Cursor, Event, JournalEntry, Replica, ServerMessage, decode_response,
};
use snapshot_writer::table::{ColumnTypes, KeySpec, Table};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
/// Counting is on only while memory is measured, so the timed runs pay
/// no atomic operations per allocation.
static COUNTING: AtomicBool = AtomicBool::new(false);

fn count(add: usize, sub: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE_BYTES.fetch_add(add as isize - sub as isize, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 0);
        unsafe { Inner.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(0, layout.size());
        unsafe { Inner.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size, layout.size());
        unsafe { Inner.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const INITIAL_ROWS: usize = 100_000;
const CHANGES: usize = 1_000_000;
const RUNS: usize = 5;

/// Runs per part: `INGEST_BENCH_RUNS`, else [`RUNS`].
fn runs() -> usize {
    support::env_number("INGEST_BENCH_RUNS", RUNS)
}

/// One encoded `SyncResponse` per change.
fn workload() -> (Vec<Bytes>, f64) {
    let mut generator = Generator::new(42);
    let mut held: HashMap<i64, Row> = HashMap::new();
    let mut frames = Vec::with_capacity(CHANGES);
    let mut received = BytesMut::with_capacity(1 << 20);
    let mut row_bytes = 0usize;
    let mut rows = 0usize;
    let id_of = |row: &Row| match laredo_wire::find_field(row.as_bytes(), "id") {
        Ok(Some(laredo_wire::ValueRef::Number(id))) => id as i64,
        _ => unreachable!("generated rows have numeric ids"),
    };
    for sequence in 1..=CHANGES as i64 {
        let change = if frames.len() < INITIAL_ROWS {
            Generated::Insert(generator.insert())
        } else {
            generator.next_change(|id| held.contains_key(&id))
        };
        let (action, old, new) = match change {
            Generated::Insert(row) => {
                held.insert(id_of(&row), row.clone());
                ("INSERT", None, Some(row))
            }
            Generated::Update(row) => {
                let old = held.insert(id_of(&row), row.clone());
                ("UPDATE", old, Some(row))
            }
            Generated::Delete(id) => ("DELETE", held.remove(&id), None),
        };
        if let Some(row) = new.as_ref().or(old.as_ref()) {
            row_bytes += row.as_bytes().len();
            rows += 1;
        }
        let entry = RawJournalEntry {
            sequence,
            source_position: format!("0/{:08X}", sequence * 256).into(),
            timestamp: Some(prost_types::Timestamp {
                seconds: 1_767_225_600 + sequence,
                nanos: 0,
            }),
            action: Bytes::from_static(action.as_bytes()),
            old_values: old.map(|r| wire_order(r.to_bytes())),
            new_values: new.map(|r| wire_order(r.to_bytes())),
        };
        let response = RawSyncResponse {
            message: Some(Message::JournalEntry(entry)),
        };
        // Split off one receive buffer, as the session's deframer does
        // (`BytesMut::split_to(..).freeze()`): slicing such a frame only
        // counts a reference, where a `Bytes` made from a `Vec` allocates a
        // shared header on its first slice.
        response.encode(&mut received).unwrap();
        frames.push(received.split().freeze());
    }
    (frames, row_bytes as f64 / rows as f64)
}

/// `INGEST_BENCH_ORDER=random`, read once (two rows are sent per change).
static RANDOM_ORDER: LazyLock<bool> = LazyLock::new(|| support::random_order("INGEST_BENCH_ORDER"));

/// A row as sent: its members sorted by name (one fixed order), or with
/// `INGEST_BENCH_ORDER=random` in the generator's order, a random one per
/// row, as laredo-server's Go protobuf writes a map's entries.
fn wire_order(row: Bytes) -> Bytes {
    if *RANDOM_ORDER {
        return row;
    }
    let mut members: Vec<(&[u8], &[u8])> =
        RawStructEntries::new(&row).map(Result::unwrap).collect();
    members.sort_unstable();
    let mut out = Vec::with_capacity(row.len());
    for (name, value) in members {
        write_struct_entry(&mut out, std::str::from_utf8(name).unwrap(), value);
    }
    out.into()
}

fn table() -> Table {
    let mut table = Table::new(KeySpec::default());
    table.set_column_types(ColumnTypes::from_columns(&columns()));
    table
}

/// The client's decode of a frame (`source::decode_response`).
fn decode(frame: &Bytes) -> JournalEntry {
    match decode_response(frame.clone()).unwrap() {
        Some(ServerMessage::JournalEntry(entry)) => entry,
        _ => unreachable!("the workload holds journal entries only"),
    }
}

/// Decode + `Table::apply`, the ingest hot path. Not inlined, so that
/// callgrind can count inside it (`--toggle-collect='ingest::run_table'`).
#[inline(never)]
fn run_table(frames: &[Bytes]) -> (Duration, Option<Duration>) {
    let mut table = table();
    let mut changes = 0u64;
    let times = timed(|| {
        for frame in frames {
            let entry = decode(frame);
            // The UTF-8 checks the session makes on every entry.
            assert!(is_utf8(entry.action()) && is_utf8(entry.source_position()));
            table
                .apply(
                    entry.action(),
                    entry.old_values(),
                    entry.new_values(),
                    &mut |change| {
                        black_box(&change);
                        changes += 1;
                    },
                )
                .unwrap();
        }
    });
    black_box((changes, table.len()));
    times
}

/// Decode + `Replica::apply` in batches of 1024, the consumer's whole path.
fn run_replica(frames: &[Bytes]) -> (Duration, Option<Duration>) {
    let mut replica = Replica::new(table(), Cursor::default());
    let mut changes = 0u64;
    let times = timed(|| {
        for chunk in frames.chunks(1024) {
            let events = chunk.iter().map(|f| Event::Entry(decode(f))).collect();
            replica.apply(Batch::from_events(events), &mut |update| {
                black_box(&update);
                changes += 1;
            });
        }
    });
    black_box((changes, replica.table().len()));
    times
}

fn report(name: &str, runs: &[(Duration, Option<Duration>)]) {
    let rate = |d: Duration| CHANGES as f64 / d.as_secs_f64() / 1e6;
    let summary = |mut times: Vec<Duration>| {
        times.sort();
        format!(
            "best {:.2} M/s ({:.0} ns/change), median {:.2} M/s",
            rate(times[0]),
            times[0].as_nanos() as f64 / CHANGES as f64,
            rate(times[times.len() / 2]),
        )
    };
    let cpu: Option<Vec<Duration>> = runs.iter().map(|r| r.1).collect();
    match cpu {
        Some(cpu) => println!("{name:<26} per CPU second: {}", summary(cpu)),
        None => println!("{name:<26} (no per-thread CPU clock)"),
    }
    println!(
        "{:<26} per wall second: {}",
        "",
        summary(runs.iter().map(|r| r.0).collect())
    );
}

/// Live heap bytes per row of a table holding `rows` generated rows.
fn memory_per_row(rows: usize) -> (f64, f64) {
    let mut generator = Generator::new(7);
    let encoded: Vec<Row> = (0..rows).map(|_| generator.insert()).collect();
    let row_bytes = encoded.iter().map(|r| r.as_bytes().len()).sum::<usize>() as f64 / rows as f64;
    COUNTING.store(true, Ordering::Relaxed);
    let mut table = table();
    for row in &encoded {
        table
            .apply("INSERT", None, Some(row.as_bytes()), &mut |c| drop(c))
            .unwrap();
    }
    COUNTING.store(false, Ordering::Relaxed);
    let held = LIVE_BYTES.load(Ordering::Relaxed);
    black_box(table.len());
    (held as f64 / rows as f64, row_bytes)
}

fn main() {
    let (frames, mean_row) = workload();
    let frame_bytes = frames.iter().map(Bytes::len).sum::<usize>() as f64 / frames.len() as f64;
    println!(
        "ingest: {CHANGES} journal entries ({INITIAL_ROWS} inserts, then ~70% updates / 15% inserts / 15% deletes), \
         rows {mean_row:.0} B, frames {frame_bytes:.0} B; {} runs each, one thread",
        runs()
    );
    // `INGEST_BENCH_ONLY=table|replica|memory` runs one part (e.g. to profile it).
    let only = std::env::var("INGEST_BENCH_ONLY").unwrap_or_default();
    let mut table_times = Vec::new();
    let mut replica_times = Vec::new();
    for _ in 0..runs() {
        if only.is_empty() || only == "table" {
            table_times.push(run_table(&frames));
        }
        if only.is_empty() || only == "replica" {
            replica_times.push(run_replica(&frames));
        }
    }
    if !table_times.is_empty() {
        report("decode + Table::apply", &table_times);
    }
    if !replica_times.is_empty() {
        report("decode + Replica::apply", &replica_times);
    }
    if !only.is_empty() && only != "memory" {
        return;
    }
    drop(frames);
    let (per_row, row_bytes) = memory_per_row(1_000_000);
    println!(
        "memory: 1000000 rows held: {per_row:.0} B/row of live heap (encoded row {row_bytes:.0} B, {:.2}x)",
        per_row / row_bytes
    );
}
