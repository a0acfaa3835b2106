//! Queue attributes: this library's own table, `pgmq_rs.queue_attributes`, and the statements
//! that read, write and apply it.

use super::{archive_table, columns, Binds};
use crate::adapter::{Column, Param, Statement};
use crate::name::QueueName;

/// The attributes table.
pub(super) const ATTRIBUTES_TABLE: &str = "pgmq_rs.queue_attributes";

/// Advisory-lock key that serializes attribute changes (a dead-letter cycle check must see
/// every other change).
const ATTRIBUTES_LOCK: &str = "pgmq_rs.attributes";

/// The attributes as stored: one row per queue with attributes, deleted with the queue's
/// `pgmq.meta` row. A dead-letter queue cannot be dropped while a queue names it.
pub(super) fn ddl() -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS pgmq_rs;
  CREATE TABLE IF NOT EXISTS {ATTRIBUTES_TABLE} (
    queue_name VARCHAR PRIMARY KEY REFERENCES pgmq.meta (queue_name) ON DELETE CASCADE,
    default_vt_ms BIGINT CHECK (default_vt_ms >= 0),
    default_delay_ms BIGINT CHECK (default_delay_ms >= 0),
    max_message_bytes BIGINT CHECK (max_message_bytes > 0),
    archive_retention_ms BIGINT CHECK (archive_retention_ms >= 0),
    max_receive_count INT CHECK (max_receive_count > 0),
    dead_letter_queue VARCHAR REFERENCES pgmq.meta (queue_name),
    CHECK ((max_receive_count IS NULL) = (dead_letter_queue IS NULL)),
    CHECK (dead_letter_queue <> queue_name)
  );"
    )
}

/// `(SELECT <column> FROM pgmq_rs.queue_attributes WHERE queue_name = <name>)`: one
/// attribute of queue `q`, `NULL` without a row. The name is a validated [`QueueName`], so it
/// is safe as a literal, and keeps the statement text fixed per queue.
pub(super) fn attribute(q: &QueueName, column: &str) -> String {
    format!("(SELECT {column} FROM {ATTRIBUTES_TABLE} WHERE queue_name = '{q}')")
}

/// A stored attributes row (`NULL`s where unset).
const STORED: &[Column] = columns![
    default_vt_ms: Int8, default_delay_ms: Int8, max_message_bytes: Int8,
    archive_retention_ms: Int8, max_receive_count: Int4, dead_letter_queue: Text,
];

/// A queue's attributes: one row of [`STORED`] for a queue in `pgmq.meta`, none for a queue
/// that does not exist.
pub fn attributes(q: &QueueName) -> Statement {
    let mut b = Binds::default();
    let name = b.bind(Param::Text(q.to_string()));
    let sql = format!(
        "SELECT a.default_vt_ms, a.default_delay_ms, a.max_message_bytes,
       a.archive_retention_ms, a.max_receive_count, a.dead_letter_queue::text
FROM pgmq.meta m LEFT JOIN {ATTRIBUTES_TABLE} a ON a.queue_name = m.queue_name
WHERE m.queue_name = {name}"
    );
    b.finish(sql, STORED)
}

/// The values [`set_attributes`] stores, in milliseconds and counts.
#[derive(Debug, Default)]
pub struct StoredAttributes {
    /// `default_vt_ms`
    pub default_vt_ms: Option<i64>,
    /// `default_delay_ms`
    pub default_delay_ms: Option<i64>,
    /// `max_message_bytes`
    pub max_message_bytes: Option<i64>,
    /// `archive_retention_ms`
    pub archive_retention_ms: Option<i64>,
    /// `max_receive_count` and `dead_letter_queue`, set together.
    pub dead_letter: Option<(i64, QueueName)>,
}

/// What [`set_attributes`] found: whether the queue exists, whether the dead-letter queue
/// exists, and whether it would close a cycle. It wrote only if all three were right.
const CHECKED: &[Column] = columns![queue_exists: Bool, dead_letter_exists: Bool, cycle: Bool];

/// Replacing a queue's attributes: the lock, then one statement that checks and writes only
/// if the checks pass, answering [`CHECKED`]. Run atomically, in this order.
pub fn set_attributes(q: &QueueName, values: StoredAttributes) -> [Statement; 2] {
    let mut b = Binds::default();
    let key = b.bind(Param::Text(ATTRIBUTES_LOCK.into()));
    let lock = b.finish(
        format!("SELECT pg_advisory_xact_lock(hashtext({key}))"),
        &[],
    );

    let mut b = Binds::default();
    let name = b.bind(Param::Text(q.to_string()));
    let (max_receive, dlq) = match values.dead_letter {
        Some((max, dlq)) => (Some(max), Some(dlq.to_string())),
        None => (None, None),
    };
    let dlq = match dlq {
        Some(d) => b.bind(Param::Text(d)),
        None => "NULL::text".into(),
    };
    let vt = b.bind(Param::NullableInt8(values.default_vt_ms));
    let delay = b.bind(Param::NullableInt8(values.default_delay_ms));
    let size = b.bind(Param::NullableInt8(values.max_message_bytes));
    let retention = b.bind(Param::NullableInt8(values.archive_retention_ms));
    let max_receive = b.bind(Param::NullableInt8(max_receive));
    let sql = format!(
        "WITH d AS (
  SELECT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = {name}) AS queue_exists,
         ({dlq} IS NULL OR EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = {dlq}))
           AS dead_letter_exists,
         ({dlq} IS NOT NULL AND EXISTS (
           WITH RECURSIVE chain(q) AS (
             SELECT {dlq}
             UNION
             SELECT a.dead_letter_queue::text
             FROM chain JOIN {ATTRIBUTES_TABLE} a ON a.queue_name = chain.q
             WHERE a.dead_letter_queue IS NOT NULL)
           SELECT 1 FROM chain WHERE q = {name})) AS cycle
), written AS (
  INSERT INTO {ATTRIBUTES_TABLE} AS t (queue_name, default_vt_ms, default_delay_ms,
    max_message_bytes, archive_retention_ms, max_receive_count, dead_letter_queue)
  SELECT {name}, {vt}, {delay}, {size}, {retention}, {max_receive}::int, {dlq}
  FROM d WHERE d.queue_exists AND d.dead_letter_exists AND NOT d.cycle
  ON CONFLICT (queue_name) DO UPDATE SET
    default_vt_ms = EXCLUDED.default_vt_ms,
    default_delay_ms = EXCLUDED.default_delay_ms,
    max_message_bytes = EXCLUDED.max_message_bytes,
    archive_retention_ms = EXCLUDED.archive_retention_ms,
    max_receive_count = EXCLUDED.max_receive_count,
    dead_letter_queue = EXCLUDED.dead_letter_queue
  RETURNING 1
)
SELECT queue_exists, dead_letter_exists, cycle FROM d"
    );
    [lock, b.finish(sql, CHECKED)]
}

/// Deletes up to `chunk` archived messages older than the queue's archive retention, oldest
/// first, skipping rows another session holds; returns how many. Nothing without a retention.
pub fn trim_archive(q: &QueueName, chunk: i64) -> Statement {
    let mut b = Binds::default();
    let chunk = b.bind(Param::Int8(chunk));
    let at = archive_table(q);
    let sql = format!(
        "WITH old AS (
  SELECT msg_id FROM {at}
  WHERE archived_at < clock_timestamp()
    - {retention} * interval '1 millisecond'
  ORDER BY archived_at
  LIMIT {chunk}
  FOR UPDATE SKIP LOCKED
), trimmed AS (DELETE FROM {at} x USING old WHERE x.msg_id = old.msg_id RETURNING 1)
SELECT count(*)::bigint AS count FROM trimmed",
        retention = attribute(q, "archive_retention_ms"),
    );
    b.finish(sql, super::COUNT)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    #[test]
    fn set_attributes_writes_only_what_passes_its_checks() {
        let values = StoredAttributes {
            default_vt_ms: Some(5000),
            dead_letter: Some((3, name("jobs_dlq"))),
            ..StoredAttributes::default()
        };
        let [lock, set] = set_attributes(&name("jobs"), values);
        assert_eq!(lock.params, vec![Param::Text(ATTRIBUTES_LOCK.into())]);
        assert!(set
            .sql
            .contains("FROM d WHERE d.queue_exists AND d.dead_letter_exists AND NOT d.cycle"));
        assert_eq!(set.params[0], Param::Text("jobs".into()));
        assert_eq!(set.params[1], Param::Text("jobs_dlq".into()));
        assert_eq!(set.params[2], Param::NullableInt8(Some(5000)));
        assert_eq!(set.params[6], Param::NullableInt8(Some(3)));
    }

    #[test]
    fn trim_archive_deletes_in_bounded_chunks_by_the_retention() {
        let st = trim_archive(&name("jobs"), 500);
        assert!(st.sql.contains("LIMIT $1::bigint"));
        assert!(st.sql.contains(
            "(SELECT archive_retention_ms FROM pgmq_rs.queue_attributes WHERE queue_name = 'jobs')"
        ));
        assert!(st.sql.contains("FOR UPDATE SKIP LOCKED"));
    }
}
