//! Dead letters: moving messages past their receive count to the dead-letter queue, and
//! redriving them back.

use super::{columns, queue_table, Binds, COUNT};
use crate::adapter::{Column, Param, Statement};
use crate::attributes::{
    DEAD_LETTER_AT, DEAD_LETTER_ORIGINAL_HEADERS, DEAD_LETTER_ORIGINAL_ID,
    DEAD_LETTER_RECEIVE_COUNT, DEAD_LETTER_SOURCE,
};
use crate::name::QueueName;

/// The tail shared by [`dead_letter`] and [`redrive`]: the `moved` rows inserted into `to` as new messages,
/// visible at once, with `headers` (an expression over the moved row) as their headers, and
/// the count of them.
fn insert_moved(to: &QueueName, headers: &str) -> String {
    format!(
        "inserted AS (
  INSERT INTO {tt} (enqueued_at, vt, message, headers)
  SELECT clock_timestamp(), clock_timestamp(), message, {headers}
  FROM moved ORDER BY msg_id
  RETURNING 1
)
SELECT count(*)::bigint AS count FROM inserted",
        tt = queue_table(to),
    )
}

/// Moves messages `ids` of `q` into `dlq` in one statement: deleted from `q`, inserted into
/// `dlq` visible at once, body kept, headers kept with the `x-pgmq-dead-letter-*` ones added.
/// A message already gone (another reader moved it) is skipped. Returns how many moved.
pub fn dead_letter(q: &QueueName, dlq: &QueueName, ids: Vec<i64>) -> Statement {
    let mut b = Binds::default();
    let ids = b.bind(Param::Int8Array(ids));
    let source = b.bind(Param::Text(q.to_string()));
    let sql = format!(
        "WITH moved AS (
  DELETE FROM {qt} WHERE msg_id = ANY({ids})
  RETURNING msg_id, read_ct, message, headers
), {insert}",
        qt = queue_table(q),
        insert = insert_moved(
            dlq,
            &format!(
                "CASE WHEN headers IS NULL THEN '{{}}'::jsonb
         WHEN jsonb_typeof(headers) = 'object' THEN headers
         ELSE jsonb_build_object('{DEAD_LETTER_ORIGINAL_HEADERS}', headers) END
    || jsonb_build_object(
         '{DEAD_LETTER_SOURCE}', {source},
         '{DEAD_LETTER_ORIGINAL_ID}', msg_id,
         '{DEAD_LETTER_RECEIVE_COUNT}', read_ct,
         '{DEAD_LETTER_AT}', clock_timestamp())"
            ),
        ),
    );
    b.finish(sql, COUNT)
}

/// The source queue of the oldest visible dead letter in `dlq` that names one.
const SOURCE: &[Column] = columns![source: Text];

/// See [`SOURCE`]. No row: nothing left to redrive to a source.
pub fn oldest_source(dlq: &QueueName) -> Statement {
    let sql = format!(
        "SELECT headers->>'{DEAD_LETTER_SOURCE}' AS source FROM {dt}
WHERE vt <= clock_timestamp() AND headers ? '{DEAD_LETTER_SOURCE}'
ORDER BY msg_id LIMIT 1",
        dt = queue_table(dlq),
    );
    Binds::default().finish(sql, SOURCE)
}

/// Moves up to `limit` visible messages of `dlq` (oldest first; only those from `source`
/// when given) to `to`, in one statement, skipping rows another session holds. They arrive
/// visible at once, as new messages, with the `x-pgmq-dead-letter-*` headers removed (and
/// non-object headers restored). Returns how many moved.
pub fn redrive(
    dlq: &QueueName,
    to: &QueueName,
    source: Option<&QueueName>,
    limit: i64,
) -> Statement {
    let mut b = Binds::default();
    let limit = b.bind(Param::Int8(limit));
    let from = match source {
        Some(s) => {
            let s = b.bind(Param::Text(s.to_string()));
            format!(" AND headers->>'{DEAD_LETTER_SOURCE}' = {s}")
        }
        None => String::new(),
    };
    let sql = format!(
        "WITH picked AS (
  SELECT msg_id FROM {dt}
  WHERE vt <= (SELECT clock_timestamp()){from}
  ORDER BY msg_id
  LIMIT {limit}
  FOR UPDATE SKIP LOCKED
), moved AS (
  DELETE FROM {dt} d USING picked WHERE d.msg_id = picked.msg_id
  RETURNING d.msg_id, d.message, d.headers
), {insert}",
        dt = queue_table(dlq),
        insert = insert_moved(
            to,
            &format!(
                "CASE WHEN headers ? '{DEAD_LETTER_ORIGINAL_HEADERS}'
           THEN headers->'{DEAD_LETTER_ORIGINAL_HEADERS}'
         WHEN jsonb_typeof(headers) = 'object'
           THEN NULLIF(headers - ARRAY['{DEAD_LETTER_SOURCE}', '{DEAD_LETTER_ORIGINAL_ID}',
                                       '{DEAD_LETTER_RECEIVE_COUNT}', '{DEAD_LETTER_AT}'],
                       '{{}}'::jsonb)
         ELSE headers END"
            ),
        ),
    );
    b.finish(sql, COUNT)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    #[test]
    fn dead_letters_record_their_origin_in_headers() {
        let st = dead_letter(&name("jobs"), &name("jobs_dlq"), vec![7]);
        assert!(st
            .sql
            .contains("DELETE FROM pgmq.\"q_jobs\" WHERE msg_id = ANY($1::bigint[])"));
        assert!(st.sql.contains("INSERT INTO pgmq.\"q_jobs_dlq\""));
        assert!(st.sql.contains("'x-pgmq-dead-letter-source', $2::text"));
        assert_eq!(
            st.params,
            vec![Param::Int8Array(vec![7]), Param::Text("jobs".into())]
        );
    }

    #[test]
    fn redrive_moves_a_bounded_locked_chunk() {
        let st = redrive(&name("dlq"), &name("jobs"), Some(&name("jobs")), 100);
        assert!(st
            .sql
            .contains("LIMIT $1::bigint\n  FOR UPDATE SKIP LOCKED"));
        assert!(st
            .sql
            .contains("headers->>'x-pgmq-dead-letter-source' = $2::text"));
        assert!(st.sql.contains("INSERT INTO pgmq.\"q_jobs\""));
    }
}
