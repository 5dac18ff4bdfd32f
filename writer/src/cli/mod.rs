//! The `snapshot-writer` command line: run the writer (`--config FILE`),
//! `check-config`, `read`, `verify`.

mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::archive::cli::{ReadArgs, VerifyArgs, run_read, run_verify};
use crate::telemetry::{self, LogFormat};
pub use run::{run_writer, serve};

/// Writes laredo fan-out tables to durable storage as base snapshots plus
/// diffs indexed by manifest.json, and reads them back.
#[derive(Debug, Parser)]
#[command(
    name = "snapshot-writer",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Run the writer with this config file (YAML).
    #[arg(long, env = snapshot_contract::names::CONFIG_ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format (stderr).
    #[arg(
        long,
        value_enum,
        default_value_t,
        env = "SNAPSHOT_WRITER_LOG_FORMAT",
        global = true
    )]
    log_format: LogFormat,
    /// Log level or filter directive (`debug`, `snapshot_writer=debug,info`);
    /// default `RUST_LOG`, else `info`.
    #[arg(long, env = "SNAPSHOT_WRITER_LOG_LEVEL", global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a config file and exit (0: valid; 1: the error on one line).
    CheckConfig {
        /// The config file.
        file: PathBuf,
    },
    /// Rebuild a table from an archive and print it as JSONL.
    Read(ReadArgs),
    /// Check an archive's objects, checksums and chain; exit 1 if invalid.
    Verify(VerifyArgs),
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = telemetry::init(cli.log_format, cli.log_level.as_deref()) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
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
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> ExitCode {
    match (cli.command, cli.config) {
        (Some(Command::CheckConfig { file }), _) => check_config(&file),
        (Some(Command::Read(args)), _) => read(&args).await,
        (Some(Command::Verify(args)), _) => verify(&args).await,
        (None, Some(file)) => report(run_writer(&file).await),
        (None, None) => {
            eprintln!(
                "error: no config: pass --config FILE (or set SNAPSHOT_WRITER_CONFIG); see --help"
            );
            ExitCode::from(2)
        }
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout, reason = "check-config reports on stdout")]
fn check_config(file: &std::path::Path) -> ExitCode {
    match crate::config::load_file(file) {
        Ok(config) => {
            for warning in config.tables.iter().flat_map(|t| t.format_warnings()) {
                eprintln!("warning: {warning}");
            }
            let tables: Vec<String> = config.tables.iter().map(|t| t.qualified_name()).collect();
            println!(
                "{}: ok ({} table(s): {})",
                file.display(),
                tables.len(),
                tables.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}", run::describe_config_error(file, &error));
            ExitCode::FAILURE
        }
    }
}

async fn read(args: &ReadArgs) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match run_read(args, &mut stdout).await {
        Ok(table) => {
            eprintln!(
                "{} rows at position {:?} (epoch {})",
                table.rows.len(),
                table.position,
                table.epoch
            );
            ExitCode::SUCCESS
        }
        // A reader that stopped early (`| head`) is not a failure.
        Err(crate::archive::cli::CliError::Output(error))
            if error.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}", telemetry::with_causes(&error));
            ExitCode::FAILURE
        }
    }
}

async fn verify(args: &VerifyArgs) -> ExitCode {
    match run_verify(args).await {
        Ok(report) => {
            eprintln!("{report}");
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("error: {}", telemetry::with_causes(&error));
            ExitCode::FAILURE
        }
    }
}
