//! What the conformance suite does not cover: the queue on a plain `Client`, on borrowed and
//! deadpool transactions, statement preparation, an unchecked pool, a bad URL and a
//! terminated connection. (The failures every backend shares are conformance cases.)

use std::time::Duration;

use pgmq_conformance::fresh_queue as fresh;
use pgmq_conformance::unique_queue_name;
use pgmq_core::{Error, QueueName};
use pgmq_tokio_postgres::deadpool_postgres::{Manager, Pool, Runtime};
use pgmq_tokio_postgres::prelude::*;
use pgmq_tokio_postgres::tokio_postgres::{self, Client, NoTls, SimpleQueryMessage};
use serde_json::json;

fn url() -> String {
    pgmq_conformance::harness::database_url().expect("a Postgres to test against")
}

async fn client() -> Client {
    let (client, connection) = tokio_postgres::connect(&url(), NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

/// A pool of at most one connection, so every operation lands on the same session.
fn single_connection_pool(wait: Duration) -> Pool {
    let config = url().parse().expect("database URL");
    Pool::builder(Manager::new(config, NoTls))
        .max_size(1)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .build()
        .expect("pool")
}

async fn outside() -> TokioPostgresQueue {
    TokioPostgresQueue::connect(&url()).await.expect("connect")
}

async fn length(queue: &impl Queue, name: &QueueName) -> i64 {
    queue.metrics(name).await.expect("metrics").queue_length
}

/// A single-value `simple_query` answer, as text.
async fn scalar(client: &Client, sql: &str) -> String {
    let messages = client.simple_query(sql).await.expect("simple query");
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .expect("one row")
}

#[tokio::test]
async fn queue_on_a_plain_client_runs_every_operation() {
    let queue = TokioPostgresConnQueue::new(client().await);
    let name = fresh(&queue, "tp_client").await;
    let first = queue
        .send(&name, &json!({"n": 1}), SendOptions::new())
        .await
        .expect("send");
    let batch = queue
        .send_batch(&name, &[2, 3], SendOptions::new())
        .await
        .expect("send batch");
    let read = queue
        .read_json(&name, ReadOptions::new().qty(2))
        .await
        .expect("read");
    assert_eq!(
        read.iter().map(|m| m.msg_id).collect::<Vec<_>>(),
        [first, batch[0]]
    );
    assert!(queue.delete(&name, first).await.expect("delete"));
    assert!(queue.archive(&name, batch[0]).await.expect("archive"));
    assert_eq!(
        queue
            .read_archive(&name, &[batch[0]])
            .await
            .expect("read archive")
            .len(),
        1
    );
    assert_eq!(length(&queue, &name).await, 1);
    assert!(queue
        .list_queues()
        .await
        .expect("list")
        .iter()
        .any(|q| q.queue_name == name.as_str()));
    assert_eq!(queue.purge(&name).await.expect("purge"), 1);
    assert!(queue.drop_queue(&name).await.expect("drop"));
    assert!(!queue.drop_queue(&name).await.expect("drop again"));
}

#[tokio::test]
async fn queue_on_a_borrowed_transaction_rolls_back_and_commits() {
    let outside = outside().await;
    let name = fresh(&outside, "tp_borrowed").await;
    let mut client = client().await;

    let mut tx = client.transaction().await.expect("begin");
    TokioPostgresConnQueue::new(&mut tx)
        .send(&name, &json!("ghost"), SendOptions::new())
        .await
        .expect("send in tx");
    assert_eq!(length(&outside, &name).await, 0, "uncommitted send visible");
    tx.rollback().await.expect("rollback");
    assert_eq!(
        length(&outside, &name).await,
        0,
        "rolled-back send appeared"
    );

    let mut tx = client.transaction().await.expect("begin");
    let in_tx = TokioPostgresConnQueue::new(&mut tx);
    let id = in_tx
        .send(&name, &json!("real"), SendOptions::new())
        .await
        .expect("send in tx");
    // An atomic operation inside the caller's transaction runs in a savepoint.
    assert!(!in_tx
        .drop_queue(&unique_queue_name("tp_none"))
        .await
        .expect("drop in tx"));
    drop(in_tx);
    tx.commit().await.expect("commit");
    let read = outside
        .read_json(&name, ReadOptions::new())
        .await
        .expect("read");
    assert_eq!(read[0].msg_id, id);
    outside.drop_queue(&name).await.expect("cleanup");
}

#[tokio::test]
async fn queue_on_a_deadpool_connection_and_transaction() {
    let outside = outside().await;
    let name = fresh(&outside, "tp_deadpool").await;
    let mut conn = outside.pool().get().await.expect("pooled connection");

    let tx = conn.transaction().await.expect("begin");
    let in_tx = TokioPostgresConnQueue::new(tx);
    in_tx
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send in tx");
    in_tx.into_inner().rollback().await.expect("rollback");

    let tx = conn.transaction().await.expect("begin");
    let in_tx = TokioPostgresConnQueue::new(tx);
    in_tx
        .send(&name, &json!(2), SendOptions::new())
        .await
        .expect("send in tx");
    in_tx.into_inner().commit().await.expect("commit");

    let on_conn = TokioPostgresConnQueue::new(conn);
    let read = on_conn
        .read_json(&name, ReadOptions::new().qty(10))
        .await
        .expect("read");
    assert_eq!(
        read.iter().map(|m| m.message.clone()).collect::<Vec<_>>(),
        [json!(2)]
    );
    on_conn.drop_queue(&name).await.expect("cleanup");
}

#[tokio::test]
async fn statements_are_prepared_once_per_pooled_connection_and_ddl_never() {
    let pool = single_connection_pool(Duration::from_secs(30));
    let queue = TokioPostgresQueue::new(pool.clone());
    let prepared = || async {
        let conn = pool.get().await.expect("connection");
        scalar(&conn, "SELECT count(*) FROM pg_prepared_statements").await
    };

    let name = fresh(&queue, "tp_prepared").await;
    assert_eq!(prepared().await, "0", "one-off DDL was left prepared");
    for n in 0..3 {
        queue
            .send(&name, &n, SendOptions::new())
            .await
            .expect("send");
    }
    assert_eq!(prepared().await, "1", "send was prepared more than once");
    for _ in 0..3 {
        queue
            .read_json(&name, ReadOptions::new())
            .await
            .expect("read");
    }
    assert_eq!(prepared().await, "2", "read was prepared more than once");
    queue.drop_queue(&name).await.expect("cleanup");
}

#[tokio::test]
async fn an_unchecked_pool_or_a_bad_url_is_a_connection_error() {
    let closed = "postgres://postgres@127.0.0.1:1/postgres";
    // A pool built without checking: the failure shows on first use.
    let pool = Pool::builder(Manager::new(closed.parse().expect("URL"), NoTls))
        .build()
        .expect("pool");
    let err = TokioPostgresQueue::new(pool)
        .list_queues()
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");

    let err = TokioPostgresQueue::connect("host=")
        .await
        .expect_err("not a connection string");
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
}

#[tokio::test]
async fn a_terminated_connection_is_a_connection_error() {
    let doomed = client().await;
    let pid = scalar(&doomed, "SELECT pg_backend_pid()").await;
    let queue = TokioPostgresConnQueue::new(doomed);
    queue.list_queues().await.expect("alive");

    let killer = client().await;
    let killed = scalar(
        &killer,
        &format!("SELECT pg_terminate_backend({pid}, 5000)"),
    )
    .await;
    assert_eq!(killed, "t");

    let err = queue.list_queues().await.expect_err("connection is gone");
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert!(err.is_retryable());
}
