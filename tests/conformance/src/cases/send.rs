use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pgmq_core::{Error, Message, Queue, QueueExt, ReadOptions, SendOptions, MAX_BATCH};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{assert_invalid, assert_not_found, cleanup, fresh, length, missing};

async fn read_all(q: &dyn Queue, name: &pgmq_core::QueueName) -> Vec<Message> {
    q.read(name, ReadOptions::new().qty(MAX_BATCH))
        .await
        .expect("read")
}

/// Each send returns a new id, larger than the one before.
pub async fn send_returns_increasing_ids(q: &dyn Queue) {
    let name = fresh(q, "ids").await;
    let mut last = 0;
    for i in 0..5 {
        let id = q
            .send(&name, &json!({ "i": i }), SendOptions::new())
            .await
            .expect("send");
        assert!(id > last, "id {id} not above {last}");
        last = id;
    }
    assert_eq!(length(q, &name).await, 5);
    cleanup(q, &name).await;
}

/// Sending to a queue that does not exist is `QueueNotFound` naming it.
pub async fn send_to_unknown_queue_is_queue_not_found(q: &dyn Queue) {
    let name = missing("nosend");
    assert_not_found(q.send(&name, &json!(1), SendOptions::new()).await, &name);
    assert_not_found(
        q.send_batch(&name, &[1, 2], SendOptions::new()).await,
        &name,
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    lines: Vec<(String, u32)>,
    note: Option<String>,
}

/// Structs, strings, numbers, arrays, null and unicode all come back exactly as sent.
pub async fn send_round_trips_every_json_shape(q: &dyn Queue) {
    let name = fresh(q, "shapes").await;
    let order = Order {
        id: 7,
        customer: "Zoë \"quoted\" 'single' ✓".into(),
        lines: vec![("widget".into(), 3)],
        note: None,
    };
    q.send(&name, &order, SendOptions::new())
        .await
        .expect("send struct");
    let got: Vec<Message<Order>> = q
        .read(&name, ReadOptions::new())
        .await
        .expect("read struct");
    assert_eq!(got[0].message, order);
    let shapes = [
        json!("text"),
        json!(42),
        json!(1.5),
        json!([1, "a", null]),
        Value::Null,
        json!({}),
    ];
    for v in &shapes {
        q.send(&name, v, SendOptions::new())
            .await
            .expect("send shape");
    }
    let got: Vec<Value> = read_all(q, &name)
        .await
        .into_iter()
        .map(|m| m.message)
        .collect();
    assert_eq!(got, shapes);
    cleanup(q, &name).await;
}

/// Headers sent with a message come back with it; without headers they are `None`.
pub async fn send_with_headers_round_trips_them(q: &dyn Queue) {
    let name = fresh(q, "headers").await;
    let headers = json!({"trace_id": "abc", "attempt": 1});
    q.send(
        &name,
        &json!(1),
        SendOptions::new().headers(headers.clone()),
    )
    .await
    .expect("send");
    q.send(&name, &json!(2), SendOptions::new())
        .await
        .expect("send plain");
    let got = read_all(q, &name).await;
    assert_eq!(got[0].headers, Some(headers));
    assert_eq!(got[1].headers, None);
    cleanup(q, &name).await;
}

/// A delay in seconds hides the message until it is due.
pub async fn send_with_delay_in_seconds_hides_the_message_until_due(q: &dyn Queue) {
    let name = fresh(q, "delay").await;
    let id = q
        .send(&name, &json!(1), SendOptions::new().delay_secs(1))
        .await
        .expect("send");
    assert!(
        read_all(q, &name).await.is_empty(),
        "visible before its delay"
    );
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!((m.queue_length, m.queue_visible_length), (1, 0));
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let got = read_all(q, &name).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].msg_id, id);
    cleanup(q, &name).await;
}

/// A delay until an instant hides the message until then; an instant in the past is now.
pub async fn send_with_delay_until_a_timestamp_hides_the_message_until_due(q: &dyn Queue) {
    let name = fresh(q, "delayts").await;
    let due = Utc::now() + TimeDelta::milliseconds(800);
    q.send(&name, &json!("later"), SendOptions::new().delay(due))
        .await
        .expect("send");
    q.send(
        &name,
        &json!("past"),
        SendOptions::new().delay(Utc::now() - TimeDelta::hours(1)),
    )
    .await
    .expect("send past");
    let now: Vec<Value> = read_all(q, &name)
        .await
        .into_iter()
        .map(|m| m.message)
        .collect();
    assert_eq!(now, vec![json!("past")]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let later = read_all(q, &name).await;
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].message, json!("later"));
    cleanup(q, &name).await;
}

/// A delay longer than [`MAX_DELAY`](pgmq_core::MAX_DELAY) is `InvalidArgument` and nothing
/// is written. (A negative span cannot be written: spans are `Duration`s.)
pub async fn send_with_delay_above_the_maximum_is_rejected_and_writes_nothing(q: &dyn Queue) {
    let name = fresh(q, "longdelay").await;
    let too_long = pgmq_core::MAX_DELAY + Duration::from_millis(1);
    assert_invalid(
        q.send(&name, &json!(1), SendOptions::new().delay(too_long))
            .await,
        "delay",
    );
    assert_invalid(
        q.send_batch(&name, &[1, 2], SendOptions::new().delay_secs(u64::MAX))
            .await,
        "delay",
    );
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
}

/// A string holding U+0000 (which jsonb cannot store) is rejected with its position; a batch
/// holding one writes nothing.
pub async fn send_of_nul_character_is_rejected_and_writes_nothing(q: &dyn Queue) {
    let name = fresh(q, "nul").await;
    match q
        .send(&name, &json!({"k": "a\u{0}b"}), SendOptions::new())
        .await
    {
        Err(Error::InvalidMessage { index: 0, .. }) => {}
        other => panic!("expected InvalidMessage, got {other:?}"),
    }
    let batch = [json!("ok"), json!(["fine", "bad\u{0}"]), json!("ok")];
    match q.send_batch(&name, &batch, SendOptions::new()).await {
        Err(Error::InvalidMessage { index: 1, .. }) => {}
        other => panic!("expected InvalidMessage at 1, got {other:?}"),
    }
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
}

/// Batch ids come back in input order, and reads return the messages in that order.
pub async fn send_batch_returns_ids_in_input_order(q: &dyn Queue) {
    let name = fresh(q, "batch").await;
    let input: Vec<Value> = (0..50).map(|i| json!({ "seq": i })).collect();
    let ids = q
        .send_batch(&name, &input, SendOptions::new())
        .await
        .expect("send_batch");
    assert_eq!(ids.len(), input.len());
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids not ascending: {ids:?}"
    );
    let got = read_all(q, &name).await;
    let got_ids: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
    assert_eq!(got_ids, ids);
    let got_msgs: Vec<Value> = got.into_iter().map(|m| m.message).collect();
    assert_eq!(got_msgs, input);
    cleanup(q, &name).await;
}

/// A batch's delay and headers apply to every message in it.
pub async fn send_batch_applies_delay_and_headers_to_every_message(q: &dyn Queue) {
    let name = fresh(q, "batchopts").await;
    let headers = json!({"source": "batch"});
    let opts = SendOptions::new()
        .headers(headers.clone())
        .delay(Duration::from_millis(700));
    q.send_batch(&name, &["a", "b", "c"], opts)
        .await
        .expect("send_batch");
    assert!(
        read_all(q, &name).await.is_empty(),
        "batch visible before its delay"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let got = read_all(q, &name).await;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|m| m.headers.as_ref() == Some(&headers)));
    cleanup(q, &name).await;
}

/// An empty batch returns no ids and never reaches the database (here: a queue that does not
/// even exist answers `Ok`).
pub async fn send_batch_of_nothing_returns_nothing_without_touching_the_database(q: &dyn Queue) {
    let name = missing("emptybatch");
    let none: [Value; 0] = [];
    let ids = q
        .send_batch(&name, &none, SendOptions::new())
        .await
        .expect("empty batch");
    assert!(ids.is_empty());
}

/// A batch above `MAX_BATCH` is `InvalidArgument` and writes nothing.
pub async fn send_batch_above_the_maximum_is_rejected_and_writes_nothing(q: &dyn Queue) {
    let name = fresh(q, "bigbatch").await;
    let too_many: Vec<u32> = (0..=MAX_BATCH as u32).collect();
    assert_invalid(
        q.send_batch(&name, &too_many, SendOptions::new()).await,
        "batch size",
    );
    assert_eq!(length(q, &name).await, 0);
    let max: Vec<u32> = (0..MAX_BATCH as u32).collect();
    assert_eq!(
        q.send_batch(&name, &max, SendOptions::new())
            .await
            .expect("max batch")
            .len(),
        MAX_BATCH
    );
    cleanup(q, &name).await;
}

/// Serializes fine except when `fail` is set.
struct Fussy {
    fail: bool,
}

impl Serialize for Fussy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.fail {
            return Err(serde::ser::Error::custom(
                "this message refuses to serialize",
            ));
        }
        s.serialize_str("fine")
    }
}

/// One message that fails to serialize fails the whole batch: `Serialize`, nothing written.
pub async fn send_batch_with_one_unserializable_message_writes_nothing(q: &dyn Queue) {
    let name = fresh(q, "badbatch").await;
    let batch = [
        Fussy { fail: false },
        Fussy { fail: true },
        Fussy { fail: false },
    ];
    match q.send_batch(&name, &batch, SendOptions::new()).await {
        Err(Error::Serialize { .. }) => {}
        other => panic!("expected Serialize, got {other:?}"),
    }
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
}
