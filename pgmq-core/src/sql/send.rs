//! Sending: one message, or a batch in one statement, with the queue's default delay and
//! maximum message size applied in the same statement.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::attributes::{attribute, ATTRIBUTES_TABLE};
use super::{columns, queue_table, Binds};
use crate::adapter::{Column, Param, Statement};
use crate::name::QueueName;

/// What a send returns: a row per message sent (`msg_id`), or, when a message is over the
/// queue's maximum size and nothing was written, one row naming the first such message (its
/// 0-based index), its size and the maximum.
const SENT: &[Column] =
    columns![msg_id: Int8, too_large_index: Int8, too_large_size: Int8, max_message_bytes: Int8];

/// When sent messages become visible: at an instant, or after a delay in milliseconds, or
/// (neither) after the queue's default delay, else at once.
pub(super) type Delay = (Option<i64>, Option<DateTime<Utc>>);

/// Inserts one message with `delay` and `headers`.
pub fn send(q: &QueueName, message: Value, delay: Delay, headers: Option<Value>) -> Statement {
    let mut b = Binds::default();
    let message = b.bind(Param::Jsonb(Some(message)));
    insert(
        q,
        b,
        &format!("SELECT {message} AS message, 1::bigint AS ord"),
        delay,
        headers,
    )
}

/// Inserts many messages in one statement, in input order (ids ascend with it), each with
/// the same delay and headers.
pub fn send_batch(
    q: &QueueName,
    messages: Vec<Value>,
    delay: Delay,
    headers: Option<Value>,
) -> Statement {
    let mut b = Binds::default();
    let messages = b.bind(Param::JsonbArray(messages));
    let rows =
        format!("SELECT message, ord FROM unnest({messages}) WITH ORDINALITY AS u(message, ord)");
    insert(q, b, &rows, delay, headers)
}

/// The insert shared by [`send`] and [`send_batch`]: `rows` yields `(message, ord)`.
///
/// Without a size limit the limit's subquery has no row, so no message's size is computed.
fn insert(
    q: &QueueName,
    mut b: Binds,
    rows: &str,
    delay: Delay,
    headers: Option<Value>,
) -> Statement {
    let millis = b.bind(Param::NullableInt8(delay.0));
    let at = b.bind(Param::Timestamptz(delay.1));
    let headers = b.bind(Param::Jsonb(headers));
    let sql = format!(
        "WITH c AS (SELECT clock_timestamp() AS now),
m AS ({rows}),
big AS (
  SELECT m.ord, octet_length(m.message::text)::bigint AS size, l.max
  FROM m, (SELECT max_message_bytes AS max FROM {attributes}
           WHERE queue_name = '{q}' AND max_message_bytes IS NOT NULL) l
  WHERE octet_length(m.message::text) > l.max
  ORDER BY m.ord LIMIT 1
), sent AS (
  INSERT INTO {qt} (enqueued_at, vt, message, headers)
  SELECT c.now,
         COALESCE({at}, c.now + COALESCE({millis}, {default_delay}, 0) * interval '1 millisecond'),
         m.message, {headers}
  FROM c, m
  WHERE NOT EXISTS (SELECT 1 FROM big)
  ORDER BY m.ord
  RETURNING msg_id
)
SELECT msg_id, NULL::bigint AS too_large_index, NULL::bigint AS too_large_size,
       NULL::bigint AS max_message_bytes FROM sent
UNION ALL
SELECT NULL, ord - 1, size, max FROM big",
        qt = queue_table(q),
        attributes = ATTRIBUTES_TABLE,
        default_delay = attribute(q, "default_delay_ms"),
    );
    b.finish(sql, SENT)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    #[test]
    fn send_binds_message_delay_and_headers_in_order() {
        let st = send(&name("jobs"), Value::Bool(true), (Some(1500), None), None);
        assert!(st.sql.starts_with(
            "WITH c AS (SELECT clock_timestamp() AS now),
m AS (SELECT $1::jsonb AS message, 1::bigint AS ord),"
        ));
        assert!(st.sql.contains(
            "COALESCE($3::timestamptz, c.now + COALESCE($2::bigint, (SELECT default_delay_ms \
FROM pgmq_rs.queue_attributes WHERE queue_name = 'jobs'), 0) * interval '1 millisecond')"
        ));
        assert!(st.sql.contains("WHERE NOT EXISTS (SELECT 1 FROM big)"));
        assert_eq!(
            st.params,
            vec![
                Param::Jsonb(Some(Value::Bool(true))),
                Param::NullableInt8(Some(1500)),
                Param::Timestamptz(None),
                Param::Jsonb(None),
            ]
        );
        assert_eq!(st.columns, SENT);
        assert!(st.persistent);
    }

    #[test]
    fn a_batch_unnests_in_input_order() {
        let st = send_batch(&name("jobs"), vec![Value::Null], (None, None), None);
        assert!(st
            .sql
            .contains("unnest($1::jsonb[]) WITH ORDINALITY AS u(message, ord)"));
        assert!(st.sql.contains("ORDER BY m.ord\n  RETURNING msg_id"));
    }
}
