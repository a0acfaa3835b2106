//! The batching producer on this backend. These cases own the backend (`Arc<dyn Queue>`), as
//! the producer's background task holds its queue.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use pgmq_core::serde_json::{json, Value};
use pgmq_core::{
    BatchingProducer, Error, ProducerOptions, Queue, QueueAttributes, QueueName, ReadOptions,
    Result, MAX_BATCH,
};

use crate::recording::Recording;

use super::{assert_invalid, assert_not_found, cleanup, fresh, length, missing};

type SendFut = Pin<Box<dyn Future<Output = Result<i64>> + Send>>;

/// Sends that have joined the producer, in a known order.
struct Started(Vec<(SendFut, Option<Result<i64>>)>);

/// Polls each send once, in order, so each joins the producer in exactly this order.
async fn start(sends: impl IntoIterator<Item = SendFut>) -> Started {
    let mut slots: Vec<_> = sends.into_iter().map(|s| (s, None)).collect();
    for (send, answer) in &mut slots {
        poll_fn(|cx| {
            if let Poll::Ready(a) = send.as_mut().poll(cx) {
                *answer = Some(a);
            }
            Poll::Ready(())
        })
        .await;
    }
    Started(slots)
}

impl Started {
    /// Every send's answer, in order.
    async fn answers(self) -> Vec<Result<i64>> {
        let mut answers = Vec::new();
        for (send, answer) in self.0 {
            answers.push(match answer {
                Some(a) => a,
                None => send.await,
            });
        }
        answers
    }
}

fn producer(q: Arc<dyn Queue>, name: &QueueName, options: ProducerOptions) -> BatchingProducer {
    BatchingProducer::new(q, name.clone(), options).expect("a producer")
}

/// Every message of the queue as (msg_id, body), by id.
async fn stored(q: &dyn Queue, name: &QueueName) -> Vec<(i64, Value)> {
    let got = q
        .read_json(name, ReadOptions::new().qty(MAX_BATCH))
        .await
        .expect("read");
    got.into_iter().map(|m| (m.msg_id, m.message)).collect()
}

fn id(answer: &Result<i64>) -> i64 {
    *answer
        .as_ref()
        .unwrap_or_else(|e| panic!("expected an id, got {e:?}"))
}

/// 200 tasks sending through clones of one producer each get their own id, and every
/// message is stored exactly once, under the id its sender got.
pub async fn batching_producer_gives_each_concurrent_sender_its_own_id(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "prod_ids").await;
    let p = producer(Arc::clone(&q), &name, ProducerOptions::new());
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let p = p.clone();
            tokio::spawn(async move { (i, p.send(&json!({ "seq": i })).await) })
        })
        .collect();
    let mut sent = Vec::new();
    for task in tasks {
        let (i, answer) = task.await.expect("the task ran");
        sent.push((id(&answer), json!({ "seq": i })));
    }
    p.close().await;
    sent.sort_by_key(|(id, _)| *id);
    assert!(sent.windows(2).all(|w| w[0].0 < w[1].0), "ids repeat");
    assert_eq!(stored(&*q, &name).await, sent);
    cleanup(&*q, &name).await;
}

/// Sends join batches in the order they are made, and within a batch the ids ascend in that
/// order.
pub async fn batching_producer_keeps_send_order_within_each_batch(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "prod_order").await;
    let recording = Recording::new(&q);
    let p = producer(
        recording.clone(),
        &name,
        ProducerOptions::new().max_batch(30),
    );
    let sends = (0..200).map(|i| Box::pin(p.send(&json!(i))) as SendFut);
    let answers = start(sends).await.answers().await;
    let ids: Vec<i64> = answers.iter().map(id).collect();
    // Batches run concurrently, so they may reach the database in any order; each one is a
    // run of consecutive sends.
    let mut batches = recording.batches();
    batches.sort_by_key(|b| b.first().and_then(Value::as_u64));
    let order: Vec<Value> = batches.iter().flatten().cloned().collect();
    assert_eq!(order, (0..200).map(|i| json!(i)).collect::<Vec<_>>());
    for batch in &batches {
        assert!(
            batch.len() <= 30,
            "a batch of {} over max_batch",
            batch.len()
        );
        let in_batch: Vec<i64> = batch
            .iter()
            .map(|v| ids[v.as_u64().expect("a number") as usize])
            .collect();
        assert!(
            in_batch.windows(2).all(|w| w[0] < w[1]),
            "ids not ascending in send order within a batch: {in_batch:?}"
        );
    }
    assert_eq!(length(&*q, &name).await, 200);
    p.close().await;
    cleanup(&*q, &name).await;
}

/// 64 tasks sending 5 messages each through a producer with a 1 ms window take far fewer
/// statements than messages.
pub async fn batching_producer_sends_many_messages_in_few_statements(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "prod_few").await;
    let recording = Recording::new(&q);
    let p = producer(recording.clone(), &name, ProducerOptions::new());
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let p = p.clone();
            tokio::spawn(async move {
                for i in 0..5 {
                    id(&p.send(&json!([t, i])).await);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the task ran");
    }
    p.close().await;
    let statements = recording.batches().len();
    assert!(
        statements * 4 <= 320,
        "{statements} statements for 320 messages: not batching"
    );
    assert_eq!(length(&*q, &name).await, 320);
    cleanup(&*q, &name).await;
}

/// A message holding U+0000 fails only its own sender; the others of the same window are
/// stored, and the bad one never reaches a statement.
pub async fn batching_producer_fails_only_the_sender_of_a_nul_message(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "prod_nul").await;
    let recording = Recording::new(&q);
    let options = ProducerOptions::new().window(Duration::from_millis(200));
    let p = producer(recording.clone(), &name, options);
    let bodies = [json!("a"), json!({ "k": "b\u{0}" }), json!("c"), json!("d")];
    let sends = bodies
        .iter()
        .map(|b| Box::pin(p.send_json(b.clone())) as SendFut);
    let answers = start(sends).await.answers().await;
    match &answers[1] {
        Err(Error::InvalidMessage { index: 0, .. }) => {}
        other => panic!("expected InvalidMessage for the NUL message, got {other:?}"),
    }
    let mut sent: Vec<(i64, Value)> = [0, 2, 3]
        .into_iter()
        .map(|i| (id(&answers[i]), bodies[i].clone()))
        .collect();
    sent.sort_by_key(|(id, _)| *id);
    assert_eq!(stored(&*q, &name).await, sent);
    assert_eq!(recording.batches().concat().len(), 3);
    p.close().await;
    cleanup(&*q, &name).await;
}

/// Messages over the queue's maximum size fail only their own senders: the batch they shared
/// is sent again without them and the others get their ids.
pub async fn batching_producer_fails_only_the_senders_of_oversized_messages(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "prod_big").await;
    let limit = QueueAttributes::new().max_message_bytes(64);
    q.set_attributes(&name, limit)
        .await
        .expect("set_attributes");
    let recording = Recording::new(&q);
    let options = ProducerOptions::new().window(Duration::from_millis(200));
    let p = producer(recording.clone(), &name, options);
    let big = |i: usize| json!({ "i": i, "pad": "x".repeat(100) });
    let bodies: Vec<Value> = (0..12)
        .map(|i| {
            if i == 3 || i == 7 {
                big(i)
            } else {
                json!({ "i": i })
            }
        })
        .collect();
    let sends = bodies
        .iter()
        .map(|b| Box::pin(p.send_json(b.clone())) as SendFut);
    let answers = start(sends).await.answers().await;
    let mut sent = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        if i == 3 || i == 7 {
            match answer {
                Err(Error::MessageTooLarge {
                    index: 0,
                    limit: 64,
                    ..
                }) => {}
                other => panic!("expected MessageTooLarge for message {i}, got {other:?}"),
            }
        } else {
            sent.push((id(answer), bodies[i].clone()));
        }
    }
    sent.sort_by_key(|(id, _)| *id);
    assert_eq!(stored(&*q, &name).await, sent);
    // How the 12 sends share batches depends on timing (an idle producer sends at once).
    // What must hold: a batch with a too-large message is sent again at once without the
    // first of them (the one Postgres reported), until none is left; and every small
    // message is in exactly one batch that holds no too-large message (the one stored).
    let batches = recording.batches();
    let is_big = |v: &Value| v.get("pad").is_some();
    for (i, batch) in batches.iter().enumerate() {
        if let Some(first) = batch.iter().position(is_big) {
            let mut rest = batch.clone();
            rest.remove(first);
            if !rest.is_empty() {
                assert_eq!(
                    batches.get(i + 1),
                    Some(&rest),
                    "batch {i} resent without it"
                );
            }
        }
    }
    let mut stored_from: Vec<Value> = batches
        .iter()
        .filter(|b| !b.iter().any(is_big))
        .flatten()
        .cloned()
        .collect();
    stored_from.sort_by_key(|v| v["i"].as_i64());
    let mut small: Vec<Value> = bodies.iter().filter(|v| !is_big(v)).cloned().collect();
    small.sort_by_key(|v| v["i"].as_i64());
    assert_eq!(
        stored_from, small,
        "each small message in one batch that was stored"
    );
    p.close().await;
    cleanup(&*q, &name).await;
}

/// Every sender of a batch to a queue that does not exist gets `QueueNotFound`.
pub async fn batching_producer_to_unknown_queue_fails_every_sender(q: Arc<dyn Queue>) {
    let name = missing("prod_none");
    let options = ProducerOptions::new().window(Duration::from_millis(50));
    let p = producer(Arc::clone(&q), &name, options);
    let sends = (0..5).map(|i| Box::pin(p.send(&i)) as SendFut);
    for answer in start(sends).await.answers().await {
        assert_not_found(answer, &name);
    }
    p.close().await;
}

/// Messages still waiting for their batch when the last handle is dropped are sent, and
/// their senders answered, each with the id of a stored message, ascending in the order the
/// sends joined. One batch in flight at a time: with more, the first message (which an idle
/// producer sends at once) may commit after the batch of the others, as documented.
pub async fn batching_producer_flushes_when_its_last_handle_is_dropped(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "prod_drop").await;
    let options = ProducerOptions::new()
        .window(ProducerOptions::MAX_WINDOW)
        .max_in_flight_batches(1);
    let p = producer(Arc::clone(&q), &name, options);
    let started = start((0..50).map(|i| Box::pin(p.send(&i)) as SendFut)).await;
    drop(p);
    let ids: Vec<i64> = started.answers().await.iter().map(id).collect();
    let stored: Vec<i64> = stored(&*q, &name).await.into_iter().map(|m| m.0).collect();
    assert_eq!(stored, ids);
    cleanup(&*q, &name).await;
}

/// Options out of range are `InvalidArgument`; a zero window is allowed.
pub async fn batching_producer_rejects_invalid_options(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "prod_opts").await;
    let new = |options| BatchingProducer::new(Arc::clone(&q), name.clone(), options);
    assert_invalid(new(ProducerOptions::new().max_batch(0)), "max_batch");
    assert_invalid(
        new(ProducerOptions::new().max_batch(MAX_BATCH + 1)),
        "max_batch",
    );
    assert_invalid(
        new(ProducerOptions::new().max_in_flight_batches(0)),
        "max_in_flight_batches",
    );
    let too_long = ProducerOptions::MAX_WINDOW + Duration::from_millis(1);
    assert_invalid(new(ProducerOptions::new().window(too_long)), "batch window");
    let p = new(ProducerOptions::new().window(Duration::ZERO)).expect("a zero window");
    id(&p.send(&"now").await);
    p.close().await;
    assert_eq!(length(&*q, &name).await, 1);
    cleanup(&*q, &name).await;
}
