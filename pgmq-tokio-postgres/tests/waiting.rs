//! Waiting on tokio-postgres: every check of `pgmq_conformance::listening` (parked readers
//! run no statements, a plain SQL insert wakes them, they recover when their listening
//! connection is killed, they end at their deadline when every turn to read is stuck, the
//! notification throttle's windows, and its row under older snapshots and a concurrent
//! `enable_notify_insert`), and a queue on a pool without a listener still delivers by
//! polling.

use std::sync::Arc;
use std::time::Duration;

use pgmq_conformance::listening::Sql;
use pgmq_core::serde_json::json;
use pgmq_core::{Queue, QueueExt, ReadOptions, SendOptions};
use pgmq_tokio_postgres::deadpool_postgres::Pool;
use pgmq_tokio_postgres::TokioPostgresQueue;

fn url() -> String {
    pgmq_conformance::harness::database_url().expect("a Postgres to test against")
}

async fn queue() -> TokioPostgresQueue {
    TokioPostgresQueue::connect(&url()).await.expect("connect")
}

fn sql(pool: Pool) -> Sql {
    Arc::new(move |text| {
        let pool = pool.clone();
        Box::pin(async move {
            let client = pool.get().await.expect("a connection");
            client
                .batch_execute(&text)
                .await
                .expect("the test's own SQL");
        })
    })
}

/// A queue built on a pool alone (no listener configured) cannot listen: its subscription
/// never wakes, and its waiting reads poll and still get the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_on_a_bare_pool_polls() {
    let q = TokioPostgresQueue::new(queue().await.pool().clone());
    let name = pgmq_conformance::fresh_queue(&q, "barepool").await;
    assert!(!q.subscribe(&name).await.expect("subscribe").can_listen());
    let reader = q.read_json(
        &name,
        ReadOptions::new()
            .wait(Duration::from_secs(10))
            .poll_interval(Duration::from_millis(50)),
    );
    let sender = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        q.send(&name, &json!("polled"), SendOptions::new())
            .await
            .expect("send")
    };
    let (got, id) = tokio::join!(reader, sender);
    assert_eq!(
        got.expect("read")
            .iter()
            .map(|m| m.msg_id)
            .collect::<Vec<_>>(),
        vec![id]
    );
    q.drop_queue(&name).await.expect("drop");
}

/// Two transactions that send to two throttled queues in opposite orders, under a
/// `deadlock_timeout` shorter than a send's wait for the other's throttle row, both commit:
/// the deadlock Postgres detects inside that wait ends it as the wait's own timeout would,
/// and the send notifies. (Setting `deadlock_timeout` needs a superuser, as this test runs.
/// The trigger is core's SQL, the same on every backend, so one backend checks it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_in_opposite_orders_commit_under_a_short_deadlock_timeout() {
    let q = queue().await;
    let a = pgmq_conformance::fresh_queue(&q, "short_dl_a").await;
    let b = pgmq_conformance::fresh_queue(&q, "short_dl_b").await;
    for name in [&a, &b] {
        q.enable_notify_insert(name, Duration::from_secs(60))
            .await
            .expect("enable throttled");
    }
    let raw = sql(q.pool().clone());
    // Each panics on failure; the pause lets both take their first queue's row.
    let tx = |first: &str, second: &str| {
        raw(format!(
            "BEGIN;
             SET LOCAL deadlock_timeout = '10ms';
             INSERT INTO pgmq.\"q_{first}\" (vt, message) VALUES (clock_timestamp(), '1');
             SELECT pg_sleep(0.3);
             INSERT INTO pgmq.\"q_{second}\" (vt, message) VALUES (clock_timestamp(), '2');
             COMMIT;"
        ))
    };
    tokio::join!(tx(a.as_str(), b.as_str()), tx(b.as_str(), a.as_str()));
    for name in [&a, &b] {
        let got = q
            .read_json(name, ReadOptions::new().qty(10))
            .await
            .expect("read");
        assert_eq!(got.len(), 2, "{name}");
        q.drop_queue(name).await.expect("drop");
    }
}

pgmq_conformance::listening_tests!(
    queue: queue(),
    sql: |q: &TokioPostgresQueue| sql(q.pool().clone()),
    connect: |url: String, liveness| async move {
        pgmq_core::Result::Ok(TokioPostgresQueue::connect(&url).await?.with_liveness(liveness))
    },
);
