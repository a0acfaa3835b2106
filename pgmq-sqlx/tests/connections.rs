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

/// A database where this library's own objects (schema `pgmq_rs`) are missing, as where only
/// the pgmq extension made the queues: operations install them on first need and work.
#[tokio::test]
async fn queues_work_in_a_database_where_this_library_was_never_installed() {
    let admin = SqlxQueue::connect(&url()).await.expect("connect");
    let db = format!("pgmq_rs_fresh_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
        .execute(admin.pool())
        .await
        .expect("drop database");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(admin.pool())
        .await
        .expect("create database");
    let queue = SqlxQueue::connect(&with_database(&url(), &db))
        .await
        .expect("connect");
    let name = queue_with(&queue, "uninstalled").await;
    sqlx::query("DROP SCHEMA pgmq_rs CASCADE")
        .execute(queue.pool())
        .await
        .expect("remove this library's objects");
    let id = queue
        .send(&name, &json!("still works"), SendOptions::new())
        .await
        .expect("send reinstalls what it needs");
    let got = queue
        .read_json(&name, ReadOptions::new())
        .await
        .expect("read");
    assert_eq!(got[0].msg_id, id);
    assert_eq!(queue.metrics(&name).await.expect("metrics").queue_length, 1);
    queue.pool().close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(admin.pool())
    .await
    .expect("drop database");
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let host_end = base
        .rfind('/')
        .filter(|&i| i > base.find("//").map_or(0, |j| j + 1));
    let base = host_end.map_or(base, |i| &base[..i]);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}
