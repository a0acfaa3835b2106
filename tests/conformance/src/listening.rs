//! Checks of waiting that need more than a [`Queue`]: the [`Executor`] under it (to count
//! the statements it runs) and a way to run SQL of the test's own (a plain `INSERT` from
//! another client, killing the listening connection). Each adapter's tests call them with
//! its pool-backed executor.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pgmq_core::adapter::{Executor, Listener, Row, Statement};
use pgmq_core::serde_json::json;
use pgmq_core::{Queue, QueueExt, QueueName, ReadOptions, Result, SendOptions};
use tokio::time::{sleep, Instant};

use crate::fresh_queue;

/// Runs one SQL text on a connection of the test's own, panicking on failure.
pub type Sql = Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// An executor that counts the statements it runs (each `query` and `query_atomic` call)
/// and otherwise is `E`: same connections, same listener.
pub struct Counting<E> {
    inner: E,
    statements: AtomicUsize,
}

impl<E> Counting<E> {
    /// Counts what `inner` runs.
    pub fn new(inner: E) -> Self {
        Self {
            inner,
            statements: AtomicUsize::new(0),
        }
    }

    /// Statements run so far.
    pub fn statements(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl<E: Executor> Executor for Counting<E> {
    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        self.statements.fetch_add(1, Ordering::SeqCst);
        self.inner.query(statement).await
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        self.statements.fetch_add(1, Ordering::SeqCst);
        self.inner.query_atomic(statements).await
    }

    async fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration).await;
    }

    fn listener(&self) -> Option<Arc<dyn Listener>> {
        self.inner.listener()
    }
}

/// A polling interval far longer than any of these checks wait for a message.
const SLOW: Duration = Duration::from_secs(30);

fn waiting(wait: Duration) -> ReadOptions {
    ReadOptions::new().wait(wait).poll_interval(SLOW)
}

/// 16 readers waiting on an empty queue run no statement at all while they wait; a send
/// then reaches exactly one of them.
///
/// # Panics
/// When the check fails.
pub async fn parked_readers_run_no_statements<E: Executor + 'static>(executor: E) {
    let q = Arc::new(Counting::new(executor));
    let name = fresh_queue(&*q, "parked").await;
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let (q, name) = (Arc::clone(&q), name.clone());
            tokio::spawn(async move {
                q.read_json(&name, waiting(Duration::from_secs(6)))
                    .await
                    .expect("read with wait")
                    .len()
            })
        })
        .collect();
    // Each reads, asks, reads again, then parks.
    sleep(Duration::from_millis(1500)).await;
    let before = q.statements();
    sleep(Duration::from_secs(2)).await;
    let after = q.statements();
    assert_eq!(
        after,
        before,
        "16 parked readers ran {} statements in 2 s",
        after - before
    );
    let sent = Instant::now();
    q.send(&name, &json!("one"), SendOptions::new())
        .await
        .expect("send");
    let mut got = 0;
    for reader in readers {
        got += reader.await.expect("reader task");
    }
    assert_eq!(got, 1, "one message, one reader");
    assert!(sent.elapsed() < Duration::from_secs(4));
    q.drop_queue(&name).await.expect("drop");
}

/// A message inserted with plain SQL by another client (not this library) wakes a reader.
///
/// # Panics
/// When the check fails.
pub async fn a_plain_insert_wakes_a_waiting_reader<E: Executor + 'static>(executor: E, sql: Sql) {
    let name = fresh_queue(&executor, "plain").await;
    let reader = executor.read_json(&name, waiting(Duration::from_secs(20)));
    let insert = async {
        sleep(Duration::from_millis(400)).await;
        sql(format!(
            "INSERT INTO pgmq.\"q_{name}\" (vt, message) VALUES (clock_timestamp(), '{{\"by\": \"sql\"}}')"
        ))
        .await;
        Instant::now()
    };
    let (got, inserted) = tokio::join!(reader, insert);
    let got = got.expect("read with wait");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message, json!({"by": "sql"}));
    let late = inserted.elapsed();
    assert!(
        late < Duration::from_secs(2),
        "woke {late:?} after the insert"
    );
    executor.drop_queue(&name).await.expect("drop");
}

/// Kills the listening connection of this process for `name` (the one whose `LISTEN`
/// names its channel).
async fn kill_listener(sql: &Sql, name: &QueueName) {
    // Fails (and so panics) when there was no such connection to kill.
    sql(format!(
        "DO $kill$ BEGIN
           IF (SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN%'
                 AND query LIKE '%\"pgmq.q_{name}.INSERT\"%') = 0 THEN
             RAISE EXCEPTION 'no listening connection for {name}';
           END IF;
         END $kill$"
    ))
    .await;
}

/// The listening connection killed while a reader waits: the reader still gets a message
/// sent right after (by slow polling, then through the new connection), and once the
/// connection is back, the next send wakes a reader within moments again.
///
/// # Panics
/// When the check fails.
pub async fn waiting_readers_recover_when_the_listener_is_killed<E: Executor + 'static>(
    executor: E,
    sql: Sql,
) {
    let name = fresh_queue(&executor, "killed").await;
    for round in 0..2 {
        let reader = executor.read_json(&name, waiting(Duration::from_secs(20)));
        let sender = async {
            sleep(Duration::from_millis(500)).await;
            if round == 0 {
                kill_listener(&sql, &name).await;
                sleep(Duration::from_millis(100)).await;
            }
            let id = executor
                .send(&name, &json!({ "round": round }), SendOptions::new())
                .await
                .expect("send");
            (id, Instant::now())
        };
        let (got, (id, sent)) = tokio::join!(reader, sender);
        let got = got.expect("read with wait");
        assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![id]);
        let late = sent.elapsed();
        let limit = Duration::from_secs(if round == 0 { 4 } else { 2 });
        assert!(
            late < limit,
            "round {round}: got it {late:?} after the send"
        );
        // Let the listener reconnect before the next round.
        sleep(Duration::from_millis(1500)).await;
    }
    executor.drop_queue(&name).await.expect("drop");
}
