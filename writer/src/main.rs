//! `snapshot-writer` binary: parses the command line and hands off to the
//! library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use snapshot_writer::archive::cli::{ReadArgs, VerifyArgs, run_read, run_verify};

/// Writes laredo fan-out tables to object storage as snapshots plus diffs,
/// and reads them back.
#[derive(Debug, Parser)]
#[command(name = "snapshot-writer", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Rebuild a table from an archive and print it as JSONL.
    Read(ReadArgs),
    /// Check an archive's objects, checksums and chain; exit 1 if invalid.
    Verify(VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Read(args) => {
                let mut stdout = std::io::stdout().lock();
                match run_read(&args, &mut stdout).await {
                    Ok(table) => {
                        eprintln!(
                            "{} rows at position {:?} (epoch {})",
                            table.rows.len(),
                            table.position,
                            table.epoch
                        );
                        ExitCode::SUCCESS
                    }
                    Err(error) => {
                        eprintln!("error: {error}");
                        ExitCode::FAILURE
                    }
                }
            }
            Command::Verify(args) => match run_verify(&args).await {
                Ok(report) => {
                    eprintln!("{report}");
                    if report.ok() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            },
        }
    })
}
