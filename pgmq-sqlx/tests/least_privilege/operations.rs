//! What the application role does: every queue operation, waiting, the batching producer,
//! the worker and dead letters. Each function asserts concrete outcomes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pgmq_core::{
    AckMode, BatchingProducer, Fence, Message, ProducerOptions, Queue, QueueExt, QueueName,
    ReadOptions, RedriveOptions, SendOptions, VisibleAt, Worker, WorkerOptions, DEAD_LETTER_SOURCE,
};
use pgmq_sqlx::SqlxQueue;
use serde_json::{json, Value};

/// Sending, reading, acknowledging by id and by receipt, archives, metrics, purge.
pub(crate) async fn messages(app: &SqlxQueue, q: &QueueName) {
    let ids = app
        .send_batch(q, &[json!(1), json!(2), json!(3)], SendOptions::new())
        .await
        .expect("send_batch");
    let fourth = app
        .send(q, &json!(4), SendOptions::new())
        .await
        .expect("send");
    assert_eq!(ids.len(), 3);
    assert!(fourth > ids[2]);
    assert_eq!(app.peek(q, 10).await.expect("peek").len(), 4);
    let read: Vec<Message> = app.read(q, ReadOptions::new().qty(2)).await.expect("read");
    assert_eq!(read.iter().map(|m| m.msg_id).collect::<Vec<_>>(), ids[..2]);
    let (a, b) = (&read[0], &read[1]);
    assert!(app
        .set_vt(q, a.msg_id, VisibleAt::now())
        .await
        .expect("set_vt")
        .is_some());
    let extended = app
        .set_vt_receipt(q, b.receipt(), VisibleAt::secs(60))
        .await
        .expect("set_vt_receipts");
    assert!(extended.is_some());
    assert_eq!(
        app.archive_receipt(q, b.receipt())
            .await
            .expect("archive_receipts"),
        Fence::Acted
    );
    assert_eq!(
        app.read_archive(q, &[b.msg_id])
            .await
            .expect("read_archive")
            .len(),
        1
    );
    assert_eq!(
        app.delete_receipt(q, b.receipt()).await.expect("stale"),
        Fence::Stale
    );
    let rest: Vec<Message> = app
        .read(q, ReadOptions::new().qty(3))
        .await
        .expect("read again");
    assert_eq!(rest.len(), 3);
    assert_eq!(
        app.delete_receipt(q, rest[0].receipt())
            .await
            .expect("delete_receipts"),
        Fence::Acted
    );
    assert!(app.delete(q, rest[1].msg_id).await.expect("delete"));
    assert!(app.archive(q, rest[2].msg_id).await.expect("archive"));
    let m = app.metrics(q).await.expect("metrics");
    assert_eq!((m.queue_length, m.total_messages), (0, 4));

    app.send(q, &json!("popped"), SendOptions::new())
        .await
        .expect("send");
    let popped = app.pop_json(q, 5).await.expect("pop");
    assert_eq!(popped[0].message, json!("popped"));
    app.send_batch(q, &[json!(5), json!(6)], SendOptions::new())
        .await
        .expect("send");
    assert_eq!(app.purge(q).await.expect("purge is DELETE"), 2);
    assert_eq!(app.trim_archive(q).await.expect("trim_archive"), 0);
    assert_eq!(app.metrics_all().await.expect("metrics_all").len(), 3);
}

/// Readiness, a subscription woken by a send, and a read that waits for one.
pub(crate) async fn waiting(app: &SqlxQueue, q: &QueueName) {
    let ready = app.readiness(q).await.expect("readiness");
    assert!(ready.notifies, "{ready:?}");
    assert_eq!(ready.throttle, Some(pgmq_core::DEFAULT_NOTIFY_THROTTLE));
    let mut sub = app.subscribe(q).await.expect("subscribe");
    assert!(sub.is_listening(), "the app role listens");
    app.send(q, &json!("wake"), SendOptions::new())
        .await
        .expect("send");
    tokio::time::timeout(Duration::from_secs(5), sub.changed())
        .await
        .expect("notified");
    assert_eq!(app.pop_json(q, 1).await.expect("pop").len(), 1);

    let (sender, name) = (app.clone(), q.clone());
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sender
            .send(&name, &json!("late"), SendOptions::new())
            .await
            .expect("late send")
    });
    let got = app
        .read_json(q, ReadOptions::new().wait(Duration::from_secs(10)))
        .await
        .expect("read with wait");
    assert_eq!(got[0].msg_id, late.await.expect("sent"));
    assert!(app.delete(q, got[0].msg_id).await.expect("delete"));
}

/// The producer's batches, the worker (heartbeats, acks, retries, dead-lettering), redrive.
pub(crate) async fn worker_and_dead_letters(app: &SqlxQueue, q: &QueueName, dlq: &QueueName) {
    let queue: Arc<dyn Queue> = Arc::new(app.clone());
    let producer = BatchingProducer::new(Arc::clone(&queue), q.clone(), ProducerOptions::new())
        .expect("producer");
    let sends: Vec<_> = (0..20)
        .map(|i| tokio::spawn(producer.send(&json!({ "i": i }))))
        .collect();
    let mut ids = HashSet::new();
    for send in sends {
        ids.insert(send.await.expect("task").expect("batched send"));
    }
    producer.close().await;
    assert_eq!(ids.len(), 20);
    app.send(q, &json!({ "slow": true }), SendOptions::new())
        .await
        .expect("send");
    app.send(q, &json!({ "fail": true }), SendOptions::new())
        .await
        .expect("send");

    let slow_runs = Arc::new(AtomicUsize::new(0));
    let runs = Arc::clone(&slow_runs);
    let options = WorkerOptions::new()
        .vt(Duration::from_millis(600))
        .backoff(Duration::from_millis(20), Duration::from_millis(50))
        .poll_interval(Duration::from_millis(50))
        .ack_mode(AckMode::Archive);
    let worker = Worker::new(Arc::clone(&queue), q.clone(), options).expect("worker");
    let handler = move |m: Message| {
        let runs = Arc::clone(&runs);
        async move {
            if m.message["slow"] == json!(true) {
                runs.fetch_add(1, Ordering::SeqCst);
                // Outlives the visibility timeout: only heartbeats keep the claim.
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            if m.message["fail"] == json!(true) {
                Err("fails every time")
            } else {
                Ok(())
            }
        }
    };
    let (watch, watched) = (app.clone(), (q.clone(), dlq.clone()));
    let done = async move {
        loop {
            let left = watch
                .metrics(&watched.0)
                .await
                .expect("metrics")
                .queue_length;
            let dead = watch
                .metrics(&watched.1)
                .await
                .expect("metrics")
                .queue_length;
            if left == 0 && dead == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let summary = tokio::time::timeout(Duration::from_secs(30), worker.run(handler, done))
        .await
        .expect("the worker drains the queue")
        .expect("worker");
    assert_eq!(
        (summary.processed, summary.failed, summary.dead_lettered),
        (21, 2, 1),
        "{summary:?}"
    );
    assert_eq!(
        (summary.lost_claims, summary.stale_acks, summary.ack_errors),
        (0, 0, 0),
        "{summary:?}"
    );
    assert_eq!(
        slow_runs.load(Ordering::SeqCst),
        1,
        "heartbeats kept the slow claim"
    );
    let archived = app
        .read_archive(q, &ids.iter().copied().collect::<Vec<_>>())
        .await
        .expect("archive");
    assert_eq!(archived.len(), 20);

    let dead = app.peek(dlq, 10).await.expect("peek dlq");
    assert_eq!(dead[0].message, json!({ "fail": true }));
    let headers = dead[0].headers.clone().unwrap_or(Value::Null);
    assert_eq!(headers[DEAD_LETTER_SOURCE], json!(q.as_str()));
    assert_eq!(
        app.metrics(q)
            .await
            .expect("metrics")
            .dead_letter_queue_length,
        Some(1)
    );
    assert_eq!(
        app.attributes(q)
            .await
            .expect("attributes")
            .dead_letter
            .map(|d| d.max_receive_count),
        Some(2)
    );
    assert_eq!(
        app.redrive(dlq, RedriveOptions::new())
            .await
            .expect("redrive"),
        1
    );
    // Back as a new message: its first read since the redrive.
    let back = app.read_json(q, ReadOptions::new()).await.expect("read");
    assert_eq!(
        (back[0].message.clone(), back[0].read_ct),
        (json!({ "fail": true }), 1)
    );
    let acked = app.archive_receipt(q, back[0].receipt()).await;
    assert_eq!(acked.expect("archive_receipt"), Fence::Acted);
}
