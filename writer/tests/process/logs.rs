//! The writer's log lines carry the table they are about, also the lines of
//! the destinations and the event sinks, which run below the table task.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    Source, TABLE, WriterProcess, closed_port, one_table_config, table_name, workspace,
};

/// The JSON log lines whose message is `message`, parsed.
fn lines(writer: &WriterProcess, message: &str) -> Vec<Value> {
    writer
        .log_lines_with(message)
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == message)
        .collect()
}

/// The `table` of the span a JSON log line was written in.
fn span_table(line: &Value) -> Option<&str> {
    line["spans"]
        .as_array()?
        .iter()
        .find_map(|span| span["table"].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_and_event_sink_lines_name_the_table() {
    let (_dir, archive) = workspace();
    let source = Source::start(200).await;
    let dead_queue = closed_port();
    let extra = format!(
        r#"events:
  - {{type: sqs, queue_url: "http://{dead_queue}/000000000000/q", endpoint: "http://{dead_queue}"}}"#
    );
    let writer = WriterProcess::start(
        archive.parent().unwrap(),
        &one_table_config(source.addr, &archive, &extra),
    )
    .await;
    let ready = writer
        .wait_for(
            &table_name(),
            Duration::from_secs(30),
            "the first snapshot",
            |t| t.ready,
        )
        .await;

    // The next epoch's folder is taken by a file: the forced snapshot's
    // upload fails on the destination.
    let next_epoch = archive
        .join(TABLE)
        .join(format!("epoch={}", ready.epoch + 1));
    std::fs::write(&next_epoch, b"in the way").unwrap();
    let (code, body) = writer.post("/snapshot").await;
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("epoch="), "the answer names the key: {body}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (upload, publish) = loop {
        let upload = lines(&writer, "artifact upload failed");
        let publish = lines(&writer, "event publish failed; will retry");
        if !upload.is_empty() && !publish.is_empty() {
            break (upload, publish);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no upload or publish failure logged:\n{}",
            writer.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let table = table_name();
    for line in upload.iter().chain(&publish) {
        assert_eq!(span_table(line), Some(table.as_str()), "{line}");
        assert!(
            line.get("table").is_none(),
            "the table is the span's, not repeated: {line}"
        );
    }
    assert!(
        upload[0]["dest"]
            .as_str()
            .is_some_and(|d| d.starts_with("local:")),
        "{}",
        upload[0]
    );
    assert!(
        publish[0]["sink"]
            .as_str()
            .is_some_and(|s| s.starts_with("sqs:")),
        "{}",
        publish[0]
    );
}
