//! `pgmq_rs.send_topic(…)`: the PL/pgSQL function behind [`send_topic`](super::send_topic).
//! Which queues a routing key reaches is only known in the database, and a send to all of
//! them is one statement, so the per-queue inserts are built there, with `format('%I')`.

use super::metrics_function::{install_if_changed, returns_table_of};
use super::topics::{BINDINGS_TABLE, ROUTED};

/// The function, with its argument types, as `to_regprocedure` and `DROP FUNCTION` name it.
pub(super) const FUNCTION: &str =
    "pgmq_rs.send_topic(text,jsonb[],bigint,timestamp with time zone,jsonb)";

/// The PL/pgSQL body of `pgmq_rs.send_topic(routing_key, msgs, delay_ms, delay_at, headers)`:
/// what `pg_proc.prosrc` holds.
///
/// 1. The queues bound with a pattern whose `compiled_regex` matches the key, each once, in
///    name order (as the extension's `send_topic` picks them).
/// 2. Each one's per-queue advisory lock, shared: sends never wait for each other, but a
///    `drop_queue` (ours or the extension's, which hold it exclusively) either waits for this
///    transaction or has committed, and then the queue's table is gone and it is left out.
///    So a send racing a drop never fails on the dropped queue's missing table.
/// 3. The size check for every message against every reached queue's maximum, before any
///    insert: one message over one queue's limit, and the function answers one row naming
///    it (the message's 0-based index, its size, the limit; `queue_name` and `msg_id`
///    `NULL`) and writes nothing, so the caller's transaction stays usable.
/// 4. One insert per queue, as a plain send makes it: all messages in input order, one
///    enqueue instant for all queues, the given delay or else the queue's default delay.
///    Each insert fires the queue's own notification trigger. It answers one row per message
///    sent: the queue's name and the message's id.
///
/// The first line names the returned columns, so a changed column list is a changed body and
/// [`install_body`] replaces the function.
fn function_body() -> String {
    format!(
        "
-- pgmq-rs send_topic; returns: {returns}
DECLARE
  reached text[];
  target text;
  t timestamptz;
BEGIN
  reached := ARRAY(SELECT DISTINCT b.queue_name::text FROM {BINDINGS_TABLE} b
                   WHERE routing_key ~ b.compiled_regex
                   ORDER BY 1);
  -- Both the name as listed (the extension's drop locks that) and lower-cased (ours does).
  FOREACH target IN ARRAY reached LOOP
    PERFORM pg_advisory_xact_lock_shared(hashtext('pgmq.queue_' || target));
    IF lower(target) <> target THEN
      PERFORM pg_advisory_xact_lock_shared(hashtext('pgmq.queue_' || lower(target)));
    END IF;
  END LOOP;
  reached := ARRAY(SELECT r.name FROM unnest(reached) AS r(name)
                   WHERE to_regclass(format('pgmq.%I', lower('q_' || r.name))) IS NOT NULL
                   ORDER BY 1);
  SELECT x.ord - 1, octet_length(x.message::text), a.max_message_bytes
    INTO oversized_index, oversized_size, max_message_bytes
  FROM pgmq_rs.queue_attributes a, unnest(msgs) WITH ORDINALITY AS x(message, ord)
  WHERE a.queue_name = ANY (reached) AND octet_length(x.message::text) > a.max_message_bytes
  ORDER BY x.ord, a.max_message_bytes
  LIMIT 1;
  IF FOUND THEN
    RETURN NEXT;
    RETURN;
  END IF;
  t := clock_timestamp();
  FOREACH target IN ARRAY reached LOOP
    RETURN QUERY EXECUTE format(
      'INSERT INTO pgmq.%I (enqueued_at, vt, message, headers)
       SELECT $1, COALESCE($2, $1 + COALESCE($3, a.default_delay_ms, 0)
                                      * interval ''1 millisecond''),
              m.message, $4
       FROM unnest($5) WITH ORDINALITY AS m(message, ord)
       LEFT JOIN pgmq_rs.queue_attributes a ON a.queue_name = $6
       ORDER BY m.ord
       RETURNING $6, msg_id, NULL::bigint, NULL::bigint, NULL::bigint',
      lower('q_' || target))
    USING t, delay_at, delay_ms, headers, msgs, target;
  END LOOP;
END
",
        returns = returns_table_of(ROUTED),
    )
}

/// `CREATE FUNCTION pgmq_rs.send_topic(…) RETURNS TABLE (…)`, declared from [`ROUTED`].
/// Quoted with `$send_topic$`, so it can sit inside a `DO $pgmq$` block.
fn create_function() -> String {
    format!(
        "CREATE FUNCTION pgmq_rs.send_topic(
    routing_key text, msgs jsonb[], delay_ms bigint, delay_at timestamptz, headers jsonb)
RETURNS TABLE ({returns})
LANGUAGE plpgsql
AS $send_topic${body}$send_topic$",
        returns = returns_table_of(ROUTED),
        body = function_body(),
    )
}

/// PL/pgSQL statements for the install `DO` block (which holds the install lock, after
/// schema `pgmq_rs` exists): (re)creates the function when it is missing or its body differs
/// from this version's, and otherwise writes nothing. Dropped first, since its returned
/// columns may have changed.
pub(super) fn install_body() -> String {
    install_if_changed(FUNCTION, &function_body(), &create_function())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_returns_the_routed_column_list() {
        let f = create_function();
        assert!(f.contains(
            "RETURNS TABLE (queue_name text, msg_id bigint, oversized_index bigint, \
             oversized_size bigint, max_message_bytes bigint)\nLANGUAGE plpgsql\n"
        ));
        assert!(f.starts_with(
            "CREATE FUNCTION pgmq_rs.send_topic(\n    routing_key text, msgs jsonb[], \
             delay_ms bigint, delay_at timestamptz, headers jsonb)"
        ));
        assert!(f.ends_with("END\n$send_topic$"));
    }

    #[test]
    fn the_function_locks_then_checks_sizes_then_inserts_with_quoted_names() {
        let body = function_body();
        let order = [
            "WHERE routing_key ~ b.compiled_regex",
            "pg_advisory_xact_lock_shared(hashtext('pgmq.queue_' || target))",
            "to_regclass(format('pgmq.%I', lower('q_' || r.name))) IS NOT NULL",
            "octet_length(x.message::text) > a.max_message_bytes",
            "RETURN NEXT;\n    RETURN;",
            "t := clock_timestamp();",
            "'INSERT INTO pgmq.%I (enqueued_at, vt, message, headers)",
            "COALESCE($3, a.default_delay_ms, 0)",
            "ORDER BY m.ord",
            "USING t, delay_at, delay_ms, headers, msgs, target;",
        ];
        let mut at = 0;
        for part in order {
            let found = body[at..]
                .find(part)
                .unwrap_or_else(|| panic!("missing or out of order: {part}\nin {body}"));
            at += found + part.len();
        }
        assert_eq!(body.matches("EXECUTE format(").count(), 1, "{body}");
        assert!(body.contains("SELECT DISTINCT b.queue_name::text"));
        for quoted in ["$pgmq$", "$src$", "$send_topic$", "\""] {
            assert!(!body.contains(quoted), "{quoted} in the body");
        }
    }

    #[test]
    fn install_and_create_replace_the_function_only_when_it_differs() {
        let inner = install_body();
        for st in [
            super::super::install(),
            super::super::create(&super::super::tests::name("jobs"), false, None, false, None),
        ] {
            let (schema, function) = (
                st.sql.find("CREATE SCHEMA IF NOT EXISTS pgmq_rs;"),
                st.sql.find(&inner),
            );
            assert!(
                matches!((schema, function), (Some(s), Some(f)) if s < f),
                "schema pgmq_rs, then the function, in\n{}",
                st.sql
            );
        }
        assert!(inner.contains(&format!("prosrc = $src${}$src$", function_body())));
        assert!(inner.contains(&format!("DROP FUNCTION IF EXISTS {FUNCTION};")));
        assert!(!inner.contains("CREATE OR REPLACE"));
    }
}
