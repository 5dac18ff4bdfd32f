//! Events reach SNS, SQS (standard and FIFO) and Kinesis with laredo's
//! fields; a dead sink is retried, counted and logged without blocking.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use snapshot_writer::config::EventSinkConfig;
use snapshot_writer::events::{Event, EventKind, EventPublisher, PublisherOptions, connect_sink};
use snapshot_writer::metrics::Metrics;

use crate::support::eventually;
use crate::support::moto::Moto;

/// The `n`th diff of table `public.users`.
pub fn event(n: u32) -> Event {
    Event {
        table: "public.users".into(),
        kind: if n == 1 {
            EventKind::Snapshot
        } else {
            EventKind::Diff
        },
        epoch: 1,
        from_position: (n > 1).then(|| format!("0/{}", n - 1)),
        to_position: format!("0/{n}"),
        head_position: format!("0/{n}"),
        manifest_uri: "s3://archive/p/users/manifest.json".into(),
        formats: BTreeMap::from([(
            "jsonl".into(),
            format!("s3://archive/p/users/epoch=1/diff-{n}.jsonl"),
        )]),
        created_at: jiff::Timestamp::from_second(1_700_000_000 + i64::from(n)).unwrap(),
        id: format!("users/epoch=1/diff-{n}"),
        writer: Some("writer-a".into()),
    }
}

pub async fn sqs(moto: &Moto) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&moto.sdk_config().await)
}

/// Creates a queue (FIFO if the name ends in `.fifo`) and returns its URL.
pub async fn create_queue(moto: &Moto, name: &str) -> String {
    let mut request = sqs(moto).await.create_queue().queue_name(name);
    if name.ends_with(".fifo") {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    request.send().await.unwrap().queue_url.unwrap()
}

/// Receives `count` messages (waiting up to 10 s), deleting them.
pub async fn receive(
    moto: &Moto,
    queue_url: &str,
    count: usize,
) -> Vec<aws_sdk_sqs::types::Message> {
    let client = sqs(moto).await;
    let mut messages = Vec::new();
    for _ in 0..20 {
        let out = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        for message in out.messages.unwrap_or_default() {
            client
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            messages.push(message);
        }
        if messages.len() >= count {
            break;
        }
    }
    messages
}

fn parsed(body: &[u8]) -> Event {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not an event ({e}): {}", String::from_utf8_lossy(body)))
}

fn check_laredo_fields(body: &[u8]) {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    for field in [
        "table",
        "kind",
        "epoch",
        "from_position",
        "to_position",
        "head_position",
        "manifest_uri",
        "formats",
        "created_at",
    ] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
}

#[tokio::test]
async fn every_sink_receives_each_event_with_laredos_fields() {
    let moto = Moto::start().await;
    let sdk = moto.sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic_arn = sns
        .create_topic()
        .name("archive-events")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let via_sns = create_queue(&moto, "via-sns").await;
    let via_sns_arn = sqs(&moto)
        .await
        .get_queue_attributes()
        .queue_url(&via_sns)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&via_sns_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    let standard = create_queue(&moto, "standard").await;
    let fifo = create_queue(&moto, "ordered.fifo").await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    kinesis
        .create_stream()
        .stream_name("archive")
        .shard_count(1)
        .send()
        .await
        .unwrap();

    let endpoint = Some(moto.endpoint());
    let configs = [
        EventSinkConfig::Sns {
            topic_arn: topic_arn.clone(),
            region: None,
            endpoint: endpoint.clone(),
            credentials: None,
        },
        EventSinkConfig::Sqs {
            queue_url: standard.clone(),
            message_group_id: None,
            region: None,
            endpoint: endpoint.clone(),
            credentials: None,
        },
        EventSinkConfig::Sqs {
            queue_url: fifo.clone(),
            message_group_id: None,
            region: None,
            endpoint: endpoint.clone(),
            credentials: None,
        },
        EventSinkConfig::Kinesis {
            stream: "archive".into(),
            region: None,
            endpoint: endpoint.clone(),
            credentials: None,
        },
    ];
    let resolver = moto.resolver();
    let mut sinks = Vec::new();
    for config in &configs {
        sinks.push(connect_sink(config, &resolver).await.unwrap());
    }
    let labels: Vec<_> = sinks.iter().map(|s| s.label().to_owned()).collect();
    assert_eq!(
        labels,
        [
            "sns:archive-events",
            "sqs:standard",
            "sqs:ordered.fifo",
            "kinesis:archive"
        ]
    );

    let metrics = Metrics::new();
    let publisher = EventPublisher::start(
        sinks,
        metrics.table("public.users"),
        PublisherOptions::default(),
    );
    let sent: Vec<Event> = (1..=3).map(event).collect();
    for event in &sent {
        publisher.publish(event.clone());
    }
    assert_eq!(
        publisher.shutdown(Duration::from_secs(30)).await,
        0,
        "all delivered"
    );

    for queue in [&via_sns, &standard] {
        let mut got: Vec<Event> = receive(&moto, queue, 3)
            .await
            .iter()
            .map(|m| {
                check_laredo_fields(m.body().unwrap().as_bytes());
                parsed(m.body().unwrap().as_bytes())
            })
            .collect();
        got.sort_by(|a, b| a.to_position.cmp(&b.to_position));
        assert_eq!(got, sent, "{queue}");
    }

    let fifo_messages = receive(&moto, &fifo, 3).await;
    let got: Vec<Event> = fifo_messages
        .iter()
        .map(|m| parsed(m.body().unwrap().as_bytes()))
        .collect();
    assert_eq!(got, sent, "a FIFO queue keeps the order");
    for (message, event) in fifo_messages.iter().zip(&sent) {
        let attributes: HashMap<_, _> = message.attributes().cloned().unwrap_or_default();
        assert_eq!(
            attributes
                .get(&MessageSystemAttributeName::MessageGroupId)
                .map(String::as_str),
            Some("public.users")
        );
        assert_eq!(
            attributes
                .get(&MessageSystemAttributeName::MessageDeduplicationId)
                .cloned(),
            Some(format!("public.users/{}", event.id))
        );
    }

    let shard = kinesis
        .list_shards()
        .stream_name("archive")
        .send()
        .await
        .unwrap()
        .shards
        .unwrap()
        .remove(0)
        .shard_id;
    let iterator = kinesis
        .get_shard_iterator()
        .stream_name("archive")
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let records = kinesis
        .get_records()
        .shard_iterator(iterator)
        .send()
        .await
        .unwrap()
        .records;
    let got: Vec<Event> = records.iter().map(|r| parsed(r.data.as_ref())).collect();
    assert_eq!(got, sent);
    assert!(
        records
            .iter()
            .all(|r| r.partition_key.as_deref() == Some("public.users"))
    );

    let text = metrics.render();
    for label in labels {
        let line = format!(
            "snapshotter_events_published_total{{sink=\"{label}\",table=\"public.users\"}} 3"
        );
        assert!(text.contains(&line), "missing {line}");
    }
}

/// Captures log lines written on this thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn counter(metrics: &Metrics, name: &str, sink: &str) -> u64 {
    let prefix = format!("{name}{{sink=\"{sink}\",table=\"public.users\"}} ");
    metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or(0)
}

// A current-thread runtime, so the sink tasks log through this thread's
// subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_dead_sink_is_retried_counted_and_logged_while_the_others_deliver() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let moto = Moto::start().await;
    let live = create_queue(&moto, "live").await;
    let closed_port = crate::support::moto::free_port();
    let dead = EventSinkConfig::Sns {
        topic_arn: "arn:aws:sns:us-east-1:123456789012:gone".into(),
        region: None,
        endpoint: Some(format!("http://127.0.0.1:{closed_port}")),
        credentials: None,
    };
    let live_config = EventSinkConfig::Sqs {
        queue_url: live.clone(),
        message_group_id: None,
        region: None,
        endpoint: Some(moto.endpoint()),
        credentials: None,
    };
    let resolver = moto.resolver();
    let sinks = vec![
        connect_sink(&dead, &resolver).await.unwrap(),
        connect_sink(&live_config, &resolver).await.unwrap(),
    ];
    let metrics = Metrics::new();
    let options = PublisherOptions {
        queue_capacity: 10,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    };
    let publisher = EventPublisher::start(sinks, metrics.table("public.users"), options);
    for n in 1..=3 {
        publisher.publish(event(n));
    }
    assert_eq!(
        receive(&moto, &live, 3).await.len(),
        3,
        "the live sink is not held up"
    );
    eventually(
        Duration::from_secs(20),
        "three failed attempts on the dead sink",
        || {
            let errors = counter(&metrics, "snapshotter_event_errors_total", "sns:gone");
            async move { errors >= 3 }
        },
    )
    .await;
    assert_eq!(
        counter(&metrics, "snapshotter_events_published_total", "sns:gone"),
        0
    );

    // Publishing never waits on the dead sink: a flood returns at once and
    // the queue keeps the newest events.
    for n in 4..=1003 {
        publisher.publish(event(n));
    }
    assert_eq!(
        counter(&metrics, "snapshotter_events_dropped_total", "sns:gone"),
        993
    );
    let undelivered = publisher.shutdown(Duration::from_millis(200)).await;
    assert!(
        undelivered >= 10,
        "the dead sink's queue is reported: {undelivered}"
    );

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("event publish failed; will retry"), "{text}");
    assert!(text.contains("sns:gone"), "{text}");
    assert!(text.contains("event queue full"), "{text}");
}
