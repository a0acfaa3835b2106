//! Topic routing's limits: per-queue attributes, bad input, transactions.

use std::time::Duration;

use pgmq_core::{
    Error, Queue, QueueAttributes, QueueExt, RoutingKey, SendOptions, TopicPattern, MAX_BATCH,
    MAX_DELAY,
};
use serde_json::{json, Value};
use tokio::time::timeout;

use super::topics::{bind, bodies, key, pattern};
use super::{assert_invalid, cleanup, fresh, length};
use crate::{in_transaction, TransactionalBackend, TxEnd};

fn assert_too_large<T: std::fmt::Debug>(result: pgmq_core::Result<T>, at: usize, max: u64) {
    match result {
        Err(Error::MessageTooLarge { index, size, limit }) => {
            assert_eq!((index, limit), (at, max), "size {size}");
            assert!(size > max, "size {size}");
        }
        other => panic!("expected MessageTooLarge at {at}, got {other:?}"),
    }
}

/// Each reached queue applies its own attributes as a plain send does: its default delay
/// when the send gives none, and its maximum size, where one message over one queue's limit
/// means nothing is written to any queue.
pub async fn send_topic_applies_each_queues_default_delay_and_size_limit(q: &dyn Queue) {
    let later = fresh(q, "topicdelay").await;
    let small = fresh(q, "topicsmall").await;
    q.set_attributes(
        &later,
        QueueAttributes::new().default_delay(Duration::from_secs(3600)),
    )
    .await
    .expect("set default delay");
    q.set_attributes(&small, QueueAttributes::new().max_message_bytes(16))
        .await
        .expect("set size limit");
    let k = key(&format!("{later}.evt"));
    bind(q, k.as_str(), &later).await;
    bind(q, k.as_str(), &small).await;

    let n = q.send_topic(&k, &1, SendOptions::new()).await;
    assert_eq!(n.expect("send_topic"), 2);
    let m = q.metrics(&later).await.expect("metrics");
    assert_eq!((m.queue_length, m.queue_delayed_length), (1, 1), "{m:?}");
    assert_eq!(bodies(q, &small).await, vec![json!(1)]);
    let now = SendOptions::new().delay(Duration::ZERO);
    assert_eq!(q.send_topic(&k, &2, now).await.expect("send_topic"), 2);
    assert_eq!(
        bodies(q, &later).await,
        vec![json!(2)],
        "a given delay wins"
    );

    let big = json!("x".repeat(64));
    assert_too_large(q.send_topic(&k, &big, SendOptions::new()).await, 0, 16);
    let batch = [json!(3), big];
    assert_too_large(
        q.send_batch_topic(&k, &batch, SendOptions::new()).await,
        1,
        16,
    );
    assert_eq!(length(q, &later).await, 2, "an oversized send wrote");
    assert_eq!(length(q, &small).await, 2, "an oversized send wrote");
    cleanup(q, &later).await;
    cleanup(q, &small).await;
}

/// Bad keys and patterns fail in their constructors; messages, headers, delays and batch
/// sizes a plain send rejects are rejected the same way, before any SQL, writing nothing.
pub async fn bad_routing_input_is_rejected_before_sql_and_writes_nothing(q: &dyn Queue) {
    for bad in [
        "",
        "a..b",
        ".a",
        "a.",
        "a.*",
        "a#",
        "a b",
        "é",
        &"a".repeat(256),
    ] {
        assert_invalid(RoutingKey::new(bad), "routing key");
    }
    for bad in [
        "",
        "a..b",
        "a.**",
        "a.##",
        "*#",
        "#*",
        "a.+",
        &"#".repeat(256),
    ] {
        assert_invalid(TopicPattern::new(bad), "topic pattern");
    }
    let name = fresh(q, "topicbad").await;
    let k = key(&format!("{name}.x"));
    bind(q, k.as_str(), &name).await;
    let nul = json!({"text": "a\u{0}b"});
    let deep = (0..200).fold(json!(1), |v, _| Value::Array(vec![v]));
    for (message, index) in [(nul.clone(), 0), (deep, 0)] {
        let sent = q.send_topic_json(&k, message, SendOptions::new()).await;
        assert!(
            matches!(sent, Err(Error::InvalidMessage { index: i, .. }) if i == index),
            "{sent:?}"
        );
    }
    let sent = q
        .send_batch_topic(&k, &[json!(1), nul.clone()], SendOptions::new())
        .await;
    assert!(
        matches!(sent, Err(Error::InvalidMessage { index: 1, .. })),
        "{sent:?}"
    );
    let bad_headers = SendOptions::new().headers(nul);
    assert_invalid(q.send_topic(&k, &1, bad_headers).await, "headers");
    let too_late = SendOptions::new().delay(MAX_DELAY + Duration::from_secs(1));
    assert_invalid(q.send_topic(&k, &1, too_late).await, "delay");
    let too_many = vec![json!(1); MAX_BATCH + 1];
    let sent = q.send_batch_topic(&k, &too_many, SendOptions::new()).await;
    assert_invalid(sent, "batch size");
    let empty: &[Value] = &[];
    let sent = q.send_batch_topic(&k, empty, SendOptions::new()).await;
    assert!(sent.expect("an empty batch").is_empty());
    assert_eq!(length(q, &name).await, 0, "a rejected send wrote");
    cleanup(q, &name).await;
}

/// Bindings and sends in a transaction are the transaction's: a `#` bound inside reaches
/// every key there and nowhere else, a rejected send leaves the transaction usable, and
/// rolling back leaves no binding and no message.
pub async fn send_topic_in_a_rolled_back_transaction_writes_nothing(b: &dyn TransactionalBackend) {
    let q = b.queue();
    let exact = fresh(q, "topictx").await;
    let catch_all = fresh(q, "topictxall").await;
    q.set_attributes(&catch_all, QueueAttributes::new().max_message_bytes(16))
        .await
        .expect("set size limit");
    let k = key(&format!("{exact}.x"));
    bind(q, k.as_str(), &exact).await;
    let (tx_exact, tx_all, tx_key) = (exact.clone(), catch_all.clone(), k.clone());
    in_transaction(b, move |tx, outside| {
        Box::pin(async move {
            tx.bind_topic(&pattern("#"), &tx_all).await.expect("bind #");
            let routed = outside.test_routing(&tx_key).await.expect("test_routing");
            assert_eq!(
                routed.len(),
                1,
                "an uncommitted binding seen outside: {routed:?}"
            );
            let big = json!("x".repeat(64));
            let sent = tx.send_topic(&tx_key, &big, SendOptions::new()).await;
            assert_too_large(sent, 0, 16);
            let sent = tx.send_topic(&tx_key, &1, SendOptions::new()).await;
            assert_eq!(sent.expect("send_topic in tx"), 2);
            assert_eq!(length(tx, &tx_all).await, 1);
            assert_eq!(
                length(outside, &tx_exact).await,
                0,
                "uncommitted message seen"
            );
            (TxEnd::Rollback, ())
        })
    })
    .await
    .expect("transaction");
    assert_eq!(length(q, &exact).await, 0);
    assert_eq!(length(q, &catch_all).await, 0);
    let left = q.topic_bindings(Some(&catch_all)).await.expect("list");
    assert!(left.is_empty(), "a rolled-back binding stayed: {left:?}");
    cleanup(q, &exact).await;
    cleanup(q, &catch_all).await;
}

/// Each reached queue's insert notification fires as for a plain send, so its waiting
/// readers wake (on a backend that listens).
pub async fn a_send_by_topic_wakes_each_reached_queues_subscribers(q: &dyn Queue) {
    let first = fresh(q, "topicwake").await;
    let second = fresh(q, "topicwaketwo").await;
    let k = key(&format!("{first}.ping"));
    let mut subs = Vec::new();
    for name in [&first, &second] {
        bind(q, k.as_str(), name).await;
        subs.push(q.subscribe(name).await.expect("subscribe"));
    }
    assert_eq!(
        q.send_topic(&k, &1, SendOptions::new())
            .await
            .expect("send"),
        2
    );
    for mut sub in subs {
        if sub.can_listen() {
            let woke = timeout(Duration::from_secs(3), sub.changed()).await;
            assert!(woke.is_ok(), "a reached queue's subscriber did not wake");
        }
    }
    cleanup(q, &first).await;
    cleanup(q, &second).await;
}
