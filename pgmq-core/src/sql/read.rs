//! Claiming messages: read (hide for a visibility timeout) and pop (delete).

use serde_json::Value;

use super::{column_list, queue_table, Binds, MESSAGE};
use crate::adapter::{Param, Statement};
use crate::name::QueueName;

/// The claim shared by read and pop: up to `limit` visible messages (those matching
/// `filter`, when given) that became visible first, locked, skipping rows another reader
/// holds.
///
/// `vt <= (SELECT clock_timestamp())` is an init-plan evaluated once, so it is an index
/// condition on the `vt` index, and `ORDER BY vt` is that index's order: the scan starts at
/// the visible end and stops after `LIMIT` rows, never walking the invisible messages in
/// flight, however many there are. (Ordering by `msg_id`, as the extension does, walks every
/// invisible message with a lower id first.) Messages sharing a `vt` (one batch) come in
/// index order, which is insertion order.
fn claim(b: &mut Binds, qt: &str, limit: i64, filter: Option<Option<Value>>) -> String {
    let limit = b.bind(Param::Int8(limit));
    let filter = match filter {
        Some(filter) => {
            let f = b.bind(Param::Jsonb(filter));
            format!(" AND ({f} IS NULL OR message @> {f})")
        }
        None => String::new(),
    };
    format!(
        "SELECT msg_id FROM {qt}
  WHERE vt <= (SELECT clock_timestamp()){filter}
  ORDER BY vt
  LIMIT {limit}
  FOR UPDATE SKIP LOCKED"
    )
}

/// Claims up to `qty` messages matching `filter` and hides them for `vt_ms` milliseconds,
/// counting the read.
pub fn read(q: &QueueName, vt_ms: i64, qty: i64, filter: Option<Value>) -> Statement {
    let qt = queue_table(q);
    let mut b = Binds::default();
    let vt = b.bind(Param::Int8(vt_ms));
    let claim = claim(&mut b, &qt, qty, Some(filter));
    let sql = format!(
        "WITH claimed AS ({claim})
UPDATE {qt} m
SET vt = clock_timestamp() + {vt} * interval '1 millisecond',
    read_ct = m.read_ct + 1,
    last_read_at = clock_timestamp()
FROM claimed
WHERE m.msg_id = claimed.msg_id
RETURNING {returning}",
        returning = column_list(MESSAGE, "m"),
    );
    b.finish(sql, MESSAGE)
}

/// Claims and deletes up to `qty` messages in one statement.
pub fn pop(q: &QueueName, qty: i64) -> Statement {
    let qt = queue_table(q);
    let mut b = Binds::default();
    let claim = claim(&mut b, &qt, qty, None);
    let sql = format!(
        "WITH claimed AS ({claim})
DELETE FROM {qt} m
USING claimed
WHERE m.msg_id = claimed.msg_id
RETURNING {returning}",
        returning = column_list(MESSAGE, "m"),
    );
    b.finish(sql, MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    #[test]
    fn read_claims_through_the_vt_index_and_binds_every_value() {
        let st = read(&name("jobs"), 30_000, 10, None);
        assert_eq!(
            st.sql,
            "WITH claimed AS (SELECT msg_id FROM pgmq.\"q_jobs\"
  WHERE vt <= (SELECT clock_timestamp()) AND ($3::jsonb IS NULL OR message @> $3::jsonb)
  ORDER BY vt
  LIMIT $2::bigint
  FOR UPDATE SKIP LOCKED)
UPDATE pgmq.\"q_jobs\" m
SET vt = clock_timestamp() + $1::bigint * interval '1 millisecond',
    read_ct = m.read_ct + 1,
    last_read_at = clock_timestamp()
FROM claimed
WHERE m.msg_id = claimed.msg_id
RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers"
        );
        assert_eq!(
            st.params,
            vec![Param::Int8(30_000), Param::Int8(10), Param::Jsonb(None)]
        );
        assert_eq!(st.columns, MESSAGE);
        assert!(st.persistent);
    }

    #[test]
    fn pop_deletes_what_it_claims() {
        let st = pop(&name("jobs"), 5);
        assert!(st
            .sql
            .contains("LIMIT $1::bigint\n  FOR UPDATE SKIP LOCKED)"));
        assert!(st
            .sql
            .contains("DELETE FROM pgmq.\"q_jobs\" m\nUSING claimed"));
        assert_eq!(st.params, vec![Param::Int8(5)]);
    }
}
