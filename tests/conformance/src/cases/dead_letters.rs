use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgmq_core::{
    Error, Message, Queue, QueueAttributes, QueueExt, QueueName, ReadOptions, RedriveOptions,
    SendOptions, VisibleAt, DEAD_LETTER_ORIGINAL_ID, DEAD_LETTER_RECEIVE_COUNT, DEAD_LETTER_SOURCE,
};
use serde_json::{json, Value};

use super::lifecycle::futures_join;
use super::{assert_invalid, assert_not_found, cleanup, fresh, length, missing};

/// A queue dead-lettering into a fresh dead-letter queue after `max` receives.
async fn with_dlq(q: &dyn Queue, tag: &str, max: u32) -> (QueueName, QueueName) {
    let dlq = fresh(q, &format!("{tag}_dlq")).await;
    let name = fresh(q, tag).await;
    q.set_attributes(&name, QueueAttributes::new().dead_letter(dlq.clone(), max))
        .await
        .expect("set dead-letter policy");
    (name, dlq)
}

/// Reads everything visible, then makes it visible again at once (a failed handler).
async fn receive_and_fail(q: &dyn Queue, name: &QueueName) -> Vec<Message> {
    let got = q
        .read_json(name, ReadOptions::new().qty(100).vt_secs(60))
        .await
        .expect("read");
    let ids: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
    q.set_vt_batch(name, &ids, VisibleAt::now())
        .await
        .expect("release");
    got
}

/// Every message in `name`, by reading them all (for a check at the end of a case).
async fn drain(q: &dyn Queue, name: &QueueName) -> Vec<Message> {
    q.read_json(name, ReadOptions::new().qty(1000).vt_secs(60))
        .await
        .expect("read")
}

fn header<'a>(m: &'a Message, key: &str) -> &'a Value {
    m.headers
        .as_ref()
        .and_then(|h| h.get(key))
        .unwrap_or_else(|| panic!("dead letter lacks {key}: {:?}", m.headers))
}

/// With a maximum receive count of 2, the third read does not return the message: it moves,
/// in that read, to the dead-letter queue, with its body, its headers, and its origin in
/// `x-pgmq-dead-letter-*` headers. The dead-letter queue is an ordinary queue.
pub async fn a_message_is_dead_lettered_on_the_read_that_exceeds_the_count(q: &dyn Queue) {
    let (name, dlq) = with_dlq(q, "dl", 2).await;
    let id = q
        .send(
            &name,
            &json!({"job": 7}),
            SendOptions::new().headers(json!({"trace": "t-1"})),
        )
        .await
        .expect("send");
    for round in 1..=2 {
        let got = receive_and_fail(q, &name).await;
        assert_eq!(got.len(), 1, "receive {round} should hand the message out");
        assert_eq!(got[0].read_ct, round);
    }
    assert_eq!(length(q, &dlq).await, 0, "dead-lettered too early");
    let third = q.read_json(&name, ReadOptions::new()).await.expect("read");
    assert!(
        third.is_empty(),
        "the read past the count handed it out: {third:?}"
    );
    assert_eq!(length(q, &name).await, 0, "still in the source queue");
    let dead = drain(q, &dlq).await;
    assert_eq!(dead.len(), 1);
    let m = &dead[0];
    assert_eq!(m.message, json!({"job": 7}));
    assert_eq!(header(m, "trace"), &json!("t-1"));
    assert_eq!(header(m, DEAD_LETTER_SOURCE), &json!(name.as_str()));
    assert_eq!(header(m, DEAD_LETTER_ORIGINAL_ID), &json!(id));
    assert_eq!(header(m, DEAD_LETTER_RECEIVE_COUNT), &json!(2));
    assert_eq!(
        q.metrics(&name)
            .await
            .expect("metrics")
            .dead_letter_queue_length,
        Some(1)
    );
    cleanup(q, &name).await;
    cleanup(q, &dlq).await;
}

/// A read whose claim meets a message past its count dead-letters it and still returns the
/// next visible message, so a batch is short only when the queue is.
pub async fn a_read_that_dead_letters_still_returns_the_next_message(q: &dyn Queue) {
    let (name, dlq) = with_dlq(q, "dlfill", 1).await;
    let old = q
        .send(&name, &json!("old"), SendOptions::new())
        .await
        .expect("send");
    receive_and_fail(q, &name).await;
    let new = q
        .send(&name, &json!("new"), SendOptions::new())
        .await
        .expect("send");
    let got = q.read_json(&name, ReadOptions::new()).await.expect("read");
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [new]);
    let dead = drain(q, &dlq).await;
    assert_eq!(header(&dead[0], DEAD_LETTER_ORIGINAL_ID), &json!(old));
    cleanup(q, &name).await;
    cleanup(q, &dlq).await;
}

/// Readers racing over messages at the threshold: none of them gets any, and each message
/// lands in the dead-letter queue exactly once.
pub async fn concurrent_readers_at_the_threshold_never_get_a_dead_letter(q: &dyn Queue) {
    let (name, dlq) = with_dlq(q, "dlrace", 1).await;
    let ids = q
        .send_batch(&name, &(0..40).collect::<Vec<_>>(), SendOptions::new())
        .await
        .expect("send");
    assert_eq!(receive_and_fail(q, &name).await.len(), 40);
    let reads = (0..8).map(|_| q.read_json(&name, ReadOptions::new().qty(7)));
    for got in futures_join(reads).await {
        let got = got.expect("read");
        assert!(
            got.is_empty(),
            "a reader got a message past its count: {got:?}"
        );
    }
    // What the racing reads left behind (a claim may have been skipped) moves on the next read.
    assert!(q
        .read_json(&name, ReadOptions::new().qty(40))
        .await
        .expect("read")
        .is_empty());
    let dead = drain(q, &dlq).await;
    let originals: HashSet<i64> = dead
        .iter()
        .map(|m| header(m, DEAD_LETTER_ORIGINAL_ID).as_i64().expect("an id"))
        .collect();
    assert_eq!(dead.len(), 40, "dead-lettered more or fewer than sent");
    assert_eq!(
        originals,
        ids.into_iter().collect(),
        "a message was duplicated or lost"
    );
    cleanup(q, &name).await;
    cleanup(q, &dlq).await;
}

/// Dead-letters `n` messages (bodies `0..n`, offset by `from`) from `name` into its
/// dead-letter queue.
async fn dead_letter_some(q: &dyn Queue, name: &QueueName, from: i64, n: i64) {
    let bodies: Vec<i64> = (from..from + n).collect();
    q.send_batch(
        name,
        &bodies,
        SendOptions::new().headers(json!({"k": from})),
    )
    .await
    .expect("send");
    receive_and_fail(q, name).await;
    assert!(q
        .read_json(name, ReadOptions::new().qty(100))
        .await
        .expect("read")
        .is_empty());
}

fn bodies(messages: &[Message]) -> Vec<i64> {
    let mut b: Vec<i64> = messages.iter().filter_map(|m| m.message.as_i64()).collect();
    b.sort_unstable();
    b
}

/// `redrive` moves every dead letter back to the queue it came from, with its original
/// headers, reporting progress after each chunk.
pub async fn redrive_moves_dead_letters_back_to_their_sources(q: &dyn Queue) {
    let (a, dlq) = with_dlq(q, "rda", 1).await;
    let b = fresh(q, "rdb").await;
    q.set_attributes(&b, QueueAttributes::new().dead_letter(dlq.clone(), 1))
        .await
        .expect("b into the same dead-letter queue");
    dead_letter_some(q, &a, 0, 3).await;
    dead_letter_some(q, &b, 100, 2).await;
    assert_eq!(length(q, &dlq).await, 5);
    let seen = Arc::new(AtomicU64::new(0));
    let progress = Arc::clone(&seen);
    let options = RedriveOptions::new()
        .chunk(2)
        .progress(move |n| progress.store(n, Ordering::SeqCst));
    assert_eq!(q.redrive(&dlq, options).await.expect("redrive"), 5);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        5,
        "progress did not reach the total"
    );
    assert_eq!(length(q, &dlq).await, 0);
    let back_a = drain(q, &a).await;
    assert_eq!(bodies(&back_a), [0, 1, 2]);
    assert_eq!(
        back_a[0].headers,
        Some(json!({"k": 0})),
        "headers not restored"
    );
    assert_eq!(back_a[0].read_ct, 1, "a redriven message starts over");
    assert_eq!(bodies(&drain(q, &b).await), [100, 101]);
    cleanup(q, &a).await;
    cleanup(q, &b).await;
    cleanup(q, &dlq).await;
}

/// A redrive stopped halfway (here by `max`) and run again moves every dead letter exactly
/// once: nothing lost, nothing duplicated.
pub async fn redrive_interrupted_halfway_then_resumed_loses_and_duplicates_nothing(q: &dyn Queue) {
    let (name, dlq) = with_dlq(q, "rdhalf", 1).await;
    dead_letter_some(q, &name, 0, 10).await;
    let first = q
        .redrive(&dlq, RedriveOptions::new().max(4).chunk(3))
        .await
        .expect("first half");
    assert_eq!(first, 4);
    assert_eq!((length(q, &name).await, length(q, &dlq).await), (4, 6));
    let rest = q
        .redrive(&dlq, RedriveOptions::new())
        .await
        .expect("the rest");
    assert_eq!(rest, 6);
    assert_eq!(bodies(&drain(q, &name).await), (0..10).collect::<Vec<_>>());
    assert_eq!(length(q, &dlq).await, 0);
    cleanup(q, &name).await;
    cleanup(q, &dlq).await;
}

/// `redrive` to a named queue moves every dead letter there, at most `per_second` a second.
pub async fn redrive_to_a_named_queue_honours_the_rate(q: &dyn Queue) {
    let (name, dlq) = with_dlq(q, "rdto", 1).await;
    let other = fresh(q, "rdto_other").await;
    dead_letter_some(q, &name, 0, 6).await;
    let started = Instant::now();
    let options = RedriveOptions::new()
        .to(other.clone())
        .per_second(10)
        .chunk(2);
    assert_eq!(q.redrive(&dlq, options).await.expect("redrive"), 6);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "6 messages at 10/s took only {:?}",
        started.elapsed()
    );
    assert_eq!(bodies(&drain(q, &other).await), (0..6).collect::<Vec<_>>());
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
    cleanup(q, &other).await;
    cleanup(q, &dlq).await;
}

/// Redriving an unknown queue, or to one, is `QueueNotFound`; a bad chunk or rate is
/// `InvalidArgument`. Nothing moves.
pub async fn redrive_bad_input_is_rejected_and_moves_nothing(q: &dyn Queue) {
    let (name, dlq) = with_dlq(q, "rdbad", 1).await;
    dead_letter_some(q, &name, 0, 2).await;
    let nowhere = missing("rdnone");
    assert_not_found(q.redrive(&nowhere, RedriveOptions::new()).await, &nowhere);
    let to_nowhere = RedriveOptions::new().to(nowhere.clone());
    assert_not_found(q.redrive(&dlq, to_nowhere).await, &nowhere);
    assert_invalid(
        q.redrive(&dlq, RedriveOptions::new().chunk(0)).await,
        "redrive chunk",
    );
    assert_invalid(
        q.redrive(&dlq, RedriveOptions::new().per_second(0)).await,
        "redrive rate",
    );
    assert_eq!(length(q, &dlq).await, 2);
    match q.drop_queue(&dlq).await {
        Err(Error::Database { .. }) => {}
        other => panic!("dropping a dead-letter queue in use should fail, got {other:?}"),
    }
    cleanup(q, &name).await;
    cleanup(q, &dlq).await;
}
