use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use pgmq_core::{Error, Message, Queue, QueueExt, ReadOptions, SendOptions, MAX_BATCH};
use serde::Deserialize;
use serde_json::{json, Value};

use super::lifecycle::futures_join;
use super::{assert_invalid, assert_not_found, cleanup, fresh, missing};

async fn read_json(q: &dyn Queue, name: &pgmq_core::QueueName, opts: ReadOptions) -> Vec<Message> {
    q.read_json(name, opts).await.expect("read")
}

/// Reading an empty queue returns an empty list, not an error.
pub async fn read_of_empty_queue_returns_nothing(q: &dyn Queue) {
    let name = fresh(q, "empty").await;
    assert!(read_json(q, &name, ReadOptions::new().qty(10))
        .await
        .is_empty());
    cleanup(q, &name).await;
}

/// The message sent first is read first.
pub async fn read_returns_the_oldest_visible_message_first(q: &dyn Queue) {
    let name = fresh(q, "order").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            q.send(&name, &json!(i), SendOptions::new())
                .await
                .expect("send"),
        );
    }
    for expected in ids {
        let got = read_json(q, &name, ReadOptions::new()).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].msg_id, expected);
    }
    cleanup(q, &name).await;
}

/// A read hides the message for its visibility timeout, sets `read_ct` 1 and `last_read_at`.
pub async fn read_hides_the_message_and_counts_the_read(q: &dyn Queue) {
    let name = fresh(q, "hide").await;
    let id = q
        .send(&name, &json!("x"), SendOptions::new())
        .await
        .expect("send");
    let before = Utc::now() - TimeDelta::seconds(5);
    let got = read_json(q, &name, ReadOptions::new().vt_secs(30)).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!((m.msg_id, m.read_ct), (id, 1));
    let last = m.last_read_at.expect("last_read_at set");
    assert!(last > before);
    let hidden_for = m.vt - last;
    assert!(
        (TimeDelta::seconds(29)..=TimeDelta::seconds(31)).contains(&hidden_for),
        "vt is {hidden_for} after the read"
    );
    assert!(
        read_json(q, &name, ReadOptions::new()).await.is_empty(),
        "read twice"
    );
    cleanup(q, &name).await;
}

/// After its visibility timeout a message is delivered again, with `read_ct` 2.
pub async fn read_after_visibility_expiry_redelivers_with_read_ct_2(q: &dyn Queue) {
    let name = fresh(q, "expiry").await;
    let id = q
        .send(&name, &json!("again"), SendOptions::new())
        .await
        .expect("send");
    let first = read_json(q, &name, ReadOptions::new().vt(Duration::from_millis(400))).await;
    assert_eq!(first[0].read_ct, 1);
    assert!(read_json(q, &name, ReadOptions::new()).await.is_empty());
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = read_json(q, &name, ReadOptions::new()).await;
    assert_eq!(second.len(), 1);
    assert_eq!((second[0].msg_id, second[0].read_ct), (id, 2));
    assert!(second[0].last_read_at > first[0].last_read_at);
    cleanup(q, &name).await;
}

/// `qty` bounds how many messages one read returns.
pub async fn read_returns_at_most_the_quantity_asked(q: &dyn Queue) {
    let name = fresh(q, "qty").await;
    q.send_batch(&name, &[1, 2, 3, 4, 5], SendOptions::new())
        .await
        .expect("send");
    assert_eq!(
        read_json(q, &name, ReadOptions::new().qty(3)).await.len(),
        3
    );
    assert_eq!(
        read_json(q, &name, ReadOptions::new().qty(3)).await.len(),
        2
    );
    assert_eq!(
        read_json(q, &name, ReadOptions::new().qty(3)).await.len(),
        0
    );
    cleanup(q, &name).await;
}

/// A quantity of 0 is `InvalidArgument`, and no message is touched.
pub async fn read_with_zero_quantity_is_rejected(q: &dyn Queue) {
    let name = fresh(q, "zeroqty").await;
    q.send(&name, &1, SendOptions::new()).await.expect("send");
    assert_invalid(
        q.read_json(&name, ReadOptions::new().qty(0)).await,
        "quantity",
    );
    assert_invalid(q.pop_json(&name, 0).await, "quantity");
    assert_eq!(
        q.metrics(&name)
            .await
            .expect("metrics")
            .queue_visible_length,
        1
    );
    cleanup(q, &name).await;
}

/// A quantity above `MAX_BATCH` is `InvalidArgument`.
pub async fn read_with_quantity_above_the_maximum_is_rejected(q: &dyn Queue) {
    let name = fresh(q, "bigqty").await;
    q.send(&name, &1, SendOptions::new()).await.expect("send");
    assert_invalid(
        q.read_json(&name, ReadOptions::new().qty(MAX_BATCH + 1))
            .await,
        "quantity",
    );
    assert_invalid(q.pop_json(&name, MAX_BATCH + 1).await, "quantity");
    assert_eq!(
        q.metrics(&name)
            .await
            .expect("metrics")
            .queue_visible_length,
        1
    );
    cleanup(q, &name).await;
}

/// A visibility timeout longer than [`MAX_DELAY`](pgmq_core::MAX_DELAY) is
/// `InvalidArgument`, and the message stays visible.
pub async fn read_with_visibility_timeout_above_the_maximum_is_rejected(q: &dyn Queue) {
    let name = fresh(q, "longvt").await;
    q.send(&name, &1, SendOptions::new()).await.expect("send");
    let too_long = pgmq_core::MAX_DELAY + Duration::from_millis(1);
    assert_invalid(
        q.read_json(&name, ReadOptions::new().vt(too_long)).await,
        "visibility timeout",
    );
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!(m.queue_visible_length, 1);
    cleanup(q, &name).await;
}

/// A wait or a polling interval longer than [`MAX_DELAY`](pgmq_core::MAX_DELAY) is
/// `InvalidArgument` (not a panic computing the deadline), and the message stays visible.
pub async fn read_with_a_wait_above_the_maximum_is_rejected(q: &dyn Queue) {
    let name = fresh(q, "longwait").await;
    q.send(&name, &1, SendOptions::new()).await.expect("send");
    assert_invalid(
        q.read_json(&name, ReadOptions::new().wait(Duration::MAX))
            .await,
        "wait",
    );
    let too_long = pgmq_core::MAX_DELAY + Duration::from_millis(1);
    assert_invalid(
        q.read_json(
            &name,
            ReadOptions::new()
                .wait(Duration::from_secs(1))
                .poll_interval(too_long),
        )
        .await,
        "poll interval",
    );
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!(m.queue_visible_length, 1);
    cleanup(q, &name).await;
}

/// A filter returns only messages whose JSON contains it, leaving the rest.
pub async fn read_with_filter_returns_only_matching_messages(q: &dyn Queue) {
    let name = fresh(q, "filter").await;
    let msgs = [
        json!({"kind": "email", "to": "a"}),
        json!({"kind": "sms", "to": "b"}),
        json!({"kind": "email", "to": "c"}),
        json!(["not", "an", "object"]),
    ];
    q.send_batch(&name, &msgs, SendOptions::new())
        .await
        .expect("send");
    let got = read_json(
        q,
        &name,
        ReadOptions::new().qty(10).filter(json!({"kind": "email"})),
    )
    .await;
    let tos: Vec<&Value> = got.iter().map(|m| &m.message["to"]).collect();
    assert_eq!(tos, vec![&json!("a"), &json!("c")]);
    let rest = read_json(q, &name, ReadOptions::new().qty(10)).await;
    assert_eq!(
        rest.len(),
        2,
        "unfiltered read should see the sms and the array"
    );
    cleanup(q, &name).await;
}

/// A read with a wait returns a message sent while it waits, well before the wait ends.
pub async fn read_with_wait_returns_a_message_sent_while_waiting(q: &dyn Queue) {
    let name = fresh(q, "wait").await;
    let started = Instant::now();
    let reader = q.read_json(
        &name,
        ReadOptions::new()
            .wait(Duration::from_secs(10))
            .poll_interval(Duration::from_millis(50)),
    );
    let sender = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        q.send(&name, &json!("hello"), SendOptions::new())
            .await
            .expect("send")
    };
    let (got, id) = tokio::join!(reader, sender);
    let got = got.expect("read with wait");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].msg_id, id);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited {:?}",
        started.elapsed()
    );
    cleanup(q, &name).await;
}

/// A read with a wait on an empty queue returns empty once the wait is over.
pub async fn read_with_wait_returns_empty_after_the_wait(q: &dyn Queue) {
    let name = fresh(q, "waitempty").await;
    let started = Instant::now();
    let got = read_json(
        q,
        &name,
        ReadOptions::new().wait(Duration::from_millis(500)),
    )
    .await;
    let waited = started.elapsed();
    assert!(got.is_empty());
    assert!(
        waited >= Duration::from_millis(500),
        "returned after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "returned after {waited:?}");
    cleanup(q, &name).await;
}

/// Reading or popping a queue that does not exist is `QueueNotFound`.
pub async fn read_of_unknown_queue_is_queue_not_found(q: &dyn Queue) {
    let name = missing("noread");
    assert_not_found(q.read_json(&name, ReadOptions::new()).await, &name);
    assert_not_found(q.pop_json(&name, 1).await, &name);
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Invoice {
    number: u64,
    amount_cents: i64,
}

/// A message read as the wrong type is `Deserialize` naming its `msg_id`; it stays in the
/// queue, the other messages of the read are released, and nothing is lost.
pub async fn read_as_wrong_type_names_the_message_and_keeps_it(q: &dyn Queue) {
    let name = fresh(q, "wrongtype").await;
    let good = q
        .send(
            &name,
            &json!({"number": 1, "amount_cents": 100}),
            SendOptions::new(),
        )
        .await
        .expect("send");
    let bad = q
        .send(&name, &json!({"unexpected": true}), SendOptions::new())
        .await
        .expect("send");
    let opts = ReadOptions::new().qty(10).vt(Duration::from_millis(500));
    match q.read::<Invoice>(&name, opts).await {
        Err(Error::Deserialize { msg_id, .. }) => assert_eq!(msg_id, bad),
        other => panic!("expected Deserialize, got {other:?}"),
    }
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!(m.queue_length, 2, "a message was lost");
    let released = read_json(q, &name, ReadOptions::new().qty(10)).await;
    let ids: Vec<i64> = released.iter().map(|m| m.msg_id).collect();
    assert_eq!(
        ids,
        vec![good],
        "the good message should be released at once"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let later = read_json(q, &name, ReadOptions::new().qty(10)).await;
    assert_eq!(later.len(), 1);
    assert_eq!((later[0].msg_id, later[0].read_ct), (bad, 2));
    cleanup(q, &name).await;
}

/// Four readers draining a queue at once never receive the same message twice.
pub async fn concurrent_readers_never_get_the_same_message(q: &dyn Queue) {
    let name = fresh(q, "concurrent").await;
    let input: Vec<i32> = (0..200).collect();
    q.send_batch(&name, &input, SendOptions::new())
        .await
        .expect("send");
    let reader = |_| async {
        let mut mine = Vec::new();
        loop {
            let got = q
                .read_json(&name, ReadOptions::new().qty(3).vt_secs(60))
                .await
                .expect("read");
            if got.is_empty() {
                return mine;
            }
            mine.extend(got.into_iter().map(|m| m.msg_id));
        }
    };
    let all: Vec<Vec<i64>> = futures_join((0..4).map(reader)).await;
    let total: usize = all.iter().map(Vec::len).sum();
    let unique: HashSet<i64> = all.iter().flatten().copied().collect();
    assert_eq!(total, unique.len(), "a message was delivered twice");
    assert_eq!(unique.len(), input.len(), "a message was never delivered");
    cleanup(q, &name).await;
}
