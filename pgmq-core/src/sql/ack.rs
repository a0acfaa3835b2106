//! Acting on messages by id: moving their visibility, deleting, archiving, and reading the
//! archive.

use super::{
    archive_table, column_list, queue_table, visible_at, Binds, VisibleParams, ARCHIVED, IDS,
    MESSAGE,
};
use crate::adapter::{Param, Statement};
use crate::name::QueueName;

/// Binds `ids` first, as every statement here does; returns the binds and the placeholder.
fn by_ids(ids: Vec<i64>) -> (Binds, String) {
    let mut b = Binds::default();
    let ids = b.bind(Param::Int8Array(ids));
    (b, ids)
}

/// Moves the visibility of messages `ids` to `vt`; returns the messages updated.
pub fn set_vt(q: &QueueName, ids: Vec<i64>, vt: VisibleParams) -> Statement {
    let (mut b, ids) = by_ids(ids);
    let vt = visible_at(&mut b, vt, "clock_timestamp()");
    let sql = format!(
        "UPDATE {qt} SET vt = {vt}
WHERE msg_id = ANY({ids})
RETURNING {returning}",
        qt = queue_table(q),
        returning = column_list(MESSAGE, ""),
    );
    b.finish(sql, MESSAGE)
}

/// Deletes messages `ids`; returns the ids deleted.
pub fn delete(q: &QueueName, ids: Vec<i64>) -> Statement {
    let (b, ids) = by_ids(ids);
    let sql = format!(
        "DELETE FROM {qt} WHERE msg_id = ANY({ids}) RETURNING msg_id",
        qt = queue_table(q),
    );
    b.finish(sql, IDS)
}

/// Moves messages `ids` to the archive in one statement, stamping `archived_at`; returns the
/// ids archived.
pub fn archive(q: &QueueName, ids: Vec<i64>) -> Statement {
    let (b, ids) = by_ids(ids);
    let sql = format!(
        "WITH moved AS (
  DELETE FROM {qt} WHERE msg_id = ANY({ids})
  RETURNING {moved}
)
INSERT INTO {at} ({archived})
SELECT {moved}, clock_timestamp()
FROM moved
RETURNING msg_id",
        qt = queue_table(q),
        at = archive_table(q),
        moved = column_list(MESSAGE, ""),
        archived = column_list(ARCHIVED, ""),
    );
    b.finish(sql, IDS)
}

/// The archived messages among `ids`, by id.
pub fn read_archive(q: &QueueName, ids: Vec<i64>) -> Statement {
    let (b, ids) = by_ids(ids);
    let sql = format!(
        "SELECT {columns} FROM {at}
WHERE msg_id = ANY({ids}) ORDER BY msg_id",
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
}
