//! Every queue operation runs in one `tracing` span with OpenTelemetry's messaging fields,
//! recorded here by a minimal subscriber against a real Postgres.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pgmq_core::{Error, Queue, QueueExt, ReadOptions, SendOptions};
use pgmq_sqlx::SqlxQueue;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// The fields of every span, by span id.
#[derive(Clone, Default)]
struct Spans(
    Arc<Mutex<HashMap<u64, HashMap<String, String>>>>,
    Arc<AtomicU64>,
);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.1.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = HashMap::new();
        span.record(&mut Fields(&mut fields));
        self.0.lock().expect("lock").insert(id, fields);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(fields) = self.0.lock().expect("lock").get_mut(&span.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Spans {
    /// The spans of one operation, by `messaging.operation.name`.
    fn of(&self, operation: &str) -> Vec<HashMap<String, String>> {
        self.0
            .lock()
            .expect("lock")
            .values()
            .filter(|f| f.get("messaging.operation.name").map(String::as_str) == Some(operation))
            .cloned()
            .collect()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_operation_runs_in_a_span_with_the_messaging_fields() {
    let spans = Spans::default();
    let _guard = tracing::subscriber::set_default(spans.clone());
    let url = pgmq_conformance::harness::database_url().expect("a Postgres to test against");
    let queue = SqlxQueue::connect(&url).await.expect("connect");
    let name = pgmq_conformance::fresh_queue(&queue, "traced").await;
    queue
        .send_batch(&name, &[1, 2, 3], SendOptions::new())
        .await
        .expect("send");
    let missing = pgmq_conformance::unique_queue_name("traced_none");
    let err = queue
        .read_json(&missing, ReadOptions::new())
        .await
        .expect_err("no such queue");
    assert!(matches!(err, Error::QueueNotFound { .. }), "{err:?}");
    queue.drop_queue(&name).await.expect("drop");

    let sent = spans.of("send_batch_json");
    assert_eq!(sent.len(), 1, "one span per operation: {sent:?}");
    let sent = &sent[0];
    assert_eq!(sent["messaging.system"], "pgmq");
    assert_eq!(sent["messaging.destination.name"], name.as_str());
    assert_eq!(sent["messaging.batch.message_count"], "3");
    assert!(!sent.contains_key("error.type"), "{sent:?}");
    assert!(
        !sent.values().any(|v| v.contains("1, 2, 3")),
        "a message body reached a span: {sent:?}"
    );
    let failed = &spans.of("read_json")[0];
    assert_eq!(failed["messaging.destination.name"], missing.as_str());
    assert_eq!(failed["error.type"], "QueueNotFound");
    assert_eq!(spans.of("create").len(), 1);
    assert_eq!(spans.of("drop_queue").len(), 1);
}

/// The worker runs each handled message in a `process` span naming the queue and the
/// message id.
#[tokio::test(flavor = "current_thread")]
async fn the_worker_traces_each_handled_message() {
    let spans = Spans::default();
    let _guard = tracing::subscriber::set_default(spans.clone());
    let url = pgmq_conformance::harness::database_url().expect("a Postgres to test against");
    let queue = SqlxQueue::connect(&url).await.expect("connect");
    let name = pgmq_conformance::fresh_queue(&queue, "traced_worker").await;
    let ids = queue
        .send_batch(&name, &["a", "b"], SendOptions::new())
        .await
        .expect("send");
    let q: Arc<dyn Queue> = Arc::new(queue.clone());
    let worker =
        pgmq_core::Worker::new(q, name.clone(), pgmq_core::WorkerOptions::new()).expect("a worker");
    let (done, all_done) = tokio::sync::mpsc::unbounded_channel::<()>();
    let stop = async move {
        let mut all_done = all_done;
        for _ in 0..2 {
            all_done.recv().await;
        }
    };
    let summary = worker
        .run(
            move |_m| {
                let done = done.clone();
                async move {
                    let _ = done.send(());
                    Ok::<(), String>(())
                }
            },
            stop,
        )
        .await
        .expect("the worker ran");
    assert_eq!(summary.processed, 2, "{summary:?}");
    queue.drop_queue(&name).await.expect("drop");
    let mut traced: Vec<String> = spans
        .of("process")
        .iter()
        .inspect(|s| {
            assert_eq!(s["messaging.destination.name"], name.as_str());
            assert_eq!(s["messaging.pgmq.read_count"], "1");
        })
        .map(|s| s["messaging.message.id"].clone())
        .collect();
    traced.sort();
    let mut expected: Vec<String> = ids.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(traced, expected);
}
