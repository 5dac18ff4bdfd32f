//! The writer's YAML configuration. Its types, defaults, loader and
//! validation are the contract the operator shares ([`snapshot_contract::config`],
//! re-exported here); the writer adds the one check only it can make: that
//! each `source.tls.ca_file` is a readable PEM file.

pub use snapshot_contract::config::*;
pub use snapshot_contract::units::{ByteSize, GoDuration};

use std::path::Path;

/// Reads and validates a config file: the contract's checks and the
/// writer's own ([`writer_checks`]), every problem in one error.
pub fn load_file(path: &Path) -> Result<WriterConfig, ConfigError> {
    load_file_with(path, &writer_checks)
}

/// Parses and validates config text, as [`load_file`].
pub fn parse_str(text: &str) -> Result<WriterConfig, ConfigError> {
    parse_str_with(text, &writer_checks)
}

/// What only the writer's host can check: the CA file of an `https://`
/// source must be readable and hold a certificate (the operator cannot see
/// the files of the pod).
fn writer_checks(table: &TableConfig) -> Vec<(String, String)> {
    let Some(ca_file) = &table.source.tls.ca_file else {
        return Vec::new();
    };
    match crate::source::tls::read_ca_file(ca_file) {
        Ok(_) => Vec::new(),
        Err(error) => vec![("source.tls.ca_file".to_owned(), error.to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(yaml: &str) -> String {
        parse_str(yaml)
            .expect_err("config should be rejected")
            .to_string()
    }

    #[test]
    fn a_bad_ca_file_is_named_with_the_contracts_problems() {
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem");
        let with_ca = format!(
            "source: {{server: 'https://laredo:4002', schema: public, table: users, tls: {{ca_file: '{ca}'}}}}\n\
             destinations: [{{type: local, path: /tmp/archive}}]\n"
        );
        parse_str(&with_ca).unwrap();
        let missing = with_ca.replace("ca.pem", "missing.pem");
        let error = error_of(&missing);
        assert!(
            error.starts_with("source.tls.ca_file: CA file \"") && error.contains("missing.pem"),
            "{error}"
        );
        let not_pem = with_ca.replace("ca.pem", "server.key");
        let error = error_of(&not_pem);
        assert!(error.contains("no PEM certificate"), "{error}");
        let both = missing.replace("table: users", "table: users, connect_timeout: soon");
        let error = error_of(&both);
        assert!(error.starts_with("2 problems: "), "{error}");
        assert!(
            error.contains(r#"source.connect_timeout: invalid duration "soon""#),
            "{error}"
        );
    }
}
