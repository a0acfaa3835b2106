//! Storage parameters of a queue's tables, their read-back, and the vacuum a worker starts.

use super::{archive_table, columns, one_off, queue_lock_key, queue_table, Binds};
use crate::adapter::{Column, Param, Statement};
use crate::name::QueueName;

/// Checked, rendered `ALTER TABLE` actions for a queue table and its archive: a `SET (…)`,
/// a `RESET (…)`, both joined by a comma, or empty for nothing to do. Built by
/// `StorageParams` only from its list of parameter names and values it renders itself:
/// no quotes, no `%`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageActions {
    /// For the queue table (or each of its partitions).
    pub queue_table: String,
    /// For the archive (or each of its partitions).
    pub archive: String,
}

/// A query of the leaf tables under the table `regclass` (an SQL expression of type
/// `regclass`), as column `relid`: the table itself when it is not partitioned
/// (`pg_partition_tree` answers nothing for a plain table), else each of its partitions.
fn leaves(regclass: &str) -> String {
    format!(
        "SELECT c.oid::regclass AS relid FROM pg_catalog.pg_class c
       WHERE c.oid = {regclass} AND c.relkind <> 'p'
     UNION ALL
     SELECT p.relid FROM pg_catalog.pg_partition_tree({regclass}) p WHERE p.isleaf"
    )
}

/// PL/pgSQL statements that apply `actions` to every leaf of the queue table and of the
/// archive: the table itself when it is not partitioned, else each partition that exists
/// now (Postgres refuses storage parameters on a partitioned parent) and pg_partman's
/// template table of it, which pg_partman copies them from into the partitions it makes
/// later. Fails with "undefined table" when a table with actions is missing. Empty when
/// there is nothing to do.
pub(super) fn apply_body(q: &QueueName, actions: &StorageActions) -> String {
    let mut body = String::new();
    for (table, plain, action) in [
        (queue_table(q), format!("pgmq.q_{q}"), &actions.queue_table),
        (archive_table(q), format!("pgmq.a_{q}"), &actions.archive),
    ] {
        if action.is_empty() {
            continue;
        }
        debug_assert!(!action.contains(['\'', '%']), "{action}");
        body.push_str(&format!(
            "
  DECLARE
    pgmq_part regclass;
    pgmq_template text;
  BEGIN
    FOR pgmq_part IN {leaves} LOOP
      EXECUTE format('ALTER TABLE %s {action}', pgmq_part);
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class
               WHERE oid = '{table}'::regclass AND relkind = 'p')
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_partman') THEN
      EXECUTE format('SELECT template_table FROM %I.part_config WHERE parent_table = %L',
        (SELECT n.nspname FROM pg_catalog.pg_extension e
         JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_partman'), '{plain}') INTO pgmq_template;
      IF to_regclass(pgmq_template) IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s {action}', to_regclass(pgmq_template));
      END IF;
    END IF;
  END;",
            leaves = leaves(&format!("'{table}'::regclass")),
        ));
    }
    body
}

/// A `jsonb` scalar subquery: the storage parameters (`["name=value", …]`, `NULL` for none)
/// of the table `regclass` (an SQL expression), or for a partitioned one those that every
/// one of its partitions has, in the order they come.
fn options_of(regclass: &str) -> String {
    format!(
        "(SELECT to_jsonb(array_agg(x.o ORDER BY x.pos))
        FROM (SELECT u.o, min(u.pos) AS pos, count(*) AS n
              FROM ({leaves}) l
              JOIN pg_catalog.pg_class c ON c.oid = l.relid
              CROSS JOIN LATERAL unnest(c.reloptions) WITH ORDINALITY AS u(o, pos)
              GROUP BY u.o) x
        WHERE x.n = (SELECT count(*) FROM ({leaves}) l))",
        leaves = leaves(regclass),
    )
}

/// Applies `actions` to an existing queue under its advisory lock (so it serializes with
/// `create` and `drop_queue`, ours and the extension's). A queue (or archive) that does not
/// exist fails with "undefined table".
pub fn set_storage(q: &QueueName, actions: &StorageActions) -> Statement {
    one_off(
        format!(
            "DO $pgmq$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('{lock}'));
  PERFORM '{qt}'::regclass;{apply}
END
$pgmq$",
            lock = queue_lock_key(q),
            qt = queue_table(q),
            apply = apply_body(q, actions),
        ),
        &[],
    )
}

/// Whether the queue table exists (`queue`); both tables' `reloptions` as JSON arrays of
/// `name=value` (`NULL` for none; for a partitioned table, those all its partitions share);
/// the queue table's vacuum statistics, summed over its partitions.
const STORAGE: &[Column] = columns![
    queue: Bool, queue_options: Jsonb, archive_options: Jsonb, vacuum_count: Int8,
    autovacuum_count: Int8, last_vacuum: Timestamptz, last_autovacuum: Timestamptz,
    dead_rows: Int8,
];

/// See [`STORAGE`]. Reads the catalogs and the statistics only.
pub fn storage(q: &QueueName) -> Statement {
    let mut b = Binds::default();
    let qt = b.bind(Param::Text(queue_table(q)));
    let at = b.bind(Param::Text(archive_table(q)));
    let sql = format!(
        "SELECT t.oid IS NOT NULL AS queue,
       {queue_options} AS queue_options,
       {archive_options} AS archive_options,
       s.vacuum_count, s.autovacuum_count, s.last_vacuum, s.last_autovacuum, s.dead_rows
FROM (SELECT COALESCE(sum(st.vacuum_count), 0)::bigint AS vacuum_count,
             COALESCE(sum(st.autovacuum_count), 0)::bigint AS autovacuum_count,
             max(st.last_vacuum) AS last_vacuum,
             max(st.last_autovacuum) AS last_autovacuum,
             COALESCE(sum(st.n_dead_tup), 0)::bigint AS dead_rows
      FROM ({leaves}) p
      JOIN pg_catalog.pg_stat_all_tables st ON st.relid = p.relid) s
LEFT JOIN pg_catalog.pg_class t ON t.oid = to_regclass({qt})",
        leaves = leaves(&format!("to_regclass({qt})")),
        queue_options = options_of(&format!("to_regclass({qt})")),
        archive_options = options_of(&format!("to_regclass({at})")),
    );
    b.finish(sql, STORAGE)
}

/// Whether the queue table exists (`queue`); whether the current role may vacuum it
/// (`permitted`: it owns the table or the database, is a superuser, or from Postgres 17 has
/// `MAINTAIN` on it, as `VACUUM` checks); and whether another session holds or waits for a
/// lock that conflicts with `VACUUM` on it or one of its partitions (`busy`).
const VACUUM_CHECK: &[Column] = columns![queue: Bool, permitted: Bool, busy: Bool];

/// See [`VACUUM_CHECK`]. Reads the catalogs and the lock table only.
pub fn vacuum_check(q: &QueueName) -> Statement {
    let mut b = Binds::default();
    let qt = b.bind(Param::Text(queue_table(q)));
    // `MAINTAIN` is unknown before Postgres 17: the CASE never evaluates it there.
    let sql = format!(
        "SELECT t.oid IS NOT NULL AS queue,
       COALESCE(pg_catalog.pg_has_role(t.relowner, 'USAGE')
         OR pg_catalog.pg_has_role(d.datdba, 'USAGE')
         OR CASE WHEN current_setting('server_version_num')::int >= 170000
            THEN pg_catalog.has_table_privilege(t.oid, 'MAINTAIN') ELSE false END,
         false) AS permitted,
       EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
               WHERE l.locktype = 'relation' AND l.database = d.oid
                 AND l.pid <> pg_catalog.pg_backend_pid()
                 AND l.mode IN ('ShareUpdateExclusiveLock', 'ShareLock',
                   'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
                 AND (l.relation = t.oid
                      OR l.relation IN (SELECT p.relid
                                        FROM pg_catalog.pg_partition_tree(t.oid::regclass) p)))
         AS busy
FROM pg_catalog.pg_database d
LEFT JOIN pg_catalog.pg_class t ON t.oid = to_regclass({qt})
WHERE d.datname = current_database()"
    );
    b.finish(sql, VACUUM_CHECK)
}

/// `VACUUM (SKIP_LOCKED)` of the queue table (of each partition, for a partitioned one). It
/// cannot run inside a transaction block (SQLSTATE `25001`), so an executor must run it on
/// its own, as every adapter runs a single statement. Never waits for a lock: a table that
/// is locked is skipped with a warning.
pub fn vacuum(q: &QueueName) -> Statement {
    one_off(format!("VACUUM (SKIP_LOCKED) {}", queue_table(q)), &[])
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    fn actions() -> StorageActions {
        StorageActions {
            queue_table: "SET (fillfactor = 90), RESET (autovacuum_enabled)".into(),
            archive: "SET (autovacuum_vacuum_insert_scale_factor = 0.05)".into(),
        }
    }

    #[test]
    fn set_storage_locks_checks_the_queue_then_alters_each_leaf_of_both_tables() {
        let st = set_storage(&name("jobs"), &actions());
        let lock = st
            .sql
            .find("pg_advisory_xact_lock(hashtext('pgmq.queue_jobs'))")
            .expect("locks");
        let exists = st
            .sql
            .find("PERFORM 'pgmq.\"q_jobs\"'::regclass;")
            .expect("checks");
        let queue = st
            .sql
            .find(
                "pg_partition_tree('pgmq.\"q_jobs\"'::regclass) p WHERE p.isleaf LOOP
      EXECUTE format('ALTER TABLE %s SET (fillfactor = 90), RESET (autovacuum_enabled)', \
                 pgmq_part);",
            )
            .expect("alters the queue table");
        let archive = st
            .sql
            .find(
                "pg_partition_tree('pgmq.\"a_jobs\"'::regclass) p WHERE p.isleaf LOOP
      EXECUTE format('ALTER TABLE %s SET (autovacuum_vacuum_insert_scale_factor = 0.05)', \
                 pgmq_part);",
            )
            .expect("alters the archive");
        assert!(
            lock < exists && exists < queue && queue < archive,
            "{}",
            st.sql
        );
        assert!(st.params.is_empty());
        assert!(!st.persistent);
    }

    #[test]
    fn nothing_to_apply_still_checks_the_queue() {
        let st = set_storage(&name("jobs"), &StorageActions::default());
        assert!(st.sql.contains("PERFORM 'pgmq.\"q_jobs\"'::regclass;"));
        assert!(!st.sql.contains("ALTER TABLE"), "{}", st.sql);
        let only_archive = StorageActions {
            archive: "RESET (fillfactor)".into(),
            ..StorageActions::default()
        };
        let body = apply_body(&name("jobs"), &only_archive);
        assert!(!body.contains("q_jobs"), "{body}");
        assert!(body.contains("a_jobs"), "{body}");
    }

    #[test]
    fn storage_and_the_vacuum_check_name_the_tables() {
        let st = storage(&name("jobs"));
        assert_eq!(
            st.params,
            vec![
                Param::Text("pgmq.\"q_jobs\"".into()),
                Param::Text("pgmq.\"a_jobs\"".into()),
            ]
        );
        assert_eq!(st.columns, STORAGE);
        let check = vacuum_check(&name("jobs"));
        assert_eq!(check.params, vec![Param::Text("pgmq.\"q_jobs\"".into())]);
        assert_eq!(check.columns, VACUUM_CHECK);
    }

    #[test]
    fn vacuum_skips_locked_tables_and_is_not_prepared() {
        let st = vacuum(&name("jobs"));
        assert_eq!(st.sql, "VACUUM (SKIP_LOCKED) pgmq.\"q_jobs\"");
        assert!(st.params.is_empty() && st.columns.is_empty() && !st.persistent);
    }
}
