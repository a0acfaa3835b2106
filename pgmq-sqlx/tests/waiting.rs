//! Waiting on sqlx: every check of `pgmq_conformance::listening` (parked readers
//! run no statements, a plain SQL insert wakes them, they recover when their listening
//! connection is killed, they end at their deadline when every turn to read is stuck, the
//! notification throttle's windows, and its row under older snapshots and a concurrent
//! `enable_notify_insert`).

use std::sync::Arc;

use pgmq_conformance::listening::Sql;
use pgmq_sqlx::SqlxQueue;

fn url() -> String {
    pgmq_conformance::harness::database_url().expect("a Postgres to test against")
}

async fn queue() -> SqlxQueue {
    SqlxQueue::connect(&url()).await.expect("connect")
}

fn sql(pool: sqlx::PgPool) -> Sql {
    Arc::new(move |text| {
        let pool = pool.clone();
        Box::pin(async move {
            sqlx::raw_sql(sqlx::AssertSqlSafe(text))
                .execute(&pool)
                .await
                .expect("the test's own SQL");
        })
    })
}

pgmq_conformance::listening_tests!(
    queue: queue(),
    sql: |q: &SqlxQueue| sql(q.pool().clone()),
    connect: |url: String, liveness| async move {
        pgmq_sqlx::Result::Ok(SqlxQueue::connect(&url).await?.with_liveness(liveness))
    },
);
