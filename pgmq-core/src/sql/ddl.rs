//! Installing the schema, creating and dropping queues.

use super::storage::StorageActions;
use super::{archive_table, one_off, queue_lock_key, queue_table, Binds, ARCHIVED_AT, MESSAGE};
use crate::adapter::{Column, Param, SqlType, Statement};
use crate::name::QueueName;

/// Advisory-lock key shared by every process installing the schema.
const INSTALL_LOCK: &str = "pgmq.install";

/// Whether existence was checked: the one column of [`DropQueue::exists`].
const EXISTED: &[Column] = &[Column::new("existed", SqlType::Bool)];

pub(super) fn install_body() -> String {
    format!(
        "PERFORM pg_advisory_xact_lock(hashtext('{INSTALL_LOCK}'));
  CREATE SCHEMA IF NOT EXISTS pgmq;
  CREATE TABLE IF NOT EXISTS pgmq.meta (
    queue_name VARCHAR UNIQUE NOT NULL,
    is_partitioned BOOLEAN NOT NULL,
    is_unlogged BOOLEAN NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL
  );
  {attributes}
  {notify}
  {metrics}
  {topics}
  {send_topic}",
        attributes = super::attributes::ddl(),
        notify = super::notify::install_body(),
        metrics = super::metrics_function::install_metrics_body(),
        topics = super::topics::ddl(),
        send_topic = super::topic_function::install_body(),
    )
}

/// Creates schema `pgmq` and `pgmq.meta` if missing. One `DO` block under an advisory lock,
/// so many processes can run it at once.
pub fn install() -> Statement {
    one_off(
        format!("DO $pgmq$\nBEGIN\n  {}\nEND\n$pgmq$", install_body()),
        &[],
    )
}

/// Whether this library's own objects exist: the attributes table, the metrics function, the
/// notification trigger's function and throttle table, the topic bindings and `send_topic`.
const INSTALLED: &[Column] = &[Column::new("installed", SqlType::Bool)];

/// See [`INSTALLED`].
pub fn installed() -> Statement {
    let sql = format!(
        "SELECT to_regclass('{table}') IS NOT NULL
   AND to_regprocedure('pgmq_rs.metrics(text)') IS NOT NULL
   AND to_regprocedure('{notify}') IS NOT NULL
   AND to_regclass('{throttle}') IS NOT NULL
   AND to_regclass('{bindings}') IS NOT NULL
   AND to_regprocedure('{send_topic}') IS NOT NULL AS installed",
        table = super::attributes::ATTRIBUTES_TABLE,
        notify = super::notify::FUNCTION,
        throttle = super::notify::THROTTLE_TABLE,
        bindings = super::topics::BINDINGS_TABLE,
        send_topic = super::topic_function::FUNCTION,
    );
    Binds::default().finish(sql, INSTALLED)
}

/// Which table a column definition is for: the queue's ids are generated, the archive's are
/// copied.
#[derive(Clone, Copy, PartialEq)]
enum Table {
    Queue,
    Archive,
}

/// One column's definition, as the extension declares it.
fn definition(c: &Column, table: Table) -> String {
    let ty = match c.ty {
        SqlType::Bool => "BOOLEAN",
        SqlType::Int4 => "INT",
        SqlType::Int8 => "BIGINT",
        SqlType::Text => "TEXT",
        SqlType::Timestamptz => "TIMESTAMP WITH TIME ZONE",
        SqlType::Jsonb => "JSONB",
    };
    let constraint = match (c.name, table) {
        ("msg_id", Table::Queue) => " PRIMARY KEY GENERATED ALWAYS AS IDENTITY",
        ("msg_id", Table::Archive) => " PRIMARY KEY",
        ("read_ct", _) => " DEFAULT 0 NOT NULL",
        ("enqueued_at" | "archived_at", _) => " DEFAULT now() NOT NULL",
        ("vt", _) => " NOT NULL",
        _ => "",
    };
    format!("    {} {ty}{constraint}", c.name)
}

/// The column definitions of a queue table, or of an archive (which has `archived_at` right
/// after `last_read_at`, where the extension puts it).
fn definitions(table: Table) -> String {
    let mut lines = Vec::new();
    for c in MESSAGE {
        lines.push(definition(c, table));
        if table == Table::Archive && c.name == "last_read_at" {
            lines.push(definition(&ARCHIVED_AT, table));
        }
    }
    lines.join(",\n")
}

/// Creates a queue, its archive, their indexes and its `pgmq.meta` row if missing (and the
/// schema, as [`install`] does). The advisory lock is the extension's per-queue lock, so this
/// also serializes with the extension's own `create`. With `notify_throttle_ms`, a queue
/// without an insert-notification trigger (ours or the extension's) gets ours. With
/// `fifo_index`, a new queue (one not yet in `pgmq.meta`) gets the FIFO index too; an
/// existing one is left as it is (building an index on a full table would block its sends):
/// see `create_fifo_index`. With `storage`, a new queue's tables get those storage
/// parameters; an existing queue keeps its own (see `set_storage`).
pub fn create(
    q: &QueueName,
    unlogged: bool,
    notify_throttle_ms: Option<i32>,
    fifo_index: bool,
    storage: Option<&StorageActions>,
) -> Statement {
    let (qt, at) = (queue_table(q), archive_table(q));
    let kind = if unlogged { "UNLOGGED TABLE" } else { "TABLE" };
    let sql = format!(
        "DO $pgmq$
BEGIN
  {install}
  PERFORM pg_advisory_xact_lock(hashtext('{lock}'));
  CREATE {kind} IF NOT EXISTS {qt} (
{queue_columns}
  );
  CREATE INDEX IF NOT EXISTS \"q_{q}_vt_idx\" ON {qt} (vt ASC);
  CREATE TABLE IF NOT EXISTS {at} (
{archive_columns}
  );
  CREATE INDEX IF NOT EXISTS \"archived_at_idx_{q}\" ON {at} (archived_at);{new_queue}
  INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged)
  VALUES ('{q}', false, {unlogged})
  ON CONFLICT (queue_name) DO NOTHING;{notify}
END
$pgmq$",
        notify = notify_throttle_ms
            .map(|ms| super::notify::ensure_body(q, ms))
            .unwrap_or_default(),
        install = install_body(),
        lock = queue_lock_key(q),
        new_queue = new_queue(q, fifo_index, storage),
        queue_columns = definitions(Table::Queue),
        archive_columns = definitions(Table::Archive),
    );
    one_off(sql, &[])
}

/// What only a new queue (one not yet in `pgmq.meta`) gets: the FIFO index and the storage
/// parameters, when asked for. Empty when neither is.
fn new_queue(q: &QueueName, fifo_index: bool, storage: Option<&StorageActions>) -> String {
    let mut body = String::new();
    if fifo_index {
        body.push_str(&format!("\n    {}", super::fifo_index::ddl(q)));
    }
    if let Some(actions) = storage {
        body.push_str(&super::storage::apply_body(q, actions).replace("\n", "\n  "));
    }
    if body.is_empty() {
        return body;
    }
    format!("\n  IF NOT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = '{q}') THEN{body}\n  END IF;")
}

/// Dropping a queue: three statements run atomically, in field order. `exists` answers one
/// boolean: whether the queue existed.
#[derive(Debug)]
pub struct DropQueue {
    /// Takes the per-queue advisory lock.
    pub lock: Statement,
    /// Whether the queue table exists.
    pub exists: Statement,
    /// Drops both tables and the `pgmq.meta` row.
    pub drop: Statement,
}

/// See [`DropQueue`].
pub fn drop_queue(q: &QueueName) -> DropQueue {
    let mut b = Binds::default();
    let key = b.bind(Param::Text(queue_lock_key(q)));
    let lock = b.finish(
        format!("SELECT pg_advisory_xact_lock(hashtext({key}))"),
        &[],
    );
    let mut b = Binds::default();
    let table = b.bind(Param::Text(queue_table(q)));
    let exists = b.finish(
        format!("SELECT to_regclass({table}) IS NOT NULL AS existed"),
        EXISTED,
    );
    let drop = one_off(
        format!(
            "DO $pgmq$
BEGIN
  DROP TABLE IF EXISTS {qt};
  DROP TABLE IF EXISTS {at};
  IF to_regclass('pgmq.meta') IS NOT NULL THEN
    DELETE FROM pgmq.meta WHERE queue_name = '{q}';
  END IF;{partman}
END
$pgmq$",
            partman = super::partitions::drop_body(q),
            qt = queue_table(q),
            at = archive_table(q),
        ),
        &[],
    );
    DropQueue { lock, exists, drop }
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    #[test]
    fn ddl_uses_the_extension_layout() {
        let st = create(&name("jobs"), true, None, false, None);
        let expected = [
            "CREATE UNLOGGED TABLE IF NOT EXISTS pgmq.\"q_jobs\" (
    msg_id BIGINT PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    read_ct INT DEFAULT 0 NOT NULL,
    enqueued_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    last_read_at TIMESTAMP WITH TIME ZONE,
    vt TIMESTAMP WITH TIME ZONE NOT NULL,
    message JSONB,
    headers JSONB
  );",
            "CREATE TABLE IF NOT EXISTS pgmq.\"a_jobs\" (
    msg_id BIGINT PRIMARY KEY,
    read_ct INT DEFAULT 0 NOT NULL,
    enqueued_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    last_read_at TIMESTAMP WITH TIME ZONE,
    archived_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    vt TIMESTAMP WITH TIME ZONE NOT NULL,
    message JSONB,
    headers JSONB
  );",
            "CREATE INDEX IF NOT EXISTS \"q_jobs_vt_idx\" ON pgmq.\"q_jobs\" (vt ASC);",
            "CREATE INDEX IF NOT EXISTS \"archived_at_idx_jobs\" ON pgmq.\"a_jobs\" (archived_at);",
            "pg_advisory_xact_lock(hashtext('pgmq.queue_jobs'))",
        ];
        for part in expected {
            assert!(st.sql.contains(part), "missing {part}\nin {}", st.sql);
        }
        assert!(!st.persistent);
        assert!(create(&name("jobs"), false, Some(10), false, None)
            .sql
            .contains("CREATE TABLE IF NOT EXISTS pgmq.\"q_jobs\""));
    }

    #[test]
    fn a_new_queue_gets_its_storage_parameters_and_an_existing_one_keeps_its_own() {
        let actions = StorageActions {
            queue_table: "SET (autovacuum_vacuum_threshold = 1000)".into(),
            archive: "SET (autovacuum_vacuum_insert_scale_factor = 0.05)".into(),
        };
        let sql = create(&name("jobs"), false, None, true, Some(&actions)).sql;
        let new = sql
            .find("IF NOT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = 'jobs') THEN")
            .expect("only for a new queue");
        let queue = sql
            .find("EXECUTE format('ALTER TABLE %s SET (autovacuum_vacuum_threshold = 1000)'")
            .expect("the queue table");
        let archive = sql
            .find("EXECUTE format('ALTER TABLE %s SET (autovacuum_vacuum_insert_scale_factor = 0.05)'")
            .expect("the archive");
        let end = sql
            .find("  END IF;\n  INSERT INTO pgmq.meta")
            .expect("before the meta row");
        assert!(new < queue && queue < archive && archive < end, "{sql}");
        assert!(
            sql.contains("q_jobs_fifo_idx"),
            "the FIFO index still comes too"
        );
        let without = create(&name("jobs"), false, None, false, None).sql;
        assert!(
            !without.contains("IF NOT EXISTS (SELECT 1 FROM pgmq.meta"),
            "{without}"
        );
    }

    #[test]
    fn drop_queue_locks_with_the_same_key_as_create() {
        let d = drop_queue(&name("jobs"));
        assert_eq!(d.lock.params, vec![Param::Text("pgmq.queue_jobs".into())]);
        assert_eq!(d.exists.params, vec![Param::Text("pgmq.\"q_jobs\"".into())]);
        assert_eq!(d.exists.columns, EXISTED);
        assert!(!d.drop.persistent);
    }
}
