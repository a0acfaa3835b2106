//! The pgmq extension's SQL functions, called with plain SQL as any other client calls them.

use serde_json::Value;
use sqlx::PgPool;

/// A row of `pgmq.message_record`, as the extension's read, pop and set_vt return it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) msg_id: i64,
    pub(crate) read_ct: i32,
    pub(crate) message: Value,
    pub(crate) headers: Option<Value>,
}

type RecordRow = (i64, i32, Value, Option<Value>);

fn records(rows: Vec<RecordRow>) -> Vec<Record> {
    rows.into_iter()
        .map(|(msg_id, read_ct, message, headers)| Record {
            msg_id,
            read_ct,
            message,
            headers,
        })
        .collect()
}

const RECORD: &str = "msg_id, read_ct, message, headers";

/// Awaits a query; a failure panics with the function's name and Postgres' message.
macro_rules! or_panic {
    ($e:expr, $call:expr) => {
        $e.await.unwrap_or_else(|e| panic!("{}: {e}", $call))
    };
}

/// `pgmq.create(queue)`.
pub(crate) async fn create(pool: &PgPool, queue: &str) {
    or_panic!(
        sqlx::query("SELECT pgmq.create($1)")
            .bind(queue)
            .execute(pool),
        "pgmq.create"
    );
}

/// `pgmq.create_unlogged(queue)`.
pub(crate) async fn create_unlogged(pool: &PgPool, queue: &str) {
    or_panic!(
        sqlx::query("SELECT pgmq.create_unlogged($1)")
            .bind(queue)
            .execute(pool),
        "pgmq.create_unlogged"
    );
}

/// `pgmq.send(queue, msg, headers, delay)`: the four-argument form with a delay in seconds.
pub(crate) async fn send(
    pool: &PgPool,
    queue: &str,
    msg: Value,
    headers: Option<Value>,
    delay_secs: i32,
) -> i64 {
    or_panic!(
        sqlx::query_scalar("SELECT * FROM pgmq.send($1, $2, $3, $4)")
            .bind(queue)
            .bind(msg)
            .bind(headers)
            .bind(delay_secs)
            .fetch_one(pool),
        "pgmq.send"
    )
}

/// `pgmq.send_batch(queue, msgs)`.
pub(crate) async fn send_batch(pool: &PgPool, queue: &str, msgs: Vec<Value>) -> Vec<i64> {
    or_panic!(
        sqlx::query_scalar("SELECT * FROM pgmq.send_batch($1, $2)")
            .bind(queue)
            .bind(msgs)
            .fetch_all(pool),
        "pgmq.send_batch"
    )
}

/// `pgmq.read(queue, vt, qty)`.
pub(crate) async fn read(pool: &PgPool, queue: &str, vt_secs: i32, qty: i32) -> Vec<Record> {
    records(or_panic!(
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD} FROM pgmq.read($1, $2, $3)"
        )))
        .bind(queue)
        .bind(vt_secs)
        .bind(qty)
        .fetch_all(pool),
        "pgmq.read"
    ))
}

/// `pgmq.read_with_poll(queue, vt, qty, max_poll_seconds, poll_interval_ms)`.
pub(crate) async fn read_with_poll(
    pool: &PgPool,
    queue: &str,
    vt_secs: i32,
    qty: i32,
    max_poll_secs: i32,
    poll_ms: i32,
) -> Vec<Record> {
    records(or_panic!(
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD} FROM pgmq.read_with_poll($1, $2, $3, $4, $5)"
        )))
        .bind(queue)
        .bind(vt_secs)
        .bind(qty)
        .bind(max_poll_secs)
        .bind(poll_ms)
        .fetch_all(pool),
        "pgmq.read_with_poll"
    ))
}

/// `pgmq.pop(queue, qty)`.
pub(crate) async fn pop(pool: &PgPool, queue: &str, qty: i32) -> Vec<Record> {
    records(or_panic!(
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD} FROM pgmq.pop($1, $2)"
        )))
        .bind(queue)
        .bind(qty)
        .fetch_all(pool),
        "pgmq.pop"
    ))
}

/// `pgmq.set_vt(queue, msg_id, vt)` with `vt` in seconds from now.
pub(crate) async fn set_vt(pool: &PgPool, queue: &str, msg_id: i64, vt_secs: i32) -> Vec<Record> {
    records(or_panic!(
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD} FROM pgmq.set_vt($1, $2, $3)"
        )))
        .bind(queue)
        .bind(msg_id)
        .bind(vt_secs)
        .fetch_all(pool),
        "pgmq.set_vt"
    ))
}

/// `pgmq.delete(queue, msg_id)`.
pub(crate) async fn delete(pool: &PgPool, queue: &str, msg_id: i64) -> bool {
    or_panic!(
        sqlx::query_scalar("SELECT pgmq.delete($1, $2)")
            .bind(queue)
            .bind(msg_id)
            .fetch_one(pool),
        "pgmq.delete"
    )
}

/// `pgmq.archive(queue, msg_id)`.
pub(crate) async fn archive(pool: &PgPool, queue: &str, msg_id: i64) -> bool {
    or_panic!(
        sqlx::query_scalar("SELECT pgmq.archive($1, $2)")
            .bind(queue)
            .bind(msg_id)
            .fetch_one(pool),
        "pgmq.archive"
    )
}

/// `pgmq.archive(queue, msg_ids)`: the batch form; the ids archived.
pub(crate) async fn archive_batch(pool: &PgPool, queue: &str, msg_ids: &[i64]) -> Vec<i64> {
    or_panic!(
        sqlx::query_scalar("SELECT * FROM pgmq.archive($1, $2)")
            .bind(queue)
            .bind(msg_ids)
            .fetch_all(pool),
        "pgmq.archive (batch)"
    )
}

/// The extension's own metrics of a queue: `pgmq.metrics(queue)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Metrics {
    pub(crate) queue_length: i64,
    pub(crate) queue_visible_length: i64,
    pub(crate) total_messages: i64,
}

/// `pgmq.metrics(queue)`.
pub(crate) async fn metrics(pool: &PgPool, queue: &str) -> Metrics {
    let (queue_length, queue_visible_length, total_messages) = or_panic!(
        sqlx::query_as(
            "SELECT queue_length, queue_visible_length, total_messages FROM pgmq.metrics($1)"
        )
        .bind(queue)
        .fetch_one(pool),
        "pgmq.metrics"
    );
    Metrics {
        queue_length,
        queue_visible_length,
        total_messages,
    }
}

/// `pgmq.metrics_all()`: queue names and lengths.
pub(crate) async fn metrics_all(pool: &PgPool) -> Vec<(String, i64)> {
    or_panic!(
        sqlx::query_as("SELECT queue_name, queue_length FROM pgmq.metrics_all() ORDER BY 1")
            .fetch_all(pool),
        "pgmq.metrics_all"
    )
}

/// `pgmq.list_queues()`: name, partitioned, unlogged.
pub(crate) async fn list_queues(pool: &PgPool) -> Vec<(String, bool, bool)> {
    or_panic!(
        sqlx::query_as(
            "SELECT queue_name::text, is_partitioned, is_unlogged FROM pgmq.list_queues() ORDER BY 1"
        )
        .fetch_all(pool),
        "pgmq.list_queues"
    )
}

/// `pgmq.drop_queue(queue)`.
pub(crate) async fn drop_queue(pool: &PgPool, queue: &str) -> bool {
    or_panic!(
        sqlx::query_scalar("SELECT pgmq.drop_queue($1)")
            .bind(queue)
            .fetch_one(pool),
        "pgmq.drop_queue"
    )
}

/// One value of a scalar query of the check's own.
pub(crate) async fn scalar<T>(pool: &PgPool, text: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    or_panic!(
        sqlx::query_scalar(sqlx::AssertSqlSafe(text.to_owned())).fetch_one(pool),
        text
    )
}

/// A statement of the check's own.
pub(crate) async fn execute(pool: &PgPool, text: &str) {
    or_panic!(
        sqlx::raw_sql(sqlx::AssertSqlSafe(text.to_owned())).execute(pool),
        text
    );
}
