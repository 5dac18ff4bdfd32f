//! `snapshot-writer` binary; the command line lives in `snapshot_writer::cli`.

fn main() -> std::process::ExitCode {
    snapshot_writer::cli::main()
}
