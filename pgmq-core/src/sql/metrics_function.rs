//! `pgmq_rs.metrics(only_queue)`: the PL/pgSQL function behind
//! [`metrics`](super::metrics) and [`metrics_all`](super::metrics_all). A queue's dead-letter
//! queue is only known in the database, and `metrics_all` is one statement, so the per-queue
//! queries are built there, with `format('%I')`.

use super::metrics::METRICS;
use crate::adapter::{Column, SqlType};

/// The function [`metrics`] and [`metrics_all`] call, with its argument types, as
/// `to_regprocedure` and `DROP FUNCTION` name it.
const FUNCTION: &str = "pgmq_rs.metrics(text)";

/// The Postgres name of a result column's type, as a function declares it.
fn type_name(ty: SqlType) -> &'static str {
    match ty {
        SqlType::Bool => "boolean",
        SqlType::Int4 => "integer",
        SqlType::Int8 => "bigint",
        SqlType::Text => "text",
        SqlType::Timestamptz => "timestamptz",
        SqlType::Jsonb => "jsonb",
    }
}

/// `queue_name text, queue_length bigint, …`: [`METRICS`] as a `RETURNS TABLE` list.
fn returns_table() -> String {
    returns_table_of(METRICS)
}

/// `columns` as a `RETURNS TABLE` list: `name type, …`.
pub(super) fn returns_table_of(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| format!("{} {}", c.name, type_name(c.ty)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The PL/pgSQL body of `pgmq_rs.metrics(only_queue text)`: what `pg_proc.prosrc` holds.
///
/// For each queue in `pgmq.meta` (every one when `only_queue` is `NULL`, else the one whose
/// name matches it case-insensitively, as the extension names tables), in name order, whose
/// table exists: one scan of the queue table counts and ages everything at one instant
/// `t = clock_timestamp()` (visible: `vt <= t`; in flight: `vt > t` and read before; delayed:
/// `vt > t` and never read), the identity sequence gives the total ever sent (as the
/// extension's `metrics()` does), and a queue with a dead-letter queue in
/// `pgmq_rs.queue_attributes` gets that queue's length. A queue dropped since the listing is
/// left out; a dead-letter queue whose table is gone has no length. The first line names the
/// returned columns, so a changed column list is a changed body and
/// [`install_metrics_body`] replaces the function.
fn function_body() -> String {
    format!(
        "
-- pgmq-rs metrics; returns: {returns}
DECLARE
  q record;
  qtable text;
  total text;
  t timestamptz;
BEGIN
  FOR q IN
    SELECT m.queue_name::text AS name, a.dead_letter_queue::text AS dlq
    FROM pgmq.meta m
    LEFT JOIN pgmq_rs.queue_attributes a ON a.queue_name = m.queue_name
    WHERE only_queue IS NULL OR lower(m.queue_name) = lower(only_queue)
    ORDER BY m.queue_name
  LOOP
    qtable := lower('q_' || q.name);
    CONTINUE WHEN to_regclass(format('pgmq.%I', qtable)) IS NULL;
    t := clock_timestamp();
    BEGIN
      -- The identity's own sequence, looked up rather than guessed: a queue named
      -- '<x>_msg_id_seq' created first takes the name '<x>' would have guessed.
      total := pg_get_serial_sequence(format('pgmq.%I', qtable), 'msg_id');
      total := CASE WHEN total IS NULL THEN 'NULL::bigint' ELSE format(
        '(SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END FROM %s s)', total) END;
      EXECUTE format(
        'SELECT count(*),
                count(*) FILTER (WHERE vt <= $1),
                count(*) FILTER (WHERE vt > $1 AND read_ct > 0),
                count(*) FILTER (WHERE vt > $1 AND read_ct = 0),
                floor(extract(epoch FROM ($1 - max(enqueued_at))))::int,
                floor(extract(epoch FROM ($1 - min(enqueued_at))))::int,
                floor(extract(epoch FROM ($1 - min(enqueued_at) FILTER (WHERE vt <= $1))))::int,
                %s
         FROM pgmq.%I',
        total, qtable)
      INTO queue_length, queue_visible_length, queue_in_flight_length, queue_delayed_length,
           newest_msg_age_sec, oldest_msg_age_sec, oldest_visible_msg_age_sec, total_messages
      USING t;
    EXCEPTION WHEN undefined_table OR undefined_column THEN
      -- Dropped since the listing (looking its sequence up then finds no msg_id column).
      CONTINUE;
    END;
    queue_name := q.name;
    scrape_time := t;
    dead_letter_queue := q.dlq;
    dead_letter_queue_length := NULL;
    IF q.dlq IS NOT NULL THEN
      BEGIN
        EXECUTE format('SELECT count(*) FROM pgmq.%I', lower('q_' || q.dlq))
        INTO dead_letter_queue_length;
      EXCEPTION WHEN undefined_table THEN
        NULL; -- the dead-letter queue's table is gone: no length
      END;
    END IF;
    RETURN NEXT;
  END LOOP;
END
",
        returns = returns_table(),
    )
}

/// `CREATE FUNCTION pgmq_rs.metrics(only_queue text) RETURNS TABLE (…)`: the function
/// behind [`metrics`] and [`metrics_all`], declared from [`METRICS`]. Needs schema
/// `pgmq_rs`; the tables it reads (`pgmq.meta`, `pgmq_rs.queue_attributes`) need only exist
/// when it is called. Quoted with `$metrics$`, so it can sit inside a `DO $pgmq$` block.
fn metrics_function() -> String {
    format!(
        "CREATE FUNCTION pgmq_rs.metrics(only_queue text)
RETURNS TABLE ({returns})
LANGUAGE plpgsql
AS $metrics${body}$metrics$",
        returns = returns_table(),
        body = function_body(),
    )
}

/// PL/pgSQL statements for the inside of the install `DO` block, which already holds the
/// install advisory lock, after schema `pgmq_rs` exists: (re)creates `pgmq_rs.metrics` when
/// it is missing or its body differs from this version's, and otherwise writes nothing, so
/// running it on every `install`/`create` costs one catalog lookup. A differing function is
/// dropped first, since its returned columns may have changed (`CREATE OR REPLACE` cannot
/// change them).
///
/// The lock matters: two sessions running `CREATE OR REPLACE FUNCTION` at once can fail
/// with `tuple concurrently updated`.
pub(super) fn install_metrics_body() -> String {
    install_if_changed(FUNCTION, &function_body(), &metrics_function())
}

/// The install-block statements that (re)create `function` (named with its argument types)
/// with `create` when it is missing or its `prosrc` differs from `body`; dropped first, since
/// its returned columns may have changed. Otherwise they write nothing.
pub(super) fn install_if_changed(function: &str, body: &str, create: &str) -> String {
    format!(
        "IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc
                 WHERE oid = to_regprocedure('{function}')
                   AND prosrc = $src${body}$src$) THEN
    DROP FUNCTION IF EXISTS {function};
    {create};
  END IF;"
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    #[test]
    fn the_function_returns_the_metrics_column_list() {
        let f = metrics_function();
        assert!(f.starts_with(
            "CREATE FUNCTION pgmq_rs.metrics(only_queue text)\nRETURNS TABLE (\
             queue_name text, queue_length bigint, queue_visible_length bigint, \
             newest_msg_age_sec integer, oldest_msg_age_sec integer, total_messages bigint, \
             scrape_time timestamptz, queue_in_flight_length bigint, \
             queue_delayed_length bigint, oldest_visible_msg_age_sec integer, \
             dead_letter_queue text, dead_letter_queue_length bigint)\nLANGUAGE plpgsql\n\
             AS $metrics$"
        ));
        assert!(f.ends_with("END\n$metrics$"));
        // Every column the function returns is assigned in its body.
        let body = function_body();
        for c in METRICS {
            assert!(
                body.contains(&format!("{} :=", c.name))
                    || body.contains(&format!(" {},", c.name))
                    || body.contains(&format!(" {}\n", c.name)),
                "{} is never set in\n{body}",
                c.name
            );
        }
    }

    #[test]
    fn the_function_scans_each_queue_once_and_quotes_every_name() {
        let body = function_body();
        for part in [
            "count(*) FILTER (WHERE vt <= $1)",
            "count(*) FILTER (WHERE vt > $1 AND read_ct > 0)",
            "count(*) FILTER (WHERE vt > $1 AND read_ct = 0)",
            "min(enqueued_at) FILTER (WHERE vt <= $1)",
            "t := clock_timestamp();",
            "USING t;",
            "LEFT JOIN pgmq_rs.queue_attributes a ON a.queue_name = m.queue_name",
            "to_regclass(format('pgmq.%I', qtable))",
            "EXCEPTION WHEN undefined_table OR undefined_column THEN",
            "ORDER BY m.queue_name",
        ] {
            assert!(body.contains(part), "missing {part}\nin {body}");
        }
        assert_eq!(body.matches("EXECUTE format(").count(), 2, "{body}");
        // The queue table and the dead-letter queue's; the sequence is looked up.
        assert_eq!(body.matches(" FROM pgmq.%I").count(), 2, "{body}");
        assert!(body.contains("pg_get_serial_sequence(format('pgmq.%I', qtable), 'msg_id')"));
        for quoted in ["$pgmq$", "$src$", "$metrics$", "\""] {
            assert!(!body.contains(quoted), "{quoted} in the body");
        }
    }

    #[test]
    fn install_and_create_replace_the_function_only_when_it_differs_under_the_install_lock() {
        let inner = install_metrics_body();
        for st in [
            super::super::install(),
            super::super::create(&name("jobs"), false, None, false, None),
        ] {
            assert!(!st.persistent);
            let (lock, schema, function) = (
                st.sql
                    .find("PERFORM pg_advisory_xact_lock(hashtext('pgmq.install'))"),
                st.sql.find("CREATE SCHEMA IF NOT EXISTS pgmq_rs;"),
                st.sql.find(&inner),
            );
            assert!(
                matches!((lock, schema, function), (Some(l), Some(s), Some(f)) if l < s && s < f),
                "the lock, then schema pgmq_rs, then the function, in\n{}",
                st.sql
            );
        }
        assert!(inner.contains(&format!("prosrc = $src${}$src$", function_body())));
        assert!(inner.contains("oid = to_regprocedure('pgmq_rs.metrics(text)')"));
        assert!(inner.contains("DROP FUNCTION IF EXISTS pgmq_rs.metrics(text);"));
        assert!(inner.contains(&format!(
            "CREATE FUNCTION pgmq_rs.metrics(only_queue text)\nRETURNS TABLE ({})",
            returns_table()
        )));
        assert!(!inner.contains("CREATE OR REPLACE"));
        assert_eq!(inner.matches("$pgmq$").count(), 0);
    }
}
