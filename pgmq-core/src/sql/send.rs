//! Sending: one message, or a batch in one statement.

use serde_json::Value;

use super::{queue_table, visible_at, Binds, VisibleParams, IDS};
use crate::adapter::{Param, Statement};
use crate::name::QueueName;

/// Inserts one message, visible at `delay`, with `headers`; returns its id.
pub fn send(
    q: &QueueName,
    message: Value,
    delay: VisibleParams,
    headers: Option<Value>,
) -> Statement {
    let mut b = Binds::default();
    let message = b.bind(Param::Jsonb(Some(message)));
    let vt = visible_at(&mut b, delay, "c.now");
    let headers = b.bind(Param::Jsonb(headers));
    let sql = format!(
        "INSERT INTO {qt} (enqueued_at, vt, message, headers)
SELECT c.now, {vt}, {message}, {headers}
FROM (SELECT clock_timestamp() AS now) c
RETURNING msg_id",
        qt = queue_table(q),
    );
    b.finish(sql, IDS)
}

/// Inserts many messages in one statement, in input order (ids ascend with it), each with
/// the same delay and headers; returns their ids.
pub fn send_batch(
    q: &QueueName,
    messages: Vec<Value>,
    delay: VisibleParams,
    headers: Option<Value>,
) -> Statement {
    let mut b = Binds::default();
    let messages = b.bind(Param::JsonbArray(messages));
    let vt = visible_at(&mut b, delay, "c.now");
    let headers = b.bind(Param::Jsonb(headers));
    let sql = format!(
        "INSERT INTO {qt} (enqueued_at, vt, message, headers)
SELECT c.now, {vt}, m.message, {headers}
FROM (SELECT clock_timestamp() AS now) c,
     unnest({messages}) WITH ORDINALITY AS m(message, ord)
ORDER BY m.ord
RETURNING msg_id",
        qt = queue_table(q),
    );
    b.finish(sql, IDS)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    #[test]
    fn send_binds_message_delay_and_headers_in_order() {
        let st = send(&name("jobs"), Value::Bool(true), (1500, None), None);
        assert_eq!(
            st.sql,
            "INSERT INTO pgmq.\"q_jobs\" (enqueued_at, vt, message, headers)
SELECT c.now, COALESCE($3::timestamptz, c.now + $2::bigint * interval '1 millisecond'), \
$1::jsonb, $4::jsonb
FROM (SELECT clock_timestamp() AS now) c
RETURNING msg_id"
        );
        assert_eq!(
            st.params,
            vec![
                Param::Jsonb(Some(Value::Bool(true))),
                Param::Int8(1500),
                Param::Timestamptz(None),
                Param::Jsonb(None),
            ]
        );
        assert_eq!(st.columns, IDS);
        assert!(st.persistent);
    }
}
