//! Every SQL statement pgmq-rs runs. Table names come only from a validated [`QueueName`]
//! and are always quoted; everything else travels as a bind parameter.
//!
//! The layout is the pgmq extension's: schema `pgmq`, table `pgmq.meta`, queue tables
//! `pgmq.q_<name>` and archives `pgmq.a_<name>` with the same columns and indexes, so queues
//! made here work with the extension's functions and the reverse.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::name::QueueName;
use crate::statement::{Param, SqlType, Statement};

use SqlType::{Bool, Int4, Int8, Jsonb, Text, Timestamptz};

/// Columns of a message row, in the order of [`MESSAGE_COLUMNS`].
const MESSAGE_SELECT: &str = "msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers";
pub const MESSAGE_COLUMNS: &[SqlType] = &[
    Int8,
    Int4,
    Timestamptz,
    Timestamptz,
    Timestamptz,
    Jsonb,
    Jsonb,
];
pub const ARCHIVE_COLUMNS: &[SqlType] = &[
    Int8,
    Int4,
    Timestamptz,
    Timestamptz,
    Timestamptz,
    Jsonb,
    Jsonb,
    Timestamptz,
];
pub const ID_COLUMNS: &[SqlType] = &[Int8];
pub const QUEUE_INFO_COLUMNS: &[SqlType] = &[Text, Timestamptz, Bool, Bool];
pub const METRICS_COLUMNS: &[SqlType] = &[Text, Int8, Int8, Int4, Int4, Int8, Timestamptz];

/// Advisory-lock key shared by every process installing the schema.
const INSTALL_LOCK: &str = "pgmq.install";

/// The visibility instant: `$ts` when given, else `$ms` milliseconds after `now_expr`.
fn visible_at(ms: usize, ts: usize, now_expr: &str) -> String {
    format!("COALESCE(${ts}::timestamptz, {now_expr} + ${ms}::bigint * interval '1 millisecond')")
}

/// Quoted `pgmq."q_<name>"`.
fn queue_table(q: &QueueName) -> String {
    format!("pgmq.\"q_{q}\"")
}

/// Quoted `pgmq."a_<name>"`.
fn archive_table(q: &QueueName) -> String {
    format!("pgmq.\"a_{q}\"")
}

fn install_body() -> String {
    format!(
        "PERFORM pg_advisory_xact_lock(hashtext('{INSTALL_LOCK}'));
  CREATE SCHEMA IF NOT EXISTS pgmq;
  CREATE TABLE IF NOT EXISTS pgmq.meta (
    queue_name VARCHAR UNIQUE NOT NULL,
    is_partitioned BOOLEAN NOT NULL,
    is_unlogged BOOLEAN NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL
  );"
    )
}

/// Creates schema `pgmq` and `pgmq.meta` if missing. One `DO` block under an advisory lock,
/// so many processes can run it at once.
pub fn install() -> Statement {
    Statement::new(
        format!("DO $pgmq$\nBEGIN\n  {}\nEND\n$pgmq$", install_body()),
        &[],
    )
    .one_off()
}

/// Creates a queue, its archive, their indexes and its `pgmq.meta` row if missing (and the
/// schema, as [`install`] does). The advisory lock is the extension's per-queue lock, so this
/// also serializes with the extension's own `create`.
pub fn create(q: &QueueName, unlogged: bool) -> Statement {
    let (qt, at) = (queue_table(q), archive_table(q));
    let kind = if unlogged { "UNLOGGED TABLE" } else { "TABLE" };
    let sql = format!(
        "DO $pgmq$
BEGIN
  {install}
  PERFORM pg_advisory_xact_lock(hashtext('pgmq.queue_{q}'));
  CREATE {kind} IF NOT EXISTS {qt} (
    msg_id BIGINT PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    read_ct INT DEFAULT 0 NOT NULL,
    enqueued_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    last_read_at TIMESTAMP WITH TIME ZONE,
    vt TIMESTAMP WITH TIME ZONE NOT NULL,
    message JSONB,
    headers JSONB
  );
  CREATE INDEX IF NOT EXISTS \"q_{q}_vt_idx\" ON {qt} (vt ASC);
  CREATE TABLE IF NOT EXISTS {at} (
    msg_id BIGINT PRIMARY KEY,
    read_ct INT DEFAULT 0 NOT NULL,
    enqueued_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    last_read_at TIMESTAMP WITH TIME ZONE,
    archived_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    vt TIMESTAMP WITH TIME ZONE NOT NULL,
    message JSONB,
    headers JSONB
  );
  CREATE INDEX IF NOT EXISTS \"archived_at_idx_{q}\" ON {at} (archived_at);
  INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged)
  VALUES ('{q}', false, {unlogged})
  ON CONFLICT (queue_name) DO NOTHING;
END
$pgmq$",
        install = install_body(),
    );
    Statement::new(sql, &[]).one_off()
}

/// Dropping a queue: lock, look, drop. Run atomically; the second statement's single
/// boolean says whether the queue existed.
pub fn drop_queue(q: &QueueName) -> [Statement; 3] {
    let lock = Statement::new(
        "SELECT pg_advisory_xact_lock(hashtext($1::text))".into(),
        &[],
    )
    .bind(Param::Text(format!("pgmq.queue_{q}")));
    let exists = Statement::new("SELECT to_regclass($1::text) IS NOT NULL".into(), &[Bool])
        .bind(Param::Text(queue_table(q)));
    let drop = Statement::new(
        format!(
            "DO $pgmq$
BEGIN
  DROP TABLE IF EXISTS {qt};
  DROP TABLE IF EXISTS {at};
  IF to_regclass('pgmq.meta') IS NOT NULL THEN
    DELETE FROM pgmq.meta WHERE queue_name = '{q}';
  END IF;
END
$pgmq$",
            qt = queue_table(q),
            at = archive_table(q),
        ),
        &[],
    )
    .one_off();
    [lock, exists, drop]
}

/// Deletes every message; returns how many.
pub fn purge(q: &QueueName) -> Statement {
    Statement::new(
        format!(
            "WITH purged AS (DELETE FROM {} RETURNING 1) SELECT count(*)::bigint FROM purged",
            queue_table(q)
        ),
        ID_COLUMNS,
    )
}

pub fn list_queues() -> Statement {
    Statement::new(
        "SELECT queue_name::text, created_at, is_partitioned, is_unlogged \
         FROM pgmq.meta ORDER BY queue_name"
            .into(),
        QUEUE_INFO_COLUMNS,
    )
}

/// One row of [`METRICS_COLUMNS`]. The message total comes from the identity sequence, as
/// the extension's does; every age is measured against one server instant.
pub fn metrics(q: &QueueName) -> Statement {
    Statement::new(
        format!(
            "SELECT $1::text, s.len, s.visible,
       floor(extract(epoch FROM (n.t - s.newest)))::int,
       floor(extract(epoch FROM (n.t - s.oldest)))::int,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM pgmq.\"q_{q}_msg_id_seq\"),
       n.t
FROM (SELECT clock_timestamp() AS t) n,
LATERAL (SELECT count(*) AS len,
                count(*) FILTER (WHERE vt <= n.t) AS visible,
                max(enqueued_at) AS newest,
                min(enqueued_at) AS oldest
         FROM {}) s",
            queue_table(q)
        ),
        METRICS_COLUMNS,
    )
    .bind(Param::Text(q.to_string()))
}

/// Inserts one message. `$2`/`$3` are the delay (milliseconds or instant), `$4` the headers.
pub fn send(
    q: &QueueName,
    message: Value,
    delay: (i64, Option<DateTime<Utc>>),
    headers: Option<Value>,
) -> Statement {
    Statement::new(
        format!(
            "INSERT INTO {} (enqueued_at, vt, message, headers)
SELECT c.now, {}, $1::jsonb, $4::jsonb
FROM (SELECT clock_timestamp() AS now) c
RETURNING msg_id",
            queue_table(q),
            visible_at(2, 3, "c.now")
        ),
        ID_COLUMNS,
    )
    .bind(Param::Jsonb(Some(message)))
    .bind(Param::Int8(delay.0))
    .bind(Param::Timestamptz(delay.1))
    .bind(Param::Jsonb(headers))
}

/// Inserts many messages in one statement, in input order (ids ascend with it).
pub fn send_batch(
    q: &QueueName,
    messages: Vec<Value>,
    delay: (i64, Option<DateTime<Utc>>),
    headers: Option<Value>,
) -> Statement {
    Statement::new(
        format!(
            "INSERT INTO {} (enqueued_at, vt, message, headers)
SELECT c.now, {}, m.message, $4::jsonb
FROM (SELECT clock_timestamp() AS now) c,
     unnest($1::jsonb[]) WITH ORDINALITY AS m(message, ord)
ORDER BY m.ord
RETURNING msg_id",
            queue_table(q),
            visible_at(2, 3, "c.now")
        ),
        ID_COLUMNS,
    )
    .bind(Param::JsonbArray(messages))
    .bind(Param::Int8(delay.0))
    .bind(Param::Timestamptz(delay.1))
    .bind(Param::Jsonb(headers))
}

/// The claim shared by read and pop: the visible messages that became visible first,
/// locked, skipping rows another reader holds.
///
/// `vt <= (SELECT clock_timestamp())` is an init-plan evaluated once, so it is an index
/// condition on the `vt` index, and `ORDER BY vt` is that index's order: the scan starts at
/// the visible end and stops after `LIMIT` rows, never walking the invisible messages in
/// flight, however many there are. (Ordering by `msg_id`, as the extension does, walks every
/// invisible message with a lower id first.) Messages sharing a `vt` (one batch) come in
/// index order, which is insertion order.
fn claim(qt: &str, limit_param: usize, filter_param: Option<usize>) -> String {
    let filter = filter_param
        .map(|p| format!(" AND (${p}::jsonb IS NULL OR message @> ${p}::jsonb)"))
        .unwrap_or_default();
    format!(
        "SELECT msg_id FROM {qt}
  WHERE vt <= (SELECT clock_timestamp()){filter}
  ORDER BY vt
  LIMIT ${limit_param}::bigint
  FOR UPDATE SKIP LOCKED"
    )
}

/// Claims up to `$2` messages matching filter `$3` and hides them for `$1` milliseconds.
pub fn read(q: &QueueName, vt_ms: i64, qty: i64, filter: Option<Value>) -> Statement {
    let qt = queue_table(q);
    Statement::new(
        format!(
            "WITH claimed AS ({claim})
UPDATE {qt} m
SET vt = clock_timestamp() + $1::bigint * interval '1 millisecond',
    read_ct = m.read_ct + 1,
    last_read_at = clock_timestamp()
FROM claimed
WHERE m.msg_id = claimed.msg_id
RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers",
            claim = claim(&qt, 2, Some(3)),
        ),
        MESSAGE_COLUMNS,
    )
    .bind(Param::Int8(vt_ms))
    .bind(Param::Int8(qty))
    .bind(Param::Jsonb(filter))
}

/// Claims and deletes up to `$1` messages in one statement.
pub fn pop(q: &QueueName, qty: i64) -> Statement {
    let qt = queue_table(q);
    Statement::new(
        format!(
            "WITH claimed AS ({claim})
DELETE FROM {qt} m
USING claimed
WHERE m.msg_id = claimed.msg_id
RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers",
            claim = claim(&qt, 1, None),
        ),
        MESSAGE_COLUMNS,
    )
    .bind(Param::Int8(qty))
}

/// Moves the visibility of messages `$1` to `$2`/`$3`.
pub fn set_vt(q: &QueueName, ids: Vec<i64>, vt: (i64, Option<DateTime<Utc>>)) -> Statement {
    Statement::new(
        format!(
            "UPDATE {} SET vt = {}
WHERE msg_id = ANY($1::bigint[])
RETURNING {MESSAGE_SELECT}",
            queue_table(q),
            visible_at(2, 3, "clock_timestamp()")
        ),
        MESSAGE_COLUMNS,
    )
    .bind(Param::Int8Array(ids))
    .bind(Param::Int8(vt.0))
    .bind(Param::Timestamptz(vt.1))
}

pub fn delete(q: &QueueName, ids: Vec<i64>) -> Statement {
    Statement::new(
        format!(
            "DELETE FROM {} WHERE msg_id = ANY($1::bigint[]) RETURNING msg_id",
            queue_table(q)
        ),
        ID_COLUMNS,
    )
    .bind(Param::Int8Array(ids))
}

/// Moves messages to the archive in one statement, stamping `archived_at`.
pub fn archive(q: &QueueName, ids: Vec<i64>) -> Statement {
    Statement::new(
        format!(
            "WITH moved AS (
  DELETE FROM {} WHERE msg_id = ANY($1::bigint[])
  RETURNING {MESSAGE_SELECT}
)
INSERT INTO {} (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers, archived_at)
SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers, clock_timestamp()
FROM moved
RETURNING msg_id",
            queue_table(q),
            archive_table(q)
        ),
        ID_COLUMNS,
    )
    .bind(Param::Int8Array(ids))
}

pub fn read_archive(q: &QueueName, ids: Vec<i64>) -> Statement {
    Statement::new(
        format!(
            "SELECT {MESSAGE_SELECT}, archived_at FROM {}
WHERE msg_id = ANY($1::bigint[]) ORDER BY msg_id",
            archive_table(q)
        ),
        ARCHIVE_COLUMNS,
    )
    .bind(Param::Int8Array(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> QueueName {
        QueueName::new(s).unwrap()
    }

    #[test]
    fn table_names_are_quoted_and_lowercase() {
        let st = delete(&name("Orders"), vec![1]);
        assert_eq!(
            st.sql,
            "DELETE FROM pgmq.\"q_orders\" WHERE msg_id = ANY($1::bigint[]) RETURNING msg_id"
        );
        assert_eq!(st.params, vec![Param::Int8Array(vec![1])]);
    }

    #[test]
    fn read_claims_through_the_vt_index_and_binds_every_value() {
        let st = read(&name("jobs"), 30_000, 10, None);
        assert!(st.sql.contains("WHERE vt <= (SELECT clock_timestamp())"));
        assert!(st.sql.contains("ORDER BY vt\n"));
        assert!(st.sql.contains("FOR UPDATE SKIP LOCKED"));
        assert_eq!(
            st.params,
            vec![Param::Int8(30_000), Param::Int8(10), Param::Jsonb(None)]
        );
        assert_eq!(st.columns, MESSAGE_COLUMNS);
        assert!(st.persistent);
    }

    #[test]
    fn every_placeholder_is_cast_so_drivers_can_prepare() {
        let q = name("jobs");
        let all = [
            send(&q, Value::Null, (0, None), None),
            send_batch(&q, vec![], (0, None), None),
            read(&q, 0, 1, None),
            pop(&q, 1),
            set_vt(&q, vec![], (0, None)),
            delete(&q, vec![]),
            archive(&q, vec![]),
            read_archive(&q, vec![]),
            metrics(&q),
        ];
        for st in all {
            for i in 1..=st.params.len() {
                let bare = format!("${i}");
                let cast_or_absent = st
                    .sql
                    .match_indices(&bare)
                    .all(|(at, _)| st.sql[at + bare.len()..].starts_with("::"));
                assert!(cast_or_absent, "uncast {bare} in {}", st.sql);
            }
        }
    }

    #[test]
    fn ddl_uses_the_extension_layout() {
        let st = create(&name("jobs"), true);
        assert!(st
            .sql
            .contains("CREATE UNLOGGED TABLE IF NOT EXISTS pgmq.\"q_jobs\""));
        assert!(st
            .sql
            .contains("CREATE INDEX IF NOT EXISTS \"q_jobs_vt_idx\""));
        assert!(st
            .sql
            .contains("CREATE INDEX IF NOT EXISTS \"archived_at_idx_jobs\""));
        assert!(st
            .sql
            .contains("pg_advisory_xact_lock(hashtext('pgmq.queue_jobs'))"));
        assert!(!st.persistent);
        assert!(create(&name("jobs"), false)
            .sql
            .contains("CREATE TABLE IF NOT EXISTS pgmq.\"q_jobs\""));
    }
}
