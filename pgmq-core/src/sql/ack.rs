//! Acting on messages by id or by [`Receipt`]: moving their visibility, deleting, archiving,
//! and reading the archive.
//!
//! Each statement's text exists once, built around a [`Which`] that picks its rows: by id
//! (unfenced, as the pgmq extension does) or by receipt (only rows nobody has read since).

use super::{
    archive_table, column_list, queue_table, visible_at, Binds, VisibleParams, ARCHIVED, IDS,
    MESSAGE, RECEIPTS,
};
use crate::adapter::{Column, Param, Statement};
use crate::name::QueueName;
use crate::receipt::Receipt;

/// The rows a statement acts on.
enum Which {
    /// Every message with one of these ids, whoever read it last.
    Ids(Vec<i64>),
    /// Every message with one of these ids whose `read_ct` is still the receipt's.
    Receipts(Vec<Receipt>),
}

impl Which {
    /// Binds the rows' parameters first, as every statement here does; returns the binds and
    /// the `WHERE` condition that picks the rows.
    ///
    /// Receipts travel as two parallel arrays, ids and read counts. The plain
    /// `msg_id = ANY(…)` keeps the primary-key index for the lookup; the row comparison then
    /// keeps only the messages whose read count is still the receipt's. A concurrent read
    /// that commits first bumps `read_ct`, and the re-checked row no longer matches.
    fn bind(self) -> (Binds, String) {
        let mut b = Binds::default();
        let condition = match self {
            Self::Ids(ids) => {
                let ids = b.bind(Param::Int8Array(ids));
                format!("msg_id = ANY({ids})")
            }
            Self::Receipts(receipts) => {
                let (ids, read_cts) = receipts
                    .into_iter()
                    .map(|r| (r.msg_id, i64::from(r.read_ct)))
                    .unzip();
                let ids = b.bind(Param::Int8Array(ids));
                let read_cts = b.bind(Param::Int8Array(read_cts));
                format!(
                    "msg_id = ANY({ids}) AND (msg_id, read_ct) IN \
                     (SELECT i, c FROM unnest({ids}, {read_cts}) AS r(i, c))"
                )
            }
        };
        (b, condition)
    }

    /// What a delete or archive returns for its rows: the ids, or for receipts the ids with
    /// their read counts, so each answer maps back to the receipt that matched.
    fn acknowledged(&self) -> &'static [Column] {
        match self {
            Self::Ids(_) => IDS,
            Self::Receipts(_) => RECEIPTS,
        }
    }
}

/// Moves the visibility of the rows `which` picks to `vt`; returns the messages updated.
fn set_vt_of(q: &QueueName, which: Which, vt: VisibleParams) -> Statement {
    let (mut b, rows) = which.bind();
    let vt = visible_at(&mut b, vt, "clock_timestamp()");
    let sql = format!(
        "UPDATE {qt} SET vt = {vt}
WHERE {rows}
RETURNING {returning}",
        qt = queue_table(q),
        returning = column_list(MESSAGE, ""),
    );
    b.finish(sql, MESSAGE)
}

/// Deletes the rows `which` picks; returns what [`Which::acknowledged`] says.
fn delete_of(q: &QueueName, which: Which) -> Statement {
    let returns = which.acknowledged();
    let (b, rows) = which.bind();
    let sql = format!(
        "DELETE FROM {qt} WHERE {rows} RETURNING {returning}",
        qt = queue_table(q),
        returning = column_list(returns, ""),
    );
    b.finish(sql, returns)
}

/// Moves the rows `which` picks to the archive in one statement, stamping `archived_at`;
/// returns what [`Which::acknowledged`] says.
fn archive_of(q: &QueueName, which: Which) -> Statement {
    let returns = which.acknowledged();
    let (b, rows) = which.bind();
    let sql = format!(
        "WITH moved AS (
  DELETE FROM {qt} WHERE {rows}
  RETURNING {moved}
)
INSERT INTO {at} ({archived})
SELECT {moved}, clock_timestamp()
FROM moved
RETURNING {returning}",
        qt = queue_table(q),
        at = archive_table(q),
        moved = column_list(MESSAGE, ""),
        archived = column_list(ARCHIVED, ""),
        returning = column_list(returns, ""),
    );
    b.finish(sql, returns)
}

/// Moves the visibility of messages `ids` to `vt`, unfenced; returns the messages updated.
pub fn set_vt(q: &QueueName, ids: Vec<i64>, vt: VisibleParams) -> Statement {
    set_vt_of(q, Which::Ids(ids), vt)
}

/// Moves the visibility of the messages whose `receipts` are current to `vt`; returns the
/// messages updated (their `read_ct` unchanged, so the receipts stay current).
pub fn set_vt_fenced(q: &QueueName, receipts: Vec<Receipt>, vt: VisibleParams) -> Statement {
    set_vt_of(q, Which::Receipts(receipts), vt)
}

/// Deletes messages `ids`, unfenced; returns the ids deleted.
pub fn delete(q: &QueueName, ids: Vec<i64>) -> Statement {
    delete_of(q, Which::Ids(ids))
}

/// Deletes the messages whose `receipts` are current; returns their ids and read counts.
pub fn delete_fenced(q: &QueueName, receipts: Vec<Receipt>) -> Statement {
    delete_of(q, Which::Receipts(receipts))
}

/// Moves messages `ids` to the archive, unfenced, stamping `archived_at`; returns the ids
/// archived.
pub fn archive(q: &QueueName, ids: Vec<i64>) -> Statement {
    archive_of(q, Which::Ids(ids))
}

/// Moves the messages whose `receipts` are current to the archive, stamping `archived_at`;
/// returns their ids and read counts.
pub fn archive_fenced(q: &QueueName, receipts: Vec<Receipt>) -> Statement {
    archive_of(q, Which::Receipts(receipts))
}

/// The archived messages among `ids`, by id.
pub fn read_archive(q: &QueueName, ids: Vec<i64>) -> Statement {
    let (b, rows) = Which::Ids(ids).bind();
    let sql = format!(
        "SELECT {columns} FROM {at}
WHERE {rows} ORDER BY msg_id",
        columns = column_list(ARCHIVED, ""),
        at = archive_table(q),
    );
    b.finish(sql, ARCHIVED)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

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
    fn archive_copies_every_message_column_and_stamps_archived_at() {
        let st = archive(&name("jobs"), vec![1, 2]);
        assert_eq!(
            st.sql,
            "WITH moved AS (
  DELETE FROM pgmq.\"q_jobs\" WHERE msg_id = ANY($1::bigint[])
  RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers
)
INSERT INTO pgmq.\"a_jobs\" (msg_id, read_ct, enqueued_at, last_read_at, vt, message, \
headers, archived_at)
SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers, clock_timestamp()
FROM moved
RETURNING msg_id"
        );
    }

    #[test]
    fn set_vt_and_read_archive_by_id_are_unchanged() {
        let st = set_vt(&name("jobs"), vec![4], (500, None));
        assert_eq!(
            st.sql,
            "UPDATE pgmq.\"q_jobs\" SET vt = COALESCE($3::timestamptz, clock_timestamp() + \
$2::bigint * interval '1 millisecond')
WHERE msg_id = ANY($1::bigint[])
RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers"
        );
        assert_eq!(
            st.params,
            vec![
                Param::Int8Array(vec![4]),
                Param::Int8(500),
                Param::Timestamptz(None)
            ]
        );
        let st = read_archive(&name("jobs"), vec![4]);
        assert_eq!(
            st.sql,
            "SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers, \
archived_at FROM pgmq.\"a_jobs\"
WHERE msg_id = ANY($1::bigint[]) ORDER BY msg_id"
        );
    }

    const FENCE: &str = "msg_id = ANY($1::bigint[]) AND (msg_id, read_ct) IN \
(SELECT i, c FROM unnest($1::bigint[], $2::bigint[]) AS r(i, c))";

    fn receipts() -> Vec<Receipt> {
        vec![Receipt::new(7, 1), Receipt::new(9, 3)]
    }

    fn receipt_params() -> Vec<Param> {
        vec![Param::Int8Array(vec![7, 9]), Param::Int8Array(vec![1, 3])]
    }

    #[test]
    fn delete_fenced_matches_id_and_read_count_and_returns_both() {
        let st = delete_fenced(&name("jobs"), receipts());
        assert_eq!(
            st.sql,
            format!("DELETE FROM pgmq.\"q_jobs\" WHERE {FENCE} RETURNING msg_id, read_ct")
        );
        assert_eq!(st.params, receipt_params());
        assert_eq!(st.columns, RECEIPTS);
        assert!(st.persistent);
    }

    #[test]
    fn archive_fenced_is_the_archive_statement_with_the_fence() {
        let st = archive_fenced(&name("jobs"), receipts());
        assert_eq!(
            st.sql,
            format!(
                "WITH moved AS (
  DELETE FROM pgmq.\"q_jobs\" WHERE {FENCE}
  RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers
)
INSERT INTO pgmq.\"a_jobs\" (msg_id, read_ct, enqueued_at, last_read_at, vt, message, \
headers, archived_at)
SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers, clock_timestamp()
FROM moved
RETURNING msg_id, read_ct"
            )
        );
        assert_eq!(st.params, receipt_params());
        assert_eq!(st.columns, RECEIPTS);
    }

    #[test]
    fn set_vt_fenced_binds_the_receipts_then_the_visibility() {
        let st = set_vt_fenced(&name("jobs"), receipts(), (30_000, None));
        assert_eq!(
            st.sql,
            format!(
                "UPDATE pgmq.\"q_jobs\" SET vt = COALESCE($4::timestamptz, clock_timestamp() + \
$3::bigint * interval '1 millisecond')
WHERE {FENCE}
RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers"
            )
        );
        let mut params = receipt_params();
        params.extend([Param::Int8(30_000), Param::Timestamptz(None)]);
        assert_eq!(st.params, params);
        assert_eq!(st.columns, MESSAGE);
    }
}
