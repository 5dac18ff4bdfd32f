//! The simulator's settings: the table it serves and how it behaves as a
//! laredo-server backed by one database or another.

use std::time::Duration;

/// How live journal entries carry source positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionMode {
    /// A new LSN (`%X/%08X`) per entry.
    #[default]
    Advancing,
    /// Every entry repeats the baseline's LSN.
    Stuck,
    /// Live entries carry `""`, baseline entries the baseline LSN: what a
    /// PostgreSQL-backed laredo-server sends.
    Empty,
}

/// How live changes carry values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveValues {
    /// As typed JSON values, like the baseline.
    #[default]
    Typed,
    /// As pgoutput text (`"42"`, `"t"`): a PostgreSQL-backed laredo-server.
    Text,
}

/// The simulator's settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Schema served; requests for another table get `not_found`.
    pub schema: String,
    /// Table served.
    pub table: String,
    /// Rows generated as the baseline.
    pub rows: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Idle time after which a stream gets a heartbeat (laredo: 5 s).
    pub heartbeat_interval: Duration,
    /// Journal entries kept; a client further behind gets a full snapshot.
    pub journal_retention: usize,
    /// Positions of live entries.
    pub positions: PositionMode,
    /// Values of live entries.
    pub live_values: LiveValues,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            schema: "public".into(),
            table: "items".into(),
            rows: 1000,
            seed: 1,
            heartbeat_interval: Duration::from_secs(5),
            journal_retention: 100_000,
            positions: PositionMode::Advancing,
            live_values: LiveValues::Typed,
        }
    }
}

impl SimConfig {
    /// What a PostgreSQL-backed laredo-server sends: empty live positions
    /// and live values as text.
    pub fn postgres_like(mut self) -> Self {
        self.positions = PositionMode::Empty;
        self.live_values = LiveValues::Text;
        self
    }
}
