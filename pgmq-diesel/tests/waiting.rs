//! Waiting on diesel-async: every check of `pgmq_conformance::listening` (parked readers
//! run no statements, a plain SQL insert wakes them, they recover when their listening
//! connection is killed, they end at their deadline when every turn to read is stuck, the
//! notification throttle's windows, and its row under older snapshots and a concurrent
//! `enable_notify_insert`).

use std::sync::Arc;

use diesel_async::SimpleAsyncConnection;
use pgmq_conformance::listening::Sql;
use pgmq_diesel::DieselQueue;

fn url() -> String {
    pgmq_conformance::harness::database_url().expect("a Postgres to test against")
}

async fn queue() -> DieselQueue {
    DieselQueue::connect(&url()).await.expect("connect")
}

fn sql(q: &DieselQueue) -> Sql {
    let pool = q.pool().clone();
    Arc::new(move |text| {
        let pool = pool.clone();
        Box::pin(async move {
            let mut conn = pool.get().await.expect("a connection");
            conn.batch_execute(&text).await.expect("the test's own SQL");
        })
    })
}

pgmq_conformance::listening_tests!(
    queue: queue(),
    sql: sql,
    connect: |url: String, liveness| async move {
        pgmq_diesel::Result::Ok(DieselQueue::connect(&url).await?.with_liveness(liveness))
    },
);
