use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pgmq_core::{
    CreateOptions, Error, Queue, QueueAttributes, QueueExt, ReadOptions, SendOptions, VisibleAt,
    MAX_DELAY, MAX_RETENTION,
};
use serde_json::json;

use super::{assert_invalid, assert_not_found, cleanup, fresh, length, missing};

/// Every attribute, set at once.
fn full(dlq: &pgmq_core::QueueName) -> QueueAttributes {
    QueueAttributes::new()
        .default_vt(Duration::from_secs(45))
        .default_delay(Duration::from_millis(1500))
        .max_message_bytes(4096)
        .archive_retention(Duration::from_secs(7 * 24 * 3600))
        .dead_letter(dlq.clone(), 5)
}

/// A queue starts without attributes; what is set is read back exactly, and setting empty
/// attributes unsets them all.
pub async fn attributes_round_trip_and_start_empty(q: &dyn Queue) {
    let name = fresh(q, "attrs").await;
    let dlq = fresh(q, "attrs_dlq").await;
    assert_eq!(
        q.attributes(&name).await.expect("get"),
        QueueAttributes::new()
    );
    q.set_attributes(&name, full(&dlq)).await.expect("set");
    assert_eq!(q.attributes(&name).await.expect("get"), full(&dlq));
    let fewer = QueueAttributes::new().max_message_bytes(10);
    q.set_attributes(&name, fewer.clone())
        .await
        .expect("replace");
    assert_eq!(q.attributes(&name).await.expect("get"), fewer);
    q.set_attributes(&name, QueueAttributes::new())
        .await
        .expect("unset");
    assert_eq!(
        q.attributes(&name).await.expect("get"),
        QueueAttributes::new()
    );
    cleanup(q, &name).await;
    cleanup(q, &dlq).await;
}

/// Attributes given to `create` are set with the queue; dropping the queue removes them.
pub async fn create_with_attributes_sets_them_and_drop_removes_them(q: &dyn Queue) {
    let dlq = fresh(q, "cattrs_dlq").await;
    let name = crate::unique_queue_name("cattrs");
    q.create(&name, CreateOptions::new().attributes(full(&dlq)))
        .await
        .expect("create with attributes");
    assert_eq!(q.attributes(&name).await.expect("get"), full(&dlq));
    cleanup(q, &name).await;
    q.create(&name, CreateOptions::new()).await.expect("again");
    assert_eq!(
        q.attributes(&name).await.expect("get"),
        QueueAttributes::new(),
        "a dropped queue's attributes came back"
    );
    cleanup(q, &name).await;
    cleanup(q, &dlq).await;
}

/// Reading or setting the attributes of a queue that does not exist is `QueueNotFound`.
pub async fn attributes_of_unknown_queue_is_queue_not_found(q: &dyn Queue) {
    let name = missing("attrsnone");
    assert_not_found(q.attributes(&name).await, &name);
    assert_not_found(q.set_attributes(&name, QueueAttributes::new()).await, &name);
}

/// Bad attributes are typed errors and change nothing: a size of 0, a receive count of 0,
/// spans over their limits, the queue as its own dead-letter queue, a dead-letter queue that
/// does not exist, and one that would close a cycle.
pub async fn invalid_attributes_are_rejected_and_change_nothing(q: &dyn Queue) {
    let a = fresh(q, "badattr_a").await;
    let b = fresh(q, "badattr_b").await;
    let kept = QueueAttributes::new().default_vt(Duration::from_secs(7));
    q.set_attributes(&a, kept.clone()).await.expect("set");
    let over = MAX_DELAY + Duration::from_millis(1);
    let bad = [
        (
            QueueAttributes::new().max_message_bytes(0),
            "maximum message size",
        ),
        (
            QueueAttributes::new().dead_letter(b.clone(), 0),
            "maximum receive count",
        ),
        (
            QueueAttributes::new().default_vt(over),
            "default visibility timeout",
        ),
        (QueueAttributes::new().default_delay(over), "default delay"),
        (
            QueueAttributes::new().archive_retention(MAX_RETENTION + Duration::from_millis(1)),
            "archive retention",
        ),
        (
            QueueAttributes::new().dead_letter(a.clone(), 3),
            "dead-letter queue",
        ),
    ];
    for (attributes, argument) in bad {
        assert_invalid(q.set_attributes(&a, attributes).await, argument);
    }
    let nowhere = missing("badattr_none");
    match q
        .set_attributes(&a, QueueAttributes::new().dead_letter(nowhere, 3))
        .await
    {
        Err(Error::InvalidAttributes { reason, .. }) => assert!(reason.contains("does not exist")),
        other => {
            panic!("expected InvalidAttributes for a missing dead-letter queue, got {other:?}")
        }
    }
    q.set_attributes(&b, QueueAttributes::new().dead_letter(a.clone(), 3))
        .await
        .expect("b dead-letters into a");
    match q
        .set_attributes(&a, QueueAttributes::new().dead_letter(b.clone(), 3))
        .await
    {
        Err(Error::InvalidAttributes { reason, .. }) => assert!(reason.contains("cycle")),
        other => panic!("expected InvalidAttributes for a cycle, got {other:?}"),
    }
    assert_eq!(
        q.attributes(&a).await.expect("get"),
        kept,
        "a bad set changed something"
    );
    cleanup(q, &b).await;
    cleanup(q, &a).await;
}

/// A read that gives no visibility timeout uses the queue's default; one that gives one uses
/// its own.
pub async fn default_visibility_timeout_applies_when_a_read_gives_none(q: &dyn Queue) {
    let name = fresh(q, "defvt").await;
    let attributes = QueueAttributes::new().default_vt(Duration::from_secs(3600));
    q.set_attributes(&name, attributes).await.expect("set");
    q.send_batch(&name, &[1, 2], SendOptions::new())
        .await
        .expect("send");
    let before = Utc::now();
    let got = q.read_json(&name, ReadOptions::new()).await.expect("read");
    assert!(
        got[0].vt > before + TimeDelta::minutes(59),
        "default vt not applied: {}",
        got[0].vt
    );
    let got = q
        .read_json(&name, ReadOptions::new().vt_secs(10))
        .await
        .expect("read");
    assert!(
        got[0].vt < before + TimeDelta::minutes(1),
        "the call's vt was overridden"
    );
    cleanup(q, &name).await;
}

/// A send that gives no delay uses the queue's default; one that gives one (even zero) uses
/// its own.
pub async fn default_delay_applies_when_a_send_gives_none(q: &dyn Queue) {
    let name = fresh(q, "defdelay").await;
    let attributes = QueueAttributes::new().default_delay(Duration::from_secs(3600));
    q.set_attributes(&name, attributes).await.expect("set");
    q.send(&name, &json!("later"), SendOptions::new())
        .await
        .expect("send");
    q.send_batch(&name, &[json!("later too")], SendOptions::new())
        .await
        .expect("send batch");
    let now = q
        .send(
            &name,
            &json!("now"),
            SendOptions::new().delay(VisibleAt::now()),
        )
        .await
        .expect("send now");
    let got = q
        .read_json(&name, ReadOptions::new().qty(10))
        .await
        .expect("read");
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [now]);
    assert_eq!(length(q, &name).await, 3);
    cleanup(q, &name).await;
}

/// A message over the maximum size is `MessageTooLarge` naming it, and nothing is written:
/// for a batch, nothing of the batch.
pub async fn a_message_over_the_maximum_size_is_rejected_and_nothing_written(q: &dyn Queue) {
    let name = fresh(q, "maxsize").await;
    let attributes = QueueAttributes::new().max_message_bytes(64);
    q.set_attributes(&name, attributes).await.expect("set");
    let small = json!({"n": 1});
    let big = json!({"text": "x".repeat(100)});
    q.send(&name, &small, SendOptions::new())
        .await
        .expect("small");
    match q.send(&name, &big, SendOptions::new()).await {
        Err(Error::MessageTooLarge { index, size, limit }) => {
            assert_eq!((index, limit), (0, 64));
            assert!(size > 100, "size {size}");
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    match q
        .send_batch(&name, &[small.clone(), big, small], SendOptions::new())
        .await
    {
        Err(Error::MessageTooLarge { index, .. }) => assert_eq!(index, 1),
        other => panic!("expected MessageTooLarge for the batch, got {other:?}"),
    }
    assert_eq!(length(q, &name).await, 1, "a rejected send wrote something");
    cleanup(q, &name).await;
}

/// `trim_archive` deletes the archived messages older than the retention, and only those;
/// without a retention it deletes nothing.
pub async fn trim_archive_deletes_only_what_is_older_than_the_retention(q: &dyn Queue) {
    let name = fresh(q, "trim").await;
    let old = q
        .send_batch(&name, &[1, 2, 3], SendOptions::new())
        .await
        .expect("send");
    q.archive_batch(&name, &old).await.expect("archive");
    assert_eq!(q.trim_archive(&name).await.expect("no retention"), 0);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let recent = q.send(&name, &4, SendOptions::new()).await.expect("send");
    q.archive(&name, recent).await.expect("archive");
    let attributes = QueueAttributes::new().archive_retention(Duration::from_secs(1));
    q.set_attributes(&name, attributes).await.expect("set");
    assert_eq!(q.trim_archive(&name).await.expect("trim"), 3);
    let all = [old, vec![recent]].concat();
    let left: Vec<i64> = q
        .read_archive(&name, &all)
        .await
        .expect("read archive")
        .iter()
        .map(|a| a.message.msg_id)
        .collect();
    assert_eq!(left, [recent]);
    let nowhere = missing("trimnone");
    assert_not_found(q.trim_archive(&nowhere).await, &nowhere);
    cleanup(q, &name).await;
}
