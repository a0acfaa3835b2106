//! The FIFO index: every message's group key, and `msg_id` within each group, so a grouped
//! read finds a group's oldest message, and the next group, with one index step.

use super::{columns, one_off, queue_lock_key, queue_table, Binds};
use crate::adapter::{Column, Param, Statement};
use crate::grouped::GROUP_HEADER;
use crate::name::QueueName;

/// The group of a message without a group (no header, a `null` one, headers that are not an
/// object), as the extension names it.
pub(super) const DEFAULT_GROUP: &str = "_default_fifo_group";

/// A message's group key, exactly as the extension computes it and the index stores it
/// (the planner matches the index only to this very expression). `alias` qualifies the
/// column; empty for none.
pub(super) fn group_key(alias: &str) -> String {
    let dot = if alias.is_empty() { "" } else { "." };
    format!("COALESCE({alias}{dot}headers->>'{GROUP_HEADER}', '{DEFAULT_GROUP}')")
}

/// `CREATE INDEX IF NOT EXISTS` of the FIFO index, for a block that holds the queue's lock.
///
/// The name is the extension's (`pgmq.create_fifo_index` makes `q_<name>_fifo_idx`), so
/// each side sees an index the other made and makes no second one. The definition is not:
/// the extension's is a GIN index on all of `headers`, which cannot find a group by its key
/// (its own grouped reads compare `COALESCE(headers->>'x-pgmq-group', …)`, which no GIN
/// operator class answers). This one is a B-tree on that very expression and `msg_id`,
/// which the extension's grouped reads can use as well.
pub(super) fn ddl(q: &QueueName) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS \"q_{q}_fifo_idx\" ON {qt} (({key}), msg_id);",
        qt = queue_table(q),
        key = group_key(""),
    )
}

/// Creates the FIFO index of an existing queue if it has none, under the queue's advisory
/// lock (so it serializes with `create` and `drop_queue`, ours and the extension's). A queue
/// that does not exist fails with "undefined table".
pub fn create_fifo_index(q: &QueueName) -> Statement {
    one_off(
        format!(
            "DO $pgmq$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('{lock}'));
  {ddl}
END
$pgmq$",
            lock = queue_lock_key(q),
            ddl = ddl(q),
        ),
        &[],
    )
}

/// Whether the queue table exists (`queue`), and the access method of the index named as
/// the FIFO index (`method`: `btree` for this library's, `gin` for the extension's, `NULL`
/// for none).
const FIFO_INDEX: &[Column] = columns![queue: Bool, method: Text];

/// See [`FIFO_INDEX`]. Reads the catalogs only.
pub fn fifo_index(q: &QueueName) -> Statement {
    let mut b = Binds::default();
    let table = b.bind(Param::Text(queue_table(q)));
    let index = b.bind(Param::Text(format!("pgmq.\"q_{q}_fifo_idx\"")));
    let sql = format!(
        "SELECT to_regclass({table}) IS NOT NULL AS queue,
       (SELECT a.amname::text FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_am a ON a.oid = c.relam
        WHERE c.oid = to_regclass({index})) AS method"
    );
    b.finish(sql, FIFO_INDEX)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    #[test]
    fn the_index_is_on_the_extensions_group_expression_under_its_name() {
        assert_eq!(
            ddl(&name("jobs")),
            "CREATE INDEX IF NOT EXISTS \"q_jobs_fifo_idx\" ON pgmq.\"q_jobs\" \
((COALESCE(headers->>'x-pgmq-group', '_default_fifo_group')), msg_id);"
        );
        assert_eq!(
            group_key("e"),
            "COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group')"
        );
    }

    #[test]
    fn a_new_queue_asked_for_it_gets_the_index_and_an_existing_one_is_left_alone() {
        let sql = super::super::create(&name("jobs"), false, None, true, None).sql;
        assert!(sql.contains(&format!(
            "  IF NOT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = 'jobs') THEN
    {}
  END IF;
  INSERT INTO pgmq.meta",
            ddl(&name("jobs"))
        )));
        let without = super::super::create(&name("jobs"), false, None, false, None).sql;
        assert!(!without.contains(&ddl(&name("jobs"))), "{without}");
    }

    #[test]
    fn creating_the_index_takes_the_queue_lock_first() {
        let st = create_fifo_index(&name("jobs"));
        let lock = st
            .sql
            .find("pg_advisory_xact_lock(hashtext('pgmq.queue_jobs'))")
            .expect("locks");
        let index = st.sql.find("CREATE INDEX IF NOT EXISTS").expect("indexes");
        assert!(lock < index, "{}", st.sql);
        assert!(st.params.is_empty());
        assert!(!st.persistent);
    }

    #[test]
    fn the_index_check_names_the_table_and_the_index() {
        let st = fifo_index(&name("jobs"));
        assert_eq!(
            st.params,
            vec![
                Param::Text("pgmq.\"q_jobs\"".into()),
                Param::Text("pgmq.\"q_jobs_fifo_idx\"".into()),
            ]
        );
        assert_eq!(st.columns, FIFO_INDEX);
    }
}
