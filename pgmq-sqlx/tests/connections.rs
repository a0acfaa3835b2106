//! sqlx-specific extras: a queue on a borrowed connection and a borrowed transaction, a lazy
//! pool on an unreachable server, and a connection the server terminated. (The failures every
//! backend shares are conformance cases.)

use std::time::Duration;

use pgmq_conformance::fresh_queue as queue_with;
use pgmq_core::{Error, Queue, QueueExt, QueueName, ReadOptions, SendOptions};
use pgmq_sqlx::{SqlxConnQueue, SqlxQueue};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};

fn url() -> String {
    pgmq_conformance::harness::database_url().expect("a Postgres to test against")
}

#[tokio::test]
async fn every_operation_works_on_a_borrowed_connection() {
    let mut conn = PgConnection::connect(&url()).await.expect("connect");
    let queue = SqlxConnQueue::new(&mut conn);
    let name = queue_with(&queue, "sqlx_conn").await;
    let id = queue
        .send(&name, &json!({"on": "conn"}), SendOptions::new())
        .await
        .expect("send");
    let got = queue
        .read_json(&name, ReadOptions::new())
        .await
        .expect("read");
    assert_eq!(got[0].msg_id, id);
    assert!(queue.archive(&name, id).await.expect("archive"));
    assert!(queue.drop_queue(&name).await.expect("drop"));
}

#[tokio::test]
async fn a_borrowed_transaction_commits_or_rolls_back_the_queue_with_it() {
    let pool = SqlxQueue::connect(&url()).await.expect("connect");
    let name = queue_with(&pool, "sqlx_tx").await;

    let mut tx = pool.pool().begin().await.expect("begin");
    SqlxConnQueue::new(&mut *tx)
        .send(&name, &json!("rolled back"), SendOptions::new())
        .await
        .expect("send in tx");
    tx.rollback().await.expect("rollback");
    assert_eq!(pool.metrics(&name).await.expect("metrics").queue_length, 0);

    let mut tx = pool.pool().begin().await.expect("begin");
    let id = SqlxConnQueue::new(&mut *tx)
        .send(&name, &json!("committed"), SendOptions::new())
        .await
        .expect("send in tx");
    // drop_queue runs its statements atomically: a savepoint inside the caller's transaction.
    let other = pgmq_conformance::unique_queue_name("sqlx_none");
    assert!(!SqlxConnQueue::new(&mut *tx)
        .drop_queue(&other)
        .await
        .expect("drop in tx"));
    tx.commit().await.expect("commit");
    let got = pool
        .read_json(&name, ReadOptions::new())
        .await
        .expect("read");
    assert_eq!(got[0].msg_id, id);
    pool.drop_queue(&name).await.expect("drop");
}

#[tokio::test]
async fn an_unreachable_server_behind_a_pool_is_a_connection_error() {
    let bad = pgmq_conformance::harness::unreachable_url(&url());
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy(&bad)
        .expect("lazy pool");
    let queue = SqlxQueue::new(pool);
    let name = QueueName::new("sqlx_unreachable").expect("name");
    match queue.send(&name, &json!(1), SendOptions::new()).await {
        Err(Error::Connection { .. }) => {}
        other => panic!("expected Connection, got {other:?}"),
    }
    match queue.drop_queue(&name).await {
        Err(Error::Connection { .. }) => {}
        other => panic!("expected Connection from the atomic path, got {other:?}"),
    }
}

#[tokio::test]
async fn a_terminated_connection_is_a_connection_error() {
    let mut victim = PgConnection::connect(&url()).await.expect("connect");
    let (pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(&mut victim)
        .await
        .expect("pid");
    let mut killer = PgConnection::connect(&url()).await.expect("connect");
    let (killed,): (bool,) = sqlx::query_as("SELECT pg_terminate_backend($1, 5000)")
        .bind(pid)
        .fetch_one(&mut killer)
        .await
        .expect("terminate");
    assert!(killed);
    let queue = SqlxConnQueue::new(&mut victim);
    match queue.list_queues().await {
        Err(Error::Connection { .. }) => {}
        other => panic!("expected Connection, got {other:?}"),
    }
}
