//! Archive benchmark: a 1M-row snapshot (~200 B rows) written to local disk
//! in each format, as MB/s and as a ratio to a plain buffered sequential
//! write of the same bytes in the same run; and the rebuild speed from a
//! snapshot plus 100 diffs, in rows/s, per format.
//!
//! `cargo bench -p snapshot-writer --bench archive`. Medians of 3 runs. For
//! profiling, env `ARCHIVE_BENCH_ROWS` overrides the row count,
//! `ARCHIVE_BENCH_RUNS` the runs, and
//! `ARCHIVE_BENCH_FORMAT=jsonl|protobuf|parquet` picks one format.
//!
//! With JSONL and Parquet both run, the Parquet snapshot is compared with
//! the JSONL one (wall time, size), and DuckDB (`.ci/tools/duckdb.sh`, found
//! as the tests find it; skipped with a note when missing) times `SELECT
//! count(*)` and a key-range count over each snapshot object, `read_parquet`
//! against `read_json`, in the same run.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

// The allocator the `snapshot-writer` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(dead_code)] // each bench uses part of it
mod support;

use std::io::Write;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use laredo_wire::encode_struct;
use snapshot_writer::archive::format::RecordEncoder;
use snapshot_writer::archive::manifest::ManifestColumn;
use snapshot_writer::archive::{
    ArchiveReader, ArchiveSettings, ArchiveWriter, ChangeBuffer, SourceMark, Trigger,
};
use snapshot_writer::config::Format;
use snapshot_writer::dest::{Destination, LocalDestination};
use snapshot_writer::metrics::TableMetrics;
use snapshot_writer::table::{KeySpec, Table, ValueRef};

const RUNS: usize = 3;

fn runs() -> usize {
    support::env_number("ARCHIVE_BENCH_RUNS", RUNS)
}

fn formats() -> Vec<Format> {
    let only = std::env::var("ARCHIVE_BENCH_FORMAT").unwrap_or_default();
    [Format::Jsonl, Format::Protobuf, Format::Parquet]
        .into_iter()
        .filter(|format| only.is_empty() || only == format.id())
        .collect()
}
const DIFFS: usize = 100;
const CHANGES_PER_DIFF: u32 = 1000;

/// `ARCHIVE_BENCH_ORDER=random`, read once (a row is built per id).
static RANDOM_ORDER: LazyLock<bool> =
    LazyLock::new(|| support::random_order("ARCHIVE_BENCH_ORDER"));

/// A row of 8 columns, about 200 bytes as JSON. With
/// `ARCHIVE_BENCH_ORDER=random` its members are in an order of their own,
/// as laredo-server's Go protobuf writes a map's entries; otherwise in one
/// fixed order.
fn row(id: u32, version: u32) -> Vec<u8> {
    let email = format!("user{id}@example.com");
    let name = format!("User Number {id} <{version}>");
    let mut members = [
        ("id", ValueRef::Number(f64::from(id))),
        ("email", ValueRef::String(&email)),
        ("name", ValueRef::String(&name)),
        ("country", ValueRef::String("NZ")),
        (
            "balance",
            ValueRef::Number(f64::from(id) * 1.25 + f64::from(version)),
        ),
        ("active", ValueRef::Bool(!id.is_multiple_of(3))),
        (
            "created_at",
            ValueRef::String("2026-08-21T10:15:02.123456Z"),
        ),
        ("note", ValueRef::String("the quick brown fox & friends")),
    ];
    if *RANDOM_ORDER {
        let mut state =
            u64::from(id ^ version.rotate_left(16)).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for i in (1..members.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            members.swap(i, (state % (i as u64 + 1)) as usize);
        }
    }
    encode_struct(&members)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The bench table's columns as a source announces them (the Parquet
/// schema).
const COLUMNS: [(&str, &str); 8] = [
    ("id", "bigint"),
    ("email", "text"),
    ("name", "text"),
    ("country", "text"),
    ("balance", "double precision"),
    ("active", "boolean"),
    ("created_at", "timestamp with time zone"),
    ("note", "text"),
];

fn settings(format: Format) -> ArchiveSettings {
    let columns = COLUMNS
        .iter()
        .zip(1..)
        .map(|((name, data_type), ordinal)| ManifestColumn {
            name: (*name).to_owned(),
            data_type: (*data_type).to_owned(),
            primary_key: *name == "id",
            ordinal_position: ordinal,
            ..ManifestColumn::default()
        })
        .collect();
    ArchiveSettings {
        snapshot_formats: vec![format],
        diff_formats: vec![format],
        columns,
        ..ArchiveSettings::new("bench.rows", "rows/")
    }
}

async fn open(dir: &std::path::Path, format: Format) -> ArchiveWriter {
    let dest: Arc<dyn Destination> = Arc::new(LocalDestination::new(dir));
    ArchiveWriter::open(
        vec![dest],
        settings(format),
        "bench".into(),
        TableMetrics::detached("bench.rows"),
    )
    .await
    .unwrap()
}

/// A plain buffered sequential write of `bytes`, fsynced as the artifact is.
fn plain_write(path: &std::path::Path, bytes: &[u8]) -> Duration {
    let started = Instant::now();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    for chunk in bytes.chunks(64 << 10) {
        writer.write_all(chunk).unwrap();
    }
    writer.into_inner().unwrap().sync_all().unwrap();
    started.elapsed()
}

/// A snapshot's median wall time and its size, kept to compare formats
/// and to query the objects with DuckDB.
struct Snapshot {
    format: Format,
    time: Duration,
    size: u64,
    /// A copy of the object, for DuckDB.
    copy: std::path::PathBuf,
}

async fn bench_snapshot(table: &Table, format: Format, keep: &std::path::Path) -> Snapshot {
    let mut ours = Vec::new();
    let mut plain = Vec::new();
    let mut cpu = Vec::new();
    let mut plain_cpu = Vec::new();
    let mut size = 0;
    for _ in 0..runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = open(dir.path(), format).await;
        let cpu_before = support::process_cpu();
        let started = Instant::now();
        let committed = writer
            .write_snapshot(
                table,
                &mut ChangeBuffer::new(),
                &SourceMark::default(),
                Trigger::Forced,
            )
            .await
            .unwrap();
        ours.push(started.elapsed());
        cpu.extend(support::process_cpu_since(cpu_before));
        size = committed.bytes;
        let key = format!(
            "rows/epoch=1/snapshot-{}.{}",
            committed.position.replace('/', "_"),
            format.extension()
        );
        let bytes = std::fs::read(dir.path().join(key)).unwrap();
        std::fs::write(
            keep.join(format!("snapshot.{}", format.extension())),
            &bytes,
        )
        .unwrap();
        let cpu_before = support::process_cpu();
        plain.push(plain_write(&dir.path().join("plain"), &bytes));
        plain_cpu.extend(support::process_cpu_since(cpu_before));
    }
    let (ours, plain) = (median(ours), median(plain));
    let cpu_text = |cpu: Vec<Duration>| match cpu.is_empty() {
        true => String::new(),
        false => format!(", {:.2} CPU s", median(cpu).as_secs_f64()),
    };
    let (cpu, plain_cpu) = (cpu_text(cpu), cpu_text(plain_cpu));
    let mb = size as f64 / 1e6;
    println!(
        "snapshot write {:<8} {} rows, {:.0} MB: {:.0} MB/s ({:.3} s{cpu}); plain buffered write {:.0} MB/s ({:.3} s{plain_cpu}); ratio {:.2}x",
        format.id(),
        table.len(),
        mb,
        mb / ours.as_secs_f64(),
        ours.as_secs_f64(),
        mb / plain.as_secs_f64(),
        plain.as_secs_f64(),
        ours.as_secs_f64() / plain.as_secs_f64()
    );
    Snapshot {
        format,
        time: ours,
        size,
        copy: keep.join(format!("snapshot.{}", format.extension())),
    }
}

/// The Parquet snapshot against the JSONL one of the same run.
fn compare_to_jsonl(snapshots: &[Snapshot]) {
    let find = |format| snapshots.iter().find(|s| s.format == format);
    let (Some(jsonl), Some(parquet)) = (find(Format::Jsonl), find(Format::Parquet)) else {
        return;
    };
    println!(
        "parquet vs jsonl snapshot: wall time {:.3} s vs {:.3} s ({:.2}x, goal <= 1), size {:.1} MB vs {:.1} MB ({:.1} %, goal <= 30 %)",
        parquet.time.as_secs_f64(),
        jsonl.time.as_secs_f64(),
        parquet.time.as_secs_f64() / jsonl.time.as_secs_f64(),
        parquet.size as f64 / 1e6,
        jsonl.size as f64 / 1e6,
        parquet.size as f64 * 100.0 / jsonl.size as f64,
    );
}

/// DuckDB's `count(*)` and key-range count over the Parquet and the JSONL
/// snapshot objects (best of 3 each, in one DuckDB process).
fn duckdb_queries(snapshots: &[Snapshot], rows: u32) {
    let find = |format| snapshots.iter().find(|s| s.format == format);
    let (Some(jsonl), Some(parquet)) = (find(Format::Jsonl), find(Format::Parquet)) else {
        return;
    };
    let Some(python) = duckdb_python() else {
        println!("duckdb: not installed (bash .ci/tools/duckdb.sh); queries skipped");
        return;
    };
    let (low, high) = (rows / 2, rows / 2 + rows / 100);
    let script = format!(
        r#"
import sys, time, duckdb
c = duckdb.connect()
def best(sql):
    times = []
    for _ in range(3):
        started = time.perf_counter()
        result = c.execute(sql).fetchall()
        times.append(time.perf_counter() - started)
    return min(times), result[0][0]
for name, source in [("parquet", "read_parquet('{parquet}')"), ("jsonl", "read_json('{jsonl}', format = 'newline_delimited')")]:
    count, n = best(f"SELECT count(*) FROM {{source}}")
    ranged, m = best(f"SELECT count(*) FROM {{source}} WHERE id BETWEEN {low} AND {high}")
    print(f"duckdb {{name:<8}} count(*) {{count:.3f}} s ({{n}} rows); id BETWEEN {low} AND {high}: {{ranged:.3f}} s ({{m}} rows)")
print("duckdb", duckdb.__version__)
"#,
        parquet = parquet.copy.display(),
        jsonl = jsonl.copy.display(),
    );
    match std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .output()
    {
        Ok(output) if output.status.success() => {
            print!("{}", String::from_utf8_lossy(&output.stdout));
        }
        Ok(output) => println!(
            "duckdb: failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => println!("duckdb: cannot run: {error}"),
    }
}

/// DuckDB's Python, as the tests find it.
fn duckdb_python() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("DUCKDB_PYTHON") {
        return Some(path.into());
    }
    let tools = std::env::var_os("LAREDO_TOOLS_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache/laredo-tools"))
        })?;
    Some(tools.join("duckdb/bin/python")).filter(|p| p.is_file())
}

async fn bench_rebuild(table: &Table, rows: u32, format: Format) {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(dir.path(), format).await;
    let mut table = table.clone();
    let mut buffer = ChangeBuffer::new();
    writer
        .write_snapshot(&table, &mut buffer, &SourceMark::default(), Trigger::Forced)
        .await
        .unwrap();
    let mut records = table.len() as u64;
    for diff in 0..DIFFS as u32 {
        for n in 0..CHANGES_PER_DIFF {
            let id = (diff * CHANGES_PER_DIFF + n * 7919) % rows;
            let old = table.get(&id.to_string()).unwrap().as_bytes().to_vec();
            table
                .apply("UPDATE", Some(&old), Some(&row(id, diff + 1)), &mut |c| {
                    buffer.record(c)
                })
                .unwrap();
        }
        records += writer
            .write_diff(&mut buffer, &SourceMark::default())
            .await
            .unwrap()
            .unwrap()
            .records;
    }
    let dest: Arc<dyn Destination> = Arc::new(LocalDestination::new(dir.path()));
    let reader = ArchiveReader::open(dest, "rows/").await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..runs() {
        let started = Instant::now();
        let rebuilt = reader
            .rebuild(None, &KeySpec::default(), &[format])
            .await
            .unwrap();
        samples.push(started.elapsed());
        assert_eq!(rebuilt.rows.len(), table.len());
    }
    let time = median(samples);
    println!(
        "rebuild        {:<8} 1 snapshot + {DIFFS} diffs, {records} records: {:.0} rows/s ({:.3} s)",
        format.id(),
        records as f64 / time.as_secs_f64(),
        time.as_secs_f64()
    );
}

/// Every row through one encoder. Not inlined, so that callgrind can count
/// inside it (`--toggle-collect='archive::encode_rows'`).
#[inline(never)]
fn encode_rows(format: Format, rows: &[&[u8]], out: &mut Vec<u8>) {
    let mut encoder = RecordEncoder::new(format);
    for row in rows {
        encoder.snapshot_row(out, row).unwrap();
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter we ignore.
    let rows: u32 = support::env_number("ARCHIVE_BENCH_ROWS", 1_000_000);
    let mut table = Table::new(KeySpec::default());
    table.reserve(rows as usize);
    let mut bytes = 0;
    for id in 0..rows {
        let encoded = row(id, 0);
        bytes += encoded.len();
        table.upsert_encoded(&encoded).unwrap();
    }
    println!(
        "table: {rows} rows, {} B/row encoded, {} cores",
        bytes / rows as usize,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    if std::env::var("ARCHIVE_BENCH_ONLY").is_ok_and(|only| only == "encode") {
        // One core, no I/O: the encoders alone, visiting rows in address
        // order as the spool does.
        let started = Instant::now();
        let ordered = table.rows_in_memory_order();
        println!(
            "rows in memory order: {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        let mut out = Vec::with_capacity(256 << 20);
        // Parquet is not encoded record by record.
        for format in formats().into_iter().filter(|f| *f != Format::Parquet) {
            // Best of 3 into a buffer already paged in.
            let mut time = f64::MAX;
            for _ in 0..runs() {
                out.clear();
                let started = Instant::now();
                encode_rows(format, &ordered, &mut out);
                time = time.min(started.elapsed().as_secs_f64());
            }
            println!(
                "encode {:<8} one core: {:.0} MB/s, {:.0} ns/row",
                format.id(),
                out.len() as f64 / 1e6 / time,
                time * 1e9 / f64::from(rows)
            );
        }
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // `ARCHIVE_BENCH_ONLY=snapshot|rebuild` runs one half (e.g. to profile it).
        let only = std::env::var("ARCHIVE_BENCH_ONLY").unwrap_or_default();
        let kept = tempfile::tempdir().unwrap();
        let mut snapshots = Vec::new();
        for format in formats() {
            if only != "rebuild" {
                snapshots.push(bench_snapshot(&table, format, kept.path()).await);
            }
        }
        compare_to_jsonl(&snapshots);
        duckdb_queries(&snapshots, rows);
        for format in formats() {
            if only != "snapshot" {
                bench_rebuild(&table, rows, format).await;
            }
        }
    });
}
