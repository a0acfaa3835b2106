use std::future::Future;
use std::time::{Duration, Instant};

use pgmq_core::{DbErrorKind, Error, Queue, QueueExt, SendOptions};
use serde_json::json;

use super::{cleanup, fresh};
use crate::harness::{statement_timeout_url, unreachable_url};
use crate::{in_transaction, TransactionalBackend, TxEnd};

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
    B: Queue + 'static,
    F: Fn(String) -> Fut,
    Fut: Future<Output = pgmq_core::Result<B>>,
{
    let q = tx.queue();
    let name = fresh(q, "timeout").await;
    let impatient = connect(statement_timeout_url(&url, 300))
        .await
        .expect("connect with a statement_timeout");
    let locked = name.clone();
    let (dropped, waited) = in_transaction(tx, move |inside, _| {
        Box::pin(async move {
            inside
                .send(&locked, &json!("holds a lock"), SendOptions::new())
                .await
                .expect("send in transaction");
            let started = Instant::now();
            let dropped = impatient.drop_queue(&locked).await;
            (TxEnd::Rollback, (dropped, started.elapsed()))
        })
    })
    .await
    .expect("transaction");
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

/// A pool whose only connection is busy answers `Error::PoolTimeout` (retryable) once its
/// wait is over, and works again when the connection is back. The connection is kept busy by
/// a `drop_queue` waiting on a lock that an open transaction holds, until its
/// `statement_timeout` cancels it.
pub async fn an_exhausted_pool_is_a_pool_timeout<B, F, Fut>(
    tx: &dyn TransactionalBackend,
    url: String,
    pool: F,
) where
    B: Queue + 'static,
    F: Fn(String, Duration) -> Fut,
    Fut: Future<Output = pgmq_core::Result<B>>,
{
    let q = tx.queue();
    let name = fresh(q, "poolfull").await;
    let small = pool(
        statement_timeout_url(&url, 1500),
        Duration::from_millis(200),
    )
    .await
    .expect("a pool of one connection");
    small.list_queues().await.expect("the pool works");
    let locked = name.clone();
    let (busy, probed, waited, small) = in_transaction(tx, move |inside, _| {
        Box::pin(async move {
            inside
                .send(&locked, &json!("holds a lock"), SendOptions::new())
                .await
                .expect("send in transaction");
            let busy = small.drop_queue(&locked);
            let probe = async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let started = Instant::now();
                (small.list_queues().await, started.elapsed())
            };
            let (busy, (probed, waited)) = tokio::join!(busy, probe);
            (TxEnd::Rollback, (busy, probed, waited, small))
        })
    })
    .await
    .expect("transaction");
    assert!(
        matches!(
            busy,
            Err(Error::Database {
                kind: DbErrorKind::QueryCanceled,
                ..
            })
        ),
        "the blocked drop_queue should be canceled by statement_timeout, got {busy:?}"
    );
    match probed {
        Err(ref e @ Error::PoolTimeout { .. }) => assert!(e.is_retryable()),
        ref other => panic!("expected Error::PoolTimeout, got {other:?}"),
    }
    assert!(
        waited >= Duration::from_millis(150),
        "gave up after only {waited:?}, not the pool's wait"
    );
    small
        .list_queues()
        .await
        .expect("works once the connection is back");
    cleanup(q, &name).await;
}
