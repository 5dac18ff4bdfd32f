//! `snapshot-writer` binary; the command line lives in `snapshot_writer::cli`.

// Every change allocates and frees a row and its key; glibc's malloc made
// that a fifth of the ingest time, mimalloc about a third of that
// (BENCHMARKS.md, "Ingest").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    snapshot_writer::cli::main()
}
