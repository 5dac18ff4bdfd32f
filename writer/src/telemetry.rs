//! Logging through `tracing`: text for people, JSON for log pipelines. The
//! level comes from `--log-level`, else `RUST_LOG`, else `info`. Errors
//! become text here, with their causes ([`with_causes`], shared with the
//! operator through the contract crate). What happens to a
//! table is logged and counted in one place, by its [`internal_events`].

pub mod internal_events;

use tracing_subscriber::EnvFilter;

pub use snapshot_contract::causes::{WithCauses, with_causes};

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. `level` is an `EnvFilter` directive such as
/// `debug` or `snapshot_writer=debug,info`.
pub fn init(format: LogFormat, level: Option<&str>) -> Result<(), String> {
    let filter = match level {
        Some(directive) => EnvFilter::try_new(directive)
            .map_err(|e| format!("invalid --log-level {directive:?}: {e}"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    result.map_err(|e| format!("cannot install the logger: {e}"))
}
