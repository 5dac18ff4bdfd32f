//! The names and numbers both sides of the contract use: where the writer
//! listens, what it serves, and where the operator mounts its config.

/// TCP port of the writer's HTTP API (`http.port`'s default). The operator's
/// Service, container port and probes use it.
pub const HTTP_PORT: u16 = 8080;

/// `GET`: the JSON array of [`crate::status::TableStatus`].
pub const STATUS_PATH: &str = "/status";
/// `POST`: forces a base snapshot of every table, or of the one named by
/// [`SNAPSHOT_TABLE_PARAM`]; answers a [`crate::snapshot::SnapshotAnswer`].
pub const SNAPSHOT_PATH: &str = "/snapshot";
/// The one query parameter of [`SNAPSHOT_PATH`]: `schema.table`.
pub const SNAPSHOT_TABLE_PARAM: &str = "table";
/// `GET`: 200 once every table's initial base snapshot is durable.
pub const HEALTH_READY_PATH: &str = "/health/ready";
/// `GET`: 200 while the process serves requests.
pub const HEALTH_LIVE_PATH: &str = "/health/live";
/// `GET`: Prometheus text format.
pub const METRICS_PATH: &str = "/metrics";

/// Environment variable naming the config file (instead of `--config`).
pub const CONFIG_ENV: &str = "SNAPSHOT_WRITER_CONFIG";
/// Directory the operator mounts the writer's config (a ConfigMap) on.
pub const CONFIG_DIR: &str = "/etc/snapshot-writer";
/// File name of the config in [`CONFIG_DIR`], and the ConfigMap's key.
pub const CONFIG_FILE_NAME: &str = "writer.yaml";
/// [`CONFIG_DIR`]/[`CONFIG_FILE_NAME`]: the file the operator's writer reads.
pub const CONFIG_PATH: &str = "/etc/snapshot-writer/writer.yaml";

/// The non-root user and group the writer image runs as (distroless
/// `nonroot`; `writer/Dockerfile`'s `USER`). The operator runs the pod as
/// this user so the data volume is writable.
pub const WRITER_UID: u32 = 65532;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_path_is_the_directory_and_the_file_name() {
        assert_eq!(CONFIG_PATH, format!("{CONFIG_DIR}/{CONFIG_FILE_NAME}"));
    }
}
