use std::sync::Arc;
use std::time::Duration;

use pgmq_core::{QueueExt, QueueName, ReadOptions, SendOptions, Subscription};
use serde_json::json;
use tokio::sync::Barrier;
use tokio::time::{timeout, Instant};

use super::{cleanup, fresh, length};
use crate::listening::settle;
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

/// Two transactions that send to the same two queues in opposite orders, while both queues'
/// throttle windows are closed, both get past their second send well within
/// `deadlock_timeout`: a send waits only briefly for a throttle row another transaction
/// holds. Before, each transaction's second send waited for the row the other's first send
/// had claimed, a deadlock that failed one of them with `40P01` after `deadlock_timeout`.
///
/// The first transaction commits and the second rolls back, so the only send that can wake
/// `second`'s readers is the first transaction's send to it, made while the other held
/// that queue's row: a send whose wait for the row runs out notifies, instead of leaving
/// the wake to a claim that is then rolled back.
pub async fn sends_to_two_queues_in_opposite_orders_do_not_deadlock(b: &dyn TransactionalBackend) {
    const THROTTLE: Duration = Duration::from_secs(60);
    let q = b.queue();
    let first = fresh(q, "tx_order_a").await;
    let second = fresh(q, "tx_order_b").await;
    let mut subs = Vec::new();
    for name in [&first, &second] {
        // Closed windows: enabling puts each window's start at the epoch.
        q.enable_notify_insert(name, THROTTLE)
            .await
            .expect("enable throttled");
        subs.push(q.subscribe(name).await.expect("subscribe"));
    }
    let listens = subs.iter().all(Subscription::can_listen);
    if listens {
        settle(&mut subs, THROTTLE).await;
    }
    let both_sent = Arc::new(Barrier::new(2));
    let one = |order: [QueueName; 2], end: TxEnd| {
        let both_sent = Arc::clone(&both_sent);
        in_transaction(b, move |tx, _| {
            Box::pin(async move {
                let one = tx.send(&order[0], &json!("one"), SendOptions::new()).await;
                both_sent.wait().await;
                let started = Instant::now();
                let two = tx.send(&order[1], &json!("two"), SendOptions::new()).await;
                (end, (one, two, started.elapsed()))
            })
        })
    };
    let (committed, rolled_back) = tokio::join!(
        one([first.clone(), second.clone()], TxEnd::Commit),
        one([second.clone(), first.clone()], TxEnd::Rollback),
    );
    for (which, outcome) in [("committed", committed), ("rolled back", rolled_back)] {
        let (one, two, took) = outcome.unwrap_or_else(|e| panic!("the {which} one: {e:?}"));
        one.unwrap_or_else(|e| panic!("the {which} one's first send: {e:?}"));
        two.unwrap_or_else(|e| panic!("the {which} one's second send: {e:?}"));
        assert!(
            took < Duration::from_millis(900),
            "the {which} one's second send took {took:?}"
        );
    }
    if listens {
        for (name, sub) in [&first, &second].into_iter().zip(&mut subs) {
            let woke = timeout(Duration::from_secs(2), sub.changed()).await;
            assert!(woke.is_ok(), "no notification for {name}");
        }
    }
    for (name, message) in [(&first, "one"), (&second, "two")] {
        let got = q
            .read_json(name, ReadOptions::new().qty(10))
            .await
            .expect("read");
        let got: Vec<_> = got.into_iter().map(|m| m.message).collect();
        assert_eq!(got, vec![json!(message)], "{name}");
    }
    drop(subs);
    cleanup(q, &first).await;
    cleanup(q, &second).await;
}
