//! Sending: one message, or a batch in one statement, with the queue's default delay and
//! maximum message size applied in the same statement.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::attributes::{attribute, ATTRIBUTES_TABLE};
use super::{columns, queue_table, Binds, IDS};
use crate::adapter::{Column, Param, Statement};
use crate::name::QueueName;

/// When sent messages become visible: at an instant, or after a delay in milliseconds, or
/// (neither) after the queue's default delay, else at once.
pub(super) type Delay = (Option<i64>, Option<DateTime<Utc>>);

/// Inserts one message with `delay` and `headers`; returns its id, or no row when the
/// message is over the queue's maximum size (then nothing was written: see [`oversized`]).
///
/// One plain `INSERT … SELECT` with the queue's attributes row left-joined once: for a
/// single message the size check is a filter on that one row. (The batch form's `NOT EXISTS`
/// check cost a single send about 10% of its throughput with synchronous commit, measured
/// with pgbench; this form about 5%, against a send that reads no attributes.)
pub fn send(q: &QueueName, message: Value, delay: Delay, headers: Option<Value>) -> Statement {
    let mut b = Binds::default();
    let message = b.bind(Param::Jsonb(Some(message)));
    let millis = b.bind(Param::NullableInt8(delay.0));
    let at = b.bind(Param::Timestamptz(delay.1));
    let headers = b.bind(Param::Jsonb(headers));
    let sql = format!(
        "INSERT INTO {qt} (enqueued_at, vt, message, headers)
SELECT c.now,
       COALESCE({at}, c.now + COALESCE({millis}, a.default_delay_ms, 0) * interval '1 millisecond'),
       m.message, {headers}
FROM (SELECT clock_timestamp() AS now) c
CROSS JOIN (SELECT {message} AS message) m
LEFT JOIN {ATTRIBUTES_TABLE} a ON a.queue_name = '{q}'
WHERE a.max_message_bytes IS NULL OR octet_length(m.message::text) <= a.max_message_bytes
RETURNING msg_id",
        qt = queue_table(q),
    );
    b.finish(sql, IDS)
}

/// Inserts many messages in one statement, in input order (ids ascend with it), each with
/// the same delay and headers; returns their ids, or none when a message is over the queue's
/// maximum size (then nothing of the batch was written: see [`oversized`]).
pub fn send_batch(
    q: &QueueName,
    messages: Vec<Value>,
    delay: Delay,
    headers: Option<Value>,
) -> Statement {
    let mut b = Binds::default();
    let messages = b.bind(Param::JsonbArray(messages));
    let rows = format!("unnest({messages}) WITH ORDINALITY AS m(message, ord)");
    let checked = format!("unnest({messages}) AS x(message)");
    insert(q, b, &rows, &checked, delay, headers)
}

/// The insert of [`send_batch`]: one plain `INSERT … RETURNING` (a
/// statement built around CTEs cost about 15% of a send's server time, measured with
/// pgbench). `rows` yields the messages as `m`, `checked` yields them again as `x` for the
/// size check, which reads the queue's limit first (`LATERAL` fixes that order even in a
/// generic plan): without a limit, no size is computed.
fn insert(
    q: &QueueName,
    mut b: Binds,
    rows: &str,
    checked: &str,
    delay: Delay,
    headers: Option<Value>,
) -> Statement {
    let millis = b.bind(Param::NullableInt8(delay.0));
    let at = b.bind(Param::Timestamptz(delay.1));
    let headers = b.bind(Param::Jsonb(headers));
    let sql = format!(
        "INSERT INTO {qt} (enqueued_at, vt, message, headers)
SELECT c.now,
       COALESCE({at}, c.now + COALESCE({millis}, {default_delay}, 0) * interval '1 millisecond'),
       m.message, {headers}
FROM (SELECT clock_timestamp() AS now) c, {rows}
WHERE NOT EXISTS (
  SELECT 1 FROM {attributes} a
  CROSS JOIN LATERAL (SELECT 1 FROM {checked}
                      WHERE octet_length(x.message::text) > a.max_message_bytes LIMIT 1) big
  WHERE a.queue_name = '{q}')
ORDER BY m.ord
RETURNING msg_id",
        qt = queue_table(q),
        attributes = ATTRIBUTES_TABLE,
        default_delay = attribute(q, "default_delay_ms"),
    );
    b.finish(sql, IDS)
}

/// The first of `messages` over the queue's maximum size: its 0-based index, its size and
/// the maximum. Run when a send wrote nothing, to say why.
const OVERSIZED: &[Column] = columns![index: Int8, size: Int8, max_message_bytes: Int8];

/// See [`OVERSIZED`]. No row: no message is over the limit (now).
pub fn oversized(q: &QueueName, messages: Vec<Value>) -> Statement {
    let mut b = Binds::default();
    let messages = b.bind(Param::JsonbArray(messages));
    let sql = format!(
        "SELECT x.ord - 1 AS index, octet_length(x.message::text)::bigint AS size,
       a.max_message_bytes
FROM {ATTRIBUTES_TABLE} a, unnest({messages}) WITH ORDINALITY AS x(message, ord)
WHERE a.queue_name = '{q}' AND octet_length(x.message::text) > a.max_message_bytes
ORDER BY x.ord
LIMIT 1"
    );
    b.finish(sql, OVERSIZED)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    #[test]
    fn send_is_one_insert_binding_message_delay_and_headers_in_order() {
        let st = send(&name("jobs"), Value::Bool(true), (Some(1500), None), None);
        assert_eq!(
            st.sql,
            "INSERT INTO pgmq.\"q_jobs\" (enqueued_at, vt, message, headers)
SELECT c.now,
       COALESCE($3::timestamptz, c.now + COALESCE($2::bigint, a.default_delay_ms, 0) \
* interval '1 millisecond'),
       m.message, $4::jsonb
FROM (SELECT clock_timestamp() AS now) c
CROSS JOIN (SELECT $1::jsonb AS message) m
LEFT JOIN pgmq_rs.queue_attributes a ON a.queue_name = 'jobs'
WHERE a.max_message_bytes IS NULL OR octet_length(m.message::text) <= a.max_message_bytes
RETURNING msg_id"
        );
        assert_eq!(
            st.params,
            vec![
                Param::Jsonb(Some(Value::Bool(true))),
                Param::NullableInt8(Some(1500)),
                Param::Timestamptz(None),
                Param::Jsonb(None),
            ]
        );
        assert_eq!(st.columns, IDS);
        assert!(st.persistent);
    }

    #[test]
    fn a_batch_unnests_in_input_order() {
        let st = send_batch(&name("jobs"), vec![Value::Null], (None, None), None);
        assert!(st
            .sql
            .contains("c, unnest($1::jsonb[]) WITH ORDINALITY AS m(message, ord)"));
        assert!(st.sql.contains(") AS x(message)"));
        assert!(st.sql.ends_with("ORDER BY m.ord\nRETURNING msg_id"));
    }
}
