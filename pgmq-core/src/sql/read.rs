//! Claiming messages: read (hide for a visibility timeout) and pop (delete), with the
//! queue's default visibility timeout and dead-letter policy applied in the same statement.

use serde_json::Value;

use super::attributes::{attribute, ATTRIBUTES_TABLE};
use super::{column_list, columns, queue_table, Binds, MESSAGE};
use crate::adapter::{Column, Param, Statement};
use crate::name::QueueName;

/// The visibility timeout of a read that gives none and whose queue has no default.
pub(super) const DEFAULT_VT_MS: i64 = 30_000;

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
        "SELECT msg_id, read_ct FROM {qt}
  WHERE vt <= (SELECT clock_timestamp()){filter}
  ORDER BY vt
  LIMIT {limit}
  FOR UPDATE SKIP LOCKED"
    )
}

/// `act` (an `UPDATE` or `DELETE` of the claimed rows) as one statement returning the
/// [`MESSAGE`] rows it acted on. A claimed message already received `max_receive_count`
/// times is left out: not handed out, not changed, still visible. The caller notices a short
/// answer and moves such messages with [`dead_letters`]. Kept as one plain `UPDATE`/`DELETE`
/// with a single extra filter: wrapping it in a CTE to also return the skipped rows cost
/// about 20% of a read's server time (measured with pgbench).
pub(super) fn claimed(q: &QueueName, claim: &str, act: &str) -> String {
    format!(
        "WITH claimed AS ({claim})
{act}
WHERE m.msg_id = claimed.msg_id
  AND claimed.read_ct < COALESCE({max}, 2147483647)
RETURNING {returning}",
        max = attribute(q, "max_receive_count"),
        returning = column_list(MESSAGE, "m"),
    )
}

/// Claims up to `qty` messages matching `filter` and hides them for `vt_ms` milliseconds
/// (`None`: the queue's default, else [`DEFAULT_VT_MS`]), counting the read.
pub fn read(q: &QueueName, vt_ms: Option<i64>, qty: i64, filter: Option<Value>) -> Statement {
    let qt = queue_table(q);
    let mut b = Binds::default();
    let vt = b.bind(Param::NullableInt8(vt_ms));
    let claim = claim(&mut b, &qt, qty, Some(filter));
    let act = format!(
        "UPDATE {qt} m
SET vt = clock_timestamp()
      + COALESCE({vt}, {default_vt}, {DEFAULT_VT_MS}) * interval '1 millisecond',
    read_ct = m.read_ct + 1,
    last_read_at = clock_timestamp()
FROM claimed",
        default_vt = attribute(q, "default_vt_ms"),
    );
    b.finish(claimed(q, &claim, &act), MESSAGE)
}

/// Claims and deletes up to `qty` messages in one statement.
pub fn pop(q: &QueueName, qty: i64) -> Statement {
    let qt = queue_table(q);
    let mut b = Binds::default();
    let claim = claim(&mut b, &qt, qty, None);
    let act = format!(
        "DELETE FROM {qt} m
USING claimed"
    );
    b.finish(claimed(q, &claim, &act), MESSAGE)
}

/// Messages a claim left out, one row each: its queue's dead-letter queue and the id of a
/// visible message among the first `window` (in claim order) already received
/// `max_receive_count` times; one row with a `NULL` id when the queue has a dead-letter
/// policy but no such message; no row when it has no policy.
const DEAD: &[Column] = columns![dead_letter_queue: Text, msg_id: Int8];

/// See [`DEAD`]. Run after a claim that handed out fewer messages than it asked for.
pub fn dead_letters(q: &QueueName, window: i64) -> Statement {
    let mut b = Binds::default();
    let window = b.bind(Param::Int8(window));
    let sql = format!(
        "SELECT a.dead_letter_queue::text AS dead_letter_queue, w.msg_id
FROM {attributes} a
LEFT JOIN LATERAL (SELECT h.msg_id FROM (SELECT msg_id, read_ct FROM {qt}
                                         WHERE vt <= (SELECT clock_timestamp())
                                         ORDER BY vt
                                         LIMIT {window}) h
                   WHERE h.read_ct >= a.max_receive_count) w ON true
WHERE a.queue_name = '{q}' AND a.dead_letter_queue IS NOT NULL",
        qt = queue_table(q),
        attributes = ATTRIBUTES_TABLE,
    );
    b.finish(sql, DEAD)
}

/// Up to `qty` visible messages in the order a read would claim them, without claiming:
/// no lock, no change to `vt` or `read_ct`, and no dead-letter move. The same index scan
/// as [`claim`]'s (`vt <= (SELECT clock_timestamp())` then `ORDER BY vt`), so it never walks
/// the messages in flight either.
pub fn peek(q: &QueueName, qty: i64) -> Statement {
    let mut b = Binds::default();
    let limit = b.bind(Param::Int8(qty));
    let sql = format!(
        "SELECT {columns} FROM {qt}
  WHERE vt <= (SELECT clock_timestamp())
  ORDER BY vt
  LIMIT {limit}",
        columns = column_list(MESSAGE, ""),
        qt = queue_table(q),
    );
    b.finish(sql, MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    #[test]
    fn read_claims_through_the_vt_index_and_binds_every_value() {
        let st = read(&name("jobs"), Some(30_000), 10, None);
        assert_eq!(
            st.sql,
            "WITH claimed AS (SELECT msg_id, read_ct FROM pgmq.\"q_jobs\"
  WHERE vt <= (SELECT clock_timestamp()) AND ($3::jsonb IS NULL OR message @> $3::jsonb)
  ORDER BY vt
  LIMIT $2::bigint
  FOR UPDATE SKIP LOCKED)
UPDATE pgmq.\"q_jobs\" m
SET vt = clock_timestamp()
      + COALESCE($1::bigint, (SELECT default_vt_ms FROM pgmq_rs.queue_attributes \
WHERE queue_name = 'jobs'), 30000) * interval '1 millisecond',
    read_ct = m.read_ct + 1,
    last_read_at = clock_timestamp()
FROM claimed
WHERE m.msg_id = claimed.msg_id
  AND claimed.read_ct < COALESCE((SELECT max_receive_count FROM pgmq_rs.queue_attributes \
WHERE queue_name = 'jobs'), 2147483647)
RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers"
        );
        assert_eq!(
            st.params,
            vec![
                Param::NullableInt8(Some(30_000)),
                Param::Int8(10),
                Param::Jsonb(None)
            ]
        );
        assert_eq!(st.columns, MESSAGE);
        assert!(st.persistent);
    }

    #[test]
    fn a_short_claim_finds_what_it_left_for_the_dead_letter_queue() {
        let st = dead_letters(&name("jobs"), 110);
        assert!(st.sql.contains("LIMIT $1::bigint) h"));
        assert!(st
            .sql
            .contains("WHERE h.read_ct >= a.max_receive_count) w ON true"));
        assert!(st
            .sql
            .contains("a.queue_name = 'jobs' AND a.dead_letter_queue IS NOT NULL"));
        assert_eq!(st.params, vec![Param::Int8(110)]);
    }

    #[test]
    fn pop_deletes_what_it_claims() {
        let st = pop(&name("jobs"), 5);
        assert!(st
            .sql
            .contains("LIMIT $1::bigint\n  FOR UPDATE SKIP LOCKED)\nDELETE FROM pgmq.\"q_jobs\" m\nUSING claimed\nWHERE m.msg_id = claimed.msg_id"));
        assert_eq!(st.params, vec![Param::Int8(5)]);
        assert_eq!(st.columns, MESSAGE);
    }

    #[test]
    fn peek_reads_through_the_vt_index_without_locking_or_changing_anything() {
        let st = peek(&name("jobs"), 5);
        assert_eq!(
            st.sql,
            "SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers \
FROM pgmq.\"q_jobs\"
  WHERE vt <= (SELECT clock_timestamp())
  ORDER BY vt
  LIMIT $1::bigint"
        );
        assert_eq!(st.params, vec![Param::Int8(5)]);
        assert_eq!(st.columns, MESSAGE);
        assert!(st.persistent);
    }
}
