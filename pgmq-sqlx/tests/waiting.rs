//! Waiting on sqlx: parked readers run no statements, a plain SQL insert wakes them, and
//! they recover when their listening connection is killed.

use std::sync::Arc;

use pgmq_conformance::listening::{self, Sql};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_readers_run_no_statements() {
    listening::parked_readers_run_no_statements(queue().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_insert_wakes_a_waiting_reader() {
    let q = queue().await;
    let raw = sql(q.pool().clone());
    listening::a_plain_insert_wakes_a_waiting_reader(q, raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_readers_recover_when_the_listener_is_killed() {
    let q = queue().await;
    let raw = sql(q.pool().clone());
    listening::waiting_readers_recover_when_the_listener_is_killed(q, raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_late_in_the_throttle_window_notifies_for_the_next() {
    let q = queue().await;
    let raw = sql(q.pool().clone());
    listening::a_send_late_in_the_throttle_window_notifies_for_the_next(q, raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_late_in_the_throttle_window_skips_a_held_row() {
    let q = queue().await;
    let raw = sql(q.pool().clone());
    listening::a_send_late_in_the_throttle_window_skips_a_held_row(q, raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_queue_without_its_throttle_row_still_notifies() {
    let q = queue().await;
    let raw = sql(q.pool().clone());
    listening::a_throttled_queue_without_its_throttle_row_still_notifies(q, raw).await;
}
