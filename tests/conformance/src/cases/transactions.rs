use pgmq_core::{QueueExt, ReadOptions, SendOptions};
use serde_json::json;

use super::{cleanup, fresh, length};
use crate::{in_transaction, unique_queue_name, TransactionalBackend, TxEnd};

/// A message sent in a transaction that rolls back never appears.
pub async fn send_in_a_rolled_back_transaction_never_appears(b: &dyn TransactionalBackend) {
    let q = b.queue();
    let name = fresh(q, "txrollback").await;
    let sent = name.clone();
    in_transaction(b, move |tx, outside| {
        Box::pin(async move {
            tx.send(&sent, &json!("ghost"), SendOptions::new())
                .await
                .expect("send in tx");
            assert_eq!(
                length(outside, &sent).await,
                0,
                "uncommitted message visible outside"
            );
            (TxEnd::Rollback, ())
        })
    })
    .await
    .expect("transaction");
    assert_eq!(length(q, &name).await, 0);
    assert!(q
        .read_json(&name, ReadOptions::new())
        .await
        .expect("read")
        .is_empty());
    cleanup(q, &name).await;
}

/// A message sent in a committed transaction appears once the transaction commits.
pub async fn send_in_a_committed_transaction_appears(b: &dyn TransactionalBackend) {
    let q = b.queue();
    let name = fresh(q, "txcommit").await;
    let sent = name.clone();
    let ids = in_transaction(b, move |tx, outside| {
        Box::pin(async move {
            let id = tx
                .send(&sent, &json!("real"), SendOptions::new())
                .await
                .expect("send in tx");
            let batch = tx
                .send_batch(&sent, &[1, 2], SendOptions::new())
                .await
                .expect("batch in tx");
            assert_eq!(
                length(outside, &sent).await,
                0,
                "uncommitted message visible outside"
            );
            (TxEnd::Commit, [vec![id], batch].concat())
        })
    })
    .await
    .expect("transaction");
    let got = q
        .read_json(&name, ReadOptions::new().qty(10))
        .await
        .expect("read");
    let read: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
    assert_eq!(read, ids);
    cleanup(q, &name).await;
}

/// A delete inside a transaction that rolls back leaves the message in the queue.
pub async fn delete_in_a_rolled_back_transaction_leaves_the_message(b: &dyn TransactionalBackend) {
    let q = b.queue();
    let name = fresh(q, "txack").await;
    let id = q
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let acked = name.clone();
    in_transaction(b, move |tx, _| {
        Box::pin(async move {
            let read = tx
                .read_json(&acked, ReadOptions::new())
                .await
                .expect("read in tx");
            assert_eq!(read[0].msg_id, id);
            assert!(tx.delete(&acked, id).await.expect("delete in tx"));
            (TxEnd::Rollback, ())
        })
    })
    .await
    .expect("transaction");
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!(
        (m.queue_length, m.queue_visible_length),
        (1, 1),
        "rollback lost the message"
    );
    let again = q.read_json(&name, ReadOptions::new()).await.expect("read");
    assert_eq!(
        (again[0].msg_id, again[0].read_ct),
        (id, 1),
        "the read was rolled back too"
    );
    cleanup(q, &name).await;
}

/// An archive inside a committed transaction moves the message.
pub async fn archive_in_a_committed_transaction_takes_effect(b: &dyn TransactionalBackend) {
    let q = b.queue();
    let name = fresh(q, "txarchive").await;
    let id = q
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let archived = name.clone();
    in_transaction(b, move |tx, _| {
        Box::pin(async move {
            assert!(tx.archive(&archived, id).await.expect("archive in tx"));
            // drop_queue inside the transaction runs in a savepoint; take it to prove that path.
            assert!(!tx
                .drop_queue(&unique_queue_name("txnone"))
                .await
                .expect("drop"));
            (TxEnd::Commit, ())
        })
    })
    .await
    .expect("transaction");
    assert_eq!(length(q, &name).await, 0);
    assert_eq!(
        q.read_archive(&name, &[id]).await.expect("archive").len(),
        1
    );
    cleanup(q, &name).await;
}
