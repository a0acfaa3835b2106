use std::future::Future;
use std::time::{Duration, Instant};

use pgmq_core::{DbErrorKind, Error, Queue, QueueExt, SendOptions};
use serde_json::json;

use super::{cleanup, fresh};
use crate::harness::{statement_timeout_url, unreachable_url};
use crate::TransactionalBackend;

/// A Postgres that cannot be reached is `Error::Connection`, from connecting or from the
/// first operation, on every backend.
pub async fn unreachable_postgres_is_a_connection_error<B, F, Fut>(url: String, connect: F)
where
    B: Queue,
    F: Fn(String) -> Fut,
    Fut: Future<Output = pgmq_core::Result<B>>,
{
    let started = Instant::now();
    let result = match connect(unreachable_url(&url)).await {
        Ok(backend) => backend.list_queues().await.map(drop),
        Err(e) => Err(e),
    };
    match result {
        Err(Error::Connection { .. }) => {}
        other => panic!("expected Error::Connection, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

/// A statement stopped by `statement_timeout` is `Database { kind: QueryCanceled }` on every
/// backend, and what it was doing is rolled back: here a `drop_queue` waits on a lock held by
/// an open transaction that sent to the queue, and the queue survives.
pub async fn statement_timeout_is_query_canceled<B, F, Fut>(
    tx: &dyn TransactionalBackend,
    url: String,
    connect: F,
) where
    B: Queue,
    F: Fn(String) -> Fut,
    Fut: Future<Output = pgmq_core::Result<B>>,
{
    let q = tx.queue();
    let name = fresh(q, "timeout").await;
    let impatient = connect(statement_timeout_url(&url, 300))
        .await
        .expect("connect with a statement_timeout");
    let open = tx.begin().await.expect("begin");
    open.queue()
        .send(&name, &json!("holds a lock"), SendOptions::new())
        .await
        .expect("send in transaction");
    let started = Instant::now();
    let dropped = impatient.drop_queue(&name).await;
    let waited = started.elapsed();
    open.rollback().await.expect("rollback");
    match dropped {
        Err(Error::Database {
            kind: DbErrorKind::QueryCanceled,
            ref code,
            ..
        }) => assert_eq!(code, "57014"),
        ref other => panic!("expected Database {{ kind: QueryCanceled }}, got {other:?}"),
    }
    assert!(
        waited >= Duration::from_millis(250),
        "canceled after only {waited:?}"
    );
    let listed = q.list_queues().await.expect("list");
    assert!(
        listed.iter().any(|i| i.queue_name == name.as_str()),
        "the canceled drop_queue was not rolled back"
    );
    cleanup(q, &name).await;
}
