use chrono::{TimeDelta, Utc};
use pgmq_core::{Queue, QueueAttributes, QueueExt, ReadOptions, SendOptions, VisibleAt, MAX_BATCH};
use serde_json::json;

use super::{assert_invalid, assert_not_found, cleanup, fresh, length, missing};

/// Peek returns visible messages in the order a read would claim them (the one visible
/// first comes first, not the lowest id), at most `qty`, and claims nothing: `read_ct`, `vt`
/// and `last_read_at` are unchanged, peeking again sees the same, and a read afterwards gets
/// the same first message with `read_ct` 1.
pub async fn peek_returns_visible_messages_in_read_order_without_claiming_them(q: &dyn Queue) {
    let name = fresh(q, "peek").await;
    let ids = q
        .send_batch(
            &name,
            &[json!("a"), json!("b"), json!("c")],
            SendOptions::new(),
        )
        .await
        .expect("send");
    // The last message has been visible for an hour: it comes first for a read, and so here.
    let an_hour_ago = Utc::now() - TimeDelta::hours(1);
    q.set_vt(&name, ids[2], VisibleAt::At(an_hour_ago))
        .await
        .expect("set_vt")
        .expect("message exists");
    let peeked = q.peek(&name, 10).await.expect("peek");
    let order: Vec<i64> = peeked.iter().map(|m| m.msg_id).collect();
    assert_eq!(order, vec![ids[2], ids[0], ids[1]], "peek order");
    assert_eq!(peeked[1].message, json!("a"));
    for m in &peeked {
        assert_eq!(m.read_ct, 0, "peek counted a read: {m:?}");
        assert!(m.last_read_at.is_none(), "peek set last_read_at: {m:?}");
    }
    let first_two = q.peek(&name, 2).await.expect("peek");
    assert_eq!(first_two, peeked[..2], "a second peek saw something else");
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!((m.queue_visible_length, m.queue_in_flight_length), (3, 0));
    let read = q
        .read_json(&name, ReadOptions::new().vt_secs(60))
        .await
        .expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!((read[0].msg_id, read[0].read_ct), (ids[2], 1));
    cleanup(q, &name).await;
}

/// Delayed and in-flight messages are not visible, so peek leaves them out.
pub async fn peek_skips_delayed_and_in_flight_messages(q: &dyn Queue) {
    let name = fresh(q, "peekhidden").await;
    q.send(&name, &json!("later"), SendOptions::new().delay_secs(60))
        .await
        .expect("send delayed");
    let in_flight = q
        .send(&name, &json!("held"), SendOptions::new())
        .await
        .expect("send");
    let visible = q
        .send(&name, &json!("free"), SendOptions::new())
        .await
        .expect("send");
    let read = q
        .read_json(&name, ReadOptions::new().vt_secs(60))
        .await
        .expect("read");
    assert_eq!(read[0].msg_id, in_flight);
    let peeked = q.peek(&name, 10).await.expect("peek");
    let ids: Vec<i64> = peeked.iter().map(|m| m.msg_id).collect();
    assert_eq!(ids, vec![visible]);
    assert_eq!(length(q, &name).await, 3);
    cleanup(q, &name).await;
}

/// Peek does not apply the dead-letter policy: a message past its receive count shows, and
/// stays in its queue, until a read moves it.
pub async fn peek_shows_a_message_past_its_receive_count_without_moving_it(q: &dyn Queue) {
    let dlq = fresh(q, "peek_dlq").await;
    let name = fresh(q, "peekdl").await;
    q.set_attributes(&name, QueueAttributes::new().dead_letter(dlq.clone(), 1))
        .await
        .expect("set dead-letter policy");
    let id = q
        .send(&name, &json!("poison"), SendOptions::new())
        .await
        .expect("send");
    let read = q
        .read_json(&name, ReadOptions::new().vt_secs(60))
        .await
        .expect("read");
    q.set_vt(&name, read[0].msg_id, VisibleAt::now())
        .await
        .expect("release");
    let peeked = q.peek(&name, 10).await.expect("peek");
    assert_eq!(peeked.len(), 1);
    assert_eq!((peeked[0].msg_id, peeked[0].read_ct), (id, 1));
    assert_eq!(length(q, &dlq).await, 0, "peek dead-lettered the message");
    assert_eq!(length(q, &name).await, 1);
    cleanup(q, &name).await;
    cleanup(q, &dlq).await;
}

/// Peeking a queue that does not exist is `QueueNotFound`.
pub async fn peek_of_unknown_queue_is_queue_not_found(q: &dyn Queue) {
    let name = missing("nopeek");
    assert_not_found(q.peek(&name, 1).await, &name);
}

/// A quantity of 0 or above `MAX_BATCH` is `InvalidArgument`.
pub async fn peek_with_quantity_outside_the_limits_is_rejected(q: &dyn Queue) {
    let name = fresh(q, "peekqty").await;
    q.send(&name, &1, SendOptions::new()).await.expect("send");
    assert_invalid(q.peek(&name, 0).await, "quantity");
    assert_invalid(q.peek(&name, MAX_BATCH + 1).await, "quantity");
    assert_eq!(q.peek(&name, MAX_BATCH).await.expect("peek").len(), 1);
    cleanup(q, &name).await;
}
