use pgmq_core::{QueueExt, ReadOptions, SendOptions};
use serde_json::json;

use super::{cleanup, fresh, length};
use crate::TransactionalBackend;

/// A message sent in a transaction that rolls back never appears.
pub async fn send_in_a_rolled_back_transaction_never_appears(b: &dyn TransactionalBackend) {
    let q = b.queue();
    let name = fresh(q, "txrollback").await;
    let tx = b.begin().await.expect("begin");
    tx.queue()
        .send(&name, &json!("ghost"), SendOptions::new())
        .await
        .expect("send in tx");
    assert_eq!(
        length(q, &name).await,
        0,
        "uncommitted message visible outside"
    );
    tx.rollback().await.expect("rollback");
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
    let tx = b.begin().await.expect("begin");
    let id = tx
        .queue()
        .send(&name, &json!("real"), SendOptions::new())
        .await
        .expect("send in tx");
    let batch = tx
        .queue()
        .send_batch(&name, &[1, 2], SendOptions::new())
        .await
        .expect("batch in tx");
    assert_eq!(
        length(q, &name).await,
        0,
        "uncommitted message visible outside"
    );
    tx.commit().await.expect("commit");
    let got = q
        .read_json(&name, ReadOptions::new().qty(10))
        .await
        .expect("read");
    let ids: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
    assert_eq!(ids, [vec![id], batch].concat());
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
    let tx = b.begin().await.expect("begin");
    let read = tx
        .queue()
        .read_json(&name, ReadOptions::new())
        .await
        .expect("read in tx");
    assert_eq!(read[0].msg_id, id);
    assert!(tx.queue().delete(&name, id).await.expect("delete in tx"));
    tx.rollback().await.expect("rollback");
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
    let tx = b.begin().await.expect("begin");
    assert!(tx.queue().archive(&name, id).await.expect("archive in tx"));
    // drop_queue inside the transaction runs in a savepoint; take it out to prove that path.
    assert!(!tx
        .queue()
        .drop_queue(&crate::unique_queue_name("txnone"))
        .await
        .expect("drop"));
    tx.commit().await.expect("commit");
    assert_eq!(length(q, &name).await, 0);
    assert_eq!(
        q.read_archive(&name, &[id]).await.expect("archive").len(),
        1
    );
    cleanup(q, &name).await;
}
