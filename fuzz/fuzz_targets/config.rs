//! The writer's YAML config: the nesting pre-scan, the YAML parser and every
//! validation rule, through `config::parse_str` (what `load_file` calls on
//! the text it read, and what `check-config` runs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `load_file` reads text: bytes that are not UTF-8 fail there already.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match snapshot_writer::config::parse_str(text) {
        Ok(config) => {
            // What `check-config` prints for a good config.
            let _ = format!("{config:?}");
        }
        // Errors are displayed on one line to the user: format them too.
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
