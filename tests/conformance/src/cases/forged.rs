//! Forged receipts, and receipts used on the wrong queue. (A receipt for a message deleted
//! or far past the last id, and one from before a later read, are in `receipts.rs`.)

use pgmq_core::{Fence, Queue, QueueExt, QueueName, ReadOptions, Receipt, SendOptions, VisibleAt};
use serde_json::json;

use super::{cleanup, fresh, length};

/// Every receipt operation, single and batch, answers each of `receipts` stale on `name`.
async fn assert_all_stale(q: &dyn Queue, name: &QueueName, receipts: &[Receipt]) {
    for &r in receipts {
        assert_eq!(
            q.delete_receipt(name, r).await.expect("delete"),
            Fence::Stale,
            "{r:?}"
        );
        assert_eq!(
            q.archive_receipt(name, r).await.expect("archive"),
            Fence::Stale,
            "{r:?}"
        );
        for vt in [VisibleAt::now(), VisibleAt::secs(3600)] {
            let moved = q.set_vt_receipt(name, r, vt).await.expect("set_vt");
            assert!(moved.is_none(), "{r:?} moved {moved:?}");
        }
    }
    let stale = vec![Fence::Stale; receipts.len()];
    assert_eq!(
        q.delete_receipts(name, receipts).await.expect("delete"),
        stale
    );
    assert_eq!(
        q.archive_receipts(name, receipts).await.expect("archive"),
        stale
    );
    for vt in [VisibleAt::now(), VisibleAt::secs(3600)] {
        let moved = q.set_vt_receipts(name, receipts, vt).await.expect("set_vt");
        assert!(moved.iter().all(Option::is_none), "{moved:?}");
    }
}

/// Receipts no read handed out are stale for delete, archive and set_vt, singly and in a
/// batch, and change nothing: for a message read once, read counts of 0, -1, `i32::MIN`, 2
/// and `i32::MAX`; for a message never read (its `read_ct` is 0), 0, -1, 1 and `i32::MAX`;
/// and ids 0, -1, `i64::MIN` and `i64::MAX`. The read message stays hidden, the unread one
/// visible and unread, nothing is archived, and the genuine receipt still acts.
pub async fn forged_receipts_are_stale_and_change_nothing(q: &dyn Queue) {
    let name = fresh(q, "forged").await;
    let read = q
        .send(&name, &json!("read"), SendOptions::new())
        .await
        .expect("send");
    let got = q
        .read_json(&name, ReadOptions::new().vt_secs(60))
        .await
        .expect("read");
    assert_eq!(got[0].receipt(), Receipt::new(read, 1));
    let unread = q
        .send(&name, &json!("unread"), SendOptions::new())
        .await
        .expect("send");
    let mut forged: Vec<Receipt> = [0, -1, i32::MIN, 2, i32::MAX]
        .map(|ct| Receipt::new(read, ct))
        .into();
    forged.extend([0, -1, 1, i32::MAX].map(|ct| Receipt::new(unread, ct)));
    forged.extend([0, -1, i64::MIN, i64::MAX].map(|id| Receipt::new(id, 1)));
    forged.push(Receipt::new(i64::MAX, i32::MAX));
    assert_all_stale(q, &name, &forged).await;

    assert_eq!(
        length(q, &name).await,
        2,
        "a forged receipt removed a message"
    );
    let archived = q
        .read_archive(&name, &[read, unread])
        .await
        .expect("read_archive");
    assert!(
        archived.is_empty(),
        "a forged receipt archived {archived:?}"
    );
    let visible = q.peek(&name, 10).await.expect("peek");
    let seen: Vec<_> = visible.iter().map(|m| (m.msg_id, m.read_ct)).collect();
    assert_eq!(seen, [(unread, 0)], "a forged set_vt moved a message");
    let genuine = q.delete_receipt(&name, Receipt::new(read, 1)).await;
    assert_eq!(genuine.expect("delete"), Fence::Acted);
    cleanup(q, &name).await;
}

/// A receipt names no queue, so one from queue A used on queue B must not match there: on
/// B, whose message has A's id but another read count, and for an id B does not have, it is
/// stale for every operation and leaves B's message claimed and unarchived; back on A the
/// same receipts still act.
pub async fn a_receipt_from_another_queue_is_stale_and_leaves_both_queues_alone(q: &dyn Queue) {
    let (a, b) = (fresh(q, "rcpt_a").await, fresh(q, "rcpt_b").await);
    let ids_a = q
        .send_batch(&a, &[1, 2], SendOptions::new())
        .await
        .expect("send a");
    let from_a: Vec<Receipt> = q
        .read_json(&a, ReadOptions::new().vt_secs(60).qty(2))
        .await
        .expect("read a")
        .iter()
        .map(|m| m.receipt())
        .collect();
    assert_eq!(
        from_a,
        [Receipt::new(ids_a[0], 1), Receipt::new(ids_a[1], 1)]
    );
    let id_b = q
        .send(&b, &json!("b"), SendOptions::new())
        .await
        .expect("send b");
    assert_eq!(id_b, ids_a[0], "fresh queues both number from 1");
    q.read_json(&b, ReadOptions::new().vt_secs(0))
        .await
        .expect("read b");
    let got = q
        .read_json(&b, ReadOptions::new().vt_secs(60))
        .await
        .expect("read b");
    assert_eq!(got[0].receipt(), Receipt::new(id_b, 2));

    assert_all_stale(q, &b, &from_a).await;
    assert_eq!(length(q, &b).await, 1);
    let visible = q.read_json(&b, ReadOptions::new()).await.expect("read b");
    assert!(
        visible.is_empty(),
        "a receipt from {a} released {b}'s message"
    );
    assert!(q
        .read_archive(&b, &[id_b])
        .await
        .expect("archive b")
        .is_empty());

    let acted = q.delete_receipts(&a, &from_a).await.expect("delete a");
    assert_eq!(acted, [Fence::Acted, Fence::Acted]);
    assert_eq!(length(q, &a).await, 0);
    cleanup(q, &a).await;
    cleanup(q, &b).await;
}
