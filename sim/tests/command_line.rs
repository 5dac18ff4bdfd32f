//! The `fanout-sim` binary: it serves on the address it is given until
//! SIGTERM (as `docker stop` sends it), and its flags take the writer
//! config's duration grammar.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BINARY: &str = env!("CARGO_BIN_EXE_fanout-sim");

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serves_until_sigterm_then_exits_cleanly() {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(BINARY)
        .args([
            "--listen",
            &addr,
            "--rows",
            "5",
            "--heartbeat-interval",
            "250ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "fanout-sim never listened on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(
        Pid::from_raw(i32::try_from(child.id()).unwrap()),
        Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(status.success(), "{status}: {logs}");
    assert!(logs.contains("fanout-sim serving"), "{logs}");
    assert!(logs.contains("stopping"), "{logs}");
}

#[test]
fn a_duration_outside_the_config_grammar_is_refused() {
    let output = Command::new(BINARY)
        .args(["--heartbeat-interval", "5 seconds"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(r#"invalid duration "5 seconds""#),
        "{stderr}"
    );
}
