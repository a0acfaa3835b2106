//! What only diesel has: the queue inside `AsyncConnection::transaction` and
//! `Connection::transaction`, a terminated connection on both sides, and the statement cache.
//! (The failures every backend shares are conformance cases.)

use std::time::Duration;

use diesel::sql_types::{Integer, Text};
use diesel::{Connection, PgConnection, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl as _};
use pgmq_conformance::fresh_queue as fresh;
use pgmq_conformance::{harness, unique_queue_name};
use pgmq_core::{BoxError, Error, QueueName};
use pgmq_diesel::prelude::*;
use serde_json::json;

fn url() -> String {
    harness::database_url().expect("a Postgres to test against")
}

async fn connect() -> AsyncPgConnection {
    AsyncPgConnection::establish(&url()).await.expect("connect")
}

fn connect_sync() -> PgConnection {
    PgConnection::establish(&url()).expect("connect")
}

async fn length(queue: &DieselQueue, name: &QueueName) -> i64 {
    queue.metrics(name).await.expect("metrics").queue_length
}

/// Why a test's own transaction ended without committing.
#[derive(Debug)]
struct RolledBack;

impl std::fmt::Display for RolledBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rolled back on purpose")
    }
}

impl std::error::Error for RolledBack {}

fn rolled_back(result: Result<(), BoxError>) {
    match result {
        Err(e) if e.is::<RolledBack>() => {}
        other => panic!("expected the deliberate rollback, got {other:?}"),
    }
}

#[tokio::test]
async fn async_send_inside_a_rolled_back_transaction_disappears() {
    let queue = DieselQueue::connect(&url()).await.expect("connect");
    let name = fresh(&queue, "dsl_tx_rb").await;
    let mut conn = connect().await;
    let result = conn
        .transaction::<(), BoxError, _>(async |conn| {
            DieselConnQueue::new(conn)
                .send(&name, &json!("ghost"), SendOptions::new())
                .await?;
            Err(RolledBack.into())
        })
        .await;
    rolled_back(result);
    assert_eq!(length(&queue, &name).await, 0);
    queue.drop_queue(&name).await.expect("drop");
}

#[tokio::test]
async fn async_send_inside_a_committed_transaction_appears() {
    let queue = DieselQueue::connect(&url()).await.expect("connect");
    let name = fresh(&queue, "dsl_tx_ok").await;
    let mut conn = connect().await;
    let id = conn
        .transaction::<i64, BoxError, _>(async |conn| {
            let q = DieselConnQueue::new(conn);
            let id = q.send(&name, &json!("real"), SendOptions::new()).await?;
            // A batch is one statement; it joins the caller's transaction like any other.
            q.send_batch(&name, &[1, 2], SendOptions::new()).await?;
            Ok(id)
        })
        .await
        .expect("transaction");
    let got = queue
        .read_json(&name, ReadOptions::new().qty(10))
        .await
        .expect("read");
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].msg_id, id);
    queue.drop_queue(&name).await.expect("drop");
}

#[tokio::test]
async fn blocking_send_inside_a_rolled_back_transaction_disappears() {
    let queue = DieselQueue::connect(&url()).await.expect("connect");
    let name = fresh(&queue, "dsl_btx_rb").await;
    let sent = name.clone();
    let result = tokio::task::spawn_blocking(move || {
        connect_sync().transaction::<(), BoxError, _>(|conn| {
            DieselSyncConnQueue::new(conn).send(&sent, &json!("ghost"), SendOptions::new())?;
            Err(RolledBack.into())
        })
    })
    .await
    .expect("join");
    rolled_back(result);
    assert_eq!(length(&queue, &name).await, 0);
    queue.drop_queue(&name).await.expect("drop");
}

#[tokio::test]
async fn blocking_send_inside_a_committed_transaction_appears() {
    let queue = DieselQueue::connect(&url()).await.expect("connect");
    let name = fresh(&queue, "dsl_btx_ok").await;
    let sent = name.clone();
    let id = tokio::task::spawn_blocking(move || {
        connect_sync().transaction::<i64, BoxError, _>(|conn| {
            let q = DieselSyncConnQueue::new(conn);
            let id = q.send(&sent, &json!("real"), SendOptions::new())?;
            q.send_batch(&sent, &[1, 2], SendOptions::new())?;
            Ok(id)
        })
    })
    .await
    .expect("join")
    .expect("transaction");
    let got = queue
        .read_json(&name, ReadOptions::new().qty(10))
        .await
        .expect("read");
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].msg_id, id);
    queue.drop_queue(&name).await.expect("drop");
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

fn terminate(pid: i32) {
    let mut conn = connect_sync();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("SELECT pg_terminate_backend({pid})")),
        &mut conn,
    )
    .expect("terminate");
}

fn assert_connection<T: std::fmt::Debug>(result: pgmq_core::Result<T>) {
    assert!(
        matches!(result, Err(Error::Connection { .. })),
        "expected Connection, got {result:?}"
    );
}

#[tokio::test]
async fn a_terminated_connection_is_a_connection_error() {
    let queue = DieselQueue::connect(&url()).await.expect("connect");
    let name = fresh(&queue, "dsl_killed").await;

    let mut conn = connect().await;
    let Pid { pid } = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(&mut conn)
        .await
        .expect("pid");
    tokio::task::spawn_blocking(move || terminate(pid))
        .await
        .expect("join");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_connection(
        DieselConnQueue::new(&mut conn)
            .read_json(&name, ReadOptions::new())
            .await,
    );

    let sync_name = name.clone();
    let sync = tokio::task::spawn_blocking(move || {
        let mut conn = connect_sync();
        let Pid { pid } = diesel::RunQueryDsl::get_result(
            diesel::sql_query("SELECT pg_backend_pid() AS pid"),
            &mut conn,
        )
        .expect("pid");
        terminate(pid);
        std::thread::sleep(Duration::from_millis(100));
        DieselSyncConnQueue::new(conn).read::<serde_json::Value>(&sync_name, ReadOptions::new())
    })
    .await
    .expect("join");
    assert_connection(sync);

    queue.drop_queue(&name).await.expect("drop");
}

#[derive(QueryableByName)]
struct Prepared {
    #[diesel(sql_type = Text)]
    statement: String,
}

/// The statements prepared on this session that mention `name`'s queue table.
fn prepared_for(statements: Vec<Prepared>, name: &QueueName) -> Vec<String> {
    let table = format!("\"q_{name}\"");
    statements
        .into_iter()
        .map(|p| p.statement)
        .filter(|s| s.contains(&table))
        .collect()
}

const PREPARED: &str = "SELECT statement FROM pg_prepared_statements";

fn assert_cached_once(prepared: &[String]) {
    let sends = prepared
        .iter()
        .filter(|s| s.contains("INSERT INTO"))
        .count();
    assert_eq!(sends, 1, "one prepared send for three calls: {prepared:#?}");
    assert!(
        !prepared.iter().any(|s| s.trim_start().starts_with("DO")),
        "one-off DDL must not stay prepared: {prepared:#?}"
    );
}

#[tokio::test]
async fn persistent_statements_are_prepared_once_per_connection() {
    let name = unique_queue_name("dsl_cache");
    let mut conn = connect().await;
    {
        let q = DieselConnQueue::new(&mut conn);
        q.create(&name, CreateOptions::new()).await.expect("create");
        for i in 0..3 {
            q.send(&name, &i, SendOptions::new()).await.expect("send");
        }
    }
    let statements = diesel::sql_query(PREPARED)
        .load::<Prepared>(&mut conn)
        .await
        .expect("prepared statements");
    assert_cached_once(&prepared_for(statements, &name));

    let sync_name = name.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let mut conn = connect_sync();
        let q = DieselSyncConnQueue::new(&mut conn);
        for i in 0..3 {
            q.send(&sync_name, &i, SendOptions::new()).expect("send");
        }
        q.drop_queue(&sync_name).expect("drop");
        let statements =
            diesel::RunQueryDsl::load::<Prepared>(diesel::sql_query(PREPARED), &mut conn)
                .expect("prepared statements");
        prepared_for(statements, &sync_name)
    })
    .await
    .expect("join");
    assert_cached_once(&prepared);
}

#[tokio::test]
async fn async_drop_queue_inside_a_rolled_back_transaction_keeps_the_queue() {
    // `drop_queue` is atomic on its own: inside the caller's transaction it is a savepoint, so
    // the caller's rollback still undoes it.
    let queue = DieselQueue::connect(&url()).await.expect("connect");
    let name = fresh(&queue, "dsl_tx_drop").await;
    let mut conn = queue.pool().get().await.expect("connection");
    let result = conn
        .transaction::<(), BoxError, _>(async |conn| {
            let q = DieselConnQueue::new(conn);
            assert!(q.drop_queue(&name).await?, "the queue existed");
            assert!(!q.drop_queue(&name).await?, "gone inside the transaction");
            Err(RolledBack.into())
        })
        .await;
    rolled_back(result);
    assert!(
        queue.drop_queue(&name).await.expect("drop"),
        "back after rollback"
    );
}

#[tokio::test]
async fn blocking_drop_queue_inside_a_rolled_back_transaction_keeps_the_queue() {
    let queue = DieselQueue::connect(&url()).await.expect("connect");
    let name = fresh(&queue, "dsl_btx_drop").await;
    let dropped = name.clone();
    let result = tokio::task::spawn_blocking(move || {
        connect_sync().transaction::<(), BoxError, _>(|conn| {
            let q = DieselSyncConnQueue::new(conn);
            assert!(q.drop_queue(&dropped)?, "the queue existed");
            assert!(!q.drop_queue(&dropped)?, "gone inside the transaction");
            Err(RolledBack.into())
        })
    })
    .await
    .expect("join");
    rolled_back(result);
    assert!(
        queue.drop_queue(&name).await.expect("drop"),
        "back after rollback"
    );
}
