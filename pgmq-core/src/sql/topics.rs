//! Topic routing: the bindings table (the pgmq extension's `pgmq.topic_bindings`, shared with
//! it) and the statements that bind, unbind, list, dry-run and send by routing key.

use serde_json::Value;

use super::send::Delay;
use super::{columns, Binds};
use crate::adapter::{Column, Param, Statement};
use crate::name::QueueName;
use crate::topic::{RoutingKey, TopicPattern};

/// The bindings table, the extension's own.
pub(super) const BINDINGS_TABLE: &str = "pgmq.topic_bindings";

/// The bindings table as the extension 1.13 declares it: same columns, types, defaults,
/// constraint names, generated column and index, so with the extension installed this finds
/// its table and changes nothing, and without it makes one the extension would take for its
/// own. A binding belongs to a `pgmq.meta` row and goes with it (`ON DELETE CASCADE`), so
/// dropping a queue drops its bindings.
///
/// `compiled_regex` is the pattern with every regex metacharacter escaped, then `*` turned
/// into `[^.]+` and `#` into `.*`, anchored: for every text, the string the extension's
/// expression gives (see [`TopicPattern::compiled_regex`]). The `E''` literals keep their
/// meaning whatever `standard_conforming_strings` says.
pub(super) fn ddl() -> String {
    format!(
        r"CREATE TABLE IF NOT EXISTS {BINDINGS_TABLE} (
    pattern TEXT NOT NULL,
    queue_name TEXT NOT NULL
      CONSTRAINT topic_bindings_meta_queue_name_fk
        REFERENCES pgmq.meta (queue_name) ON DELETE CASCADE,
    bound_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    compiled_regex TEXT GENERATED ALWAYS AS (
      '^' || replace(replace(regexp_replace(pattern, E'[].+?{{}}()|\\\\^$[]', E'\\\\\\&', 'g'),
                             '*', '[^.]+'),
                     '#', '.*') || '$'
    ) STORED,
    CONSTRAINT topic_bindings_unique_pattern_queue UNIQUE (pattern, queue_name)
  );
  CREATE INDEX IF NOT EXISTS idx_topic_bindings_covering
    ON {BINDINGS_TABLE} (pattern) INCLUDE (queue_name, compiled_regex);"
    )
}

/// A binding row, as [`topic_bindings`] and [`test_routing`] return it.
pub(super) const BINDING: &[Column] =
    columns![pattern: Text, queue_name: Text, bound_at: Timestamptz];

/// Whether the queue to bind exists: the one column of [`bind_topic`].
const QUEUE_EXISTS: &[Column] = columns![queue_exists: Bool];

/// Whether a binding was removed: the one column of [`unbind_topic`].
const UNBOUND: &[Column] = columns![unbound: Bool];

/// What [`send_topic`] returns: per message sent, its queue and id (the size columns
/// `NULL`); or, when a message is over a reached queue's maximum size, one row of only the
/// size columns, and nothing was sent.
pub(super) const ROUTED: &[Column] = columns![
    queue_name: Text, msg_id: Int8, oversized_index: Int8, oversized_size: Int8,
    max_message_bytes: Int8,
];

/// Binds `pattern` to `q` if the queue is in `pgmq.meta`; binding twice changes nothing.
/// Answers [`QUEUE_EXISTS`]: `false` means nothing was written.
pub fn bind_topic(pattern: &TopicPattern, q: &QueueName) -> Statement {
    let mut b = Binds::default();
    let pattern = b.bind(Param::Text(pattern.as_str().into()));
    let name = b.bind(Param::Text(q.to_string()));
    let sql = format!(
        "WITH q AS (SELECT m.queue_name FROM pgmq.meta m WHERE m.queue_name = {name}),
bound AS (
  INSERT INTO {BINDINGS_TABLE} (pattern, queue_name)
  SELECT {pattern}, q.queue_name FROM q
  ON CONFLICT ON CONSTRAINT topic_bindings_unique_pattern_queue DO NOTHING
  RETURNING 1)
SELECT EXISTS (SELECT 1 FROM q) AS queue_exists"
    );
    b.finish(sql, QUEUE_EXISTS)
}

/// Removes the binding of `pattern` to `q`; answers [`UNBOUND`].
pub fn unbind_topic(pattern: &TopicPattern, q: &QueueName) -> Statement {
    let mut b = Binds::default();
    let pattern = b.bind(Param::Text(pattern.as_str().into()));
    let name = b.bind(Param::Text(q.to_string()));
    let sql = format!(
        "WITH gone AS (
  DELETE FROM {BINDINGS_TABLE} t WHERE t.pattern = {pattern} AND t.queue_name = {name}
  RETURNING 1)
SELECT EXISTS (SELECT 1 FROM gone) AS unbound"
    );
    b.finish(sql, UNBOUND)
}

/// Every binding (or `q`'s), newest first, as the extension's `list_topic_bindings` orders
/// them.
pub fn topic_bindings(q: Option<&QueueName>) -> Statement {
    let mut b = Binds::default();
    let only = q
        .map(|q| {
            let name = b.bind(Param::Text(q.to_string()));
            format!("\nWHERE t.queue_name = {name}")
        })
        .unwrap_or_default();
    let sql = format!(
        "SELECT t.pattern, t.queue_name, t.bound_at FROM {BINDINGS_TABLE} t{only}
ORDER BY t.bound_at DESC, t.pattern, t.queue_name"
    );
    b.finish(sql, BINDING)
}

/// The bindings whose pattern matches `key`, by pattern, as the extension's `test_routing`
/// finds and orders them.
pub fn test_routing(key: &RoutingKey) -> Statement {
    let mut b = Binds::default();
    let key = b.bind(Param::Text(key.as_str().into()));
    let sql = format!(
        "SELECT t.pattern, t.queue_name, t.bound_at FROM {BINDINGS_TABLE} t
WHERE {key} ~ t.compiled_regex
ORDER BY t.pattern, t.queue_name"
    );
    b.finish(sql, BINDING)
}

/// Sends `messages` to every queue a binding routes `key` to, in one statement (see
/// `pgmq_rs.send_topic` in [`topic_function`](super::topic_function)); answers [`ROUTED`].
pub fn send_topic(
    key: &RoutingKey,
    messages: Vec<Value>,
    delay: Delay,
    headers: Option<Value>,
) -> Statement {
    let mut b = Binds::default();
    let key = b.bind(Param::Text(key.as_str().into()));
    let messages = b.bind(Param::JsonbArray(messages));
    let millis = b.bind(Param::NullableInt8(delay.0));
    let at = b.bind(Param::Timestamptz(delay.1));
    let headers = b.bind(Param::Jsonb(headers));
    let sql = format!(
        "SELECT queue_name, msg_id, oversized_index, oversized_size, max_message_bytes
FROM pgmq_rs.send_topic({key}, {messages}, {millis}, {at}, {headers})"
    );
    b.finish(sql, ROUTED)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;

    fn pattern(s: &str) -> TopicPattern {
        TopicPattern::new(s).expect("valid pattern")
    }

    fn key(s: &str) -> RoutingKey {
        RoutingKey::new(s).expect("valid key")
    }

    fn all() -> Vec<Statement> {
        vec![
            bind_topic(&pattern("orders.#"), &name("jobs")),
            unbind_topic(&pattern("orders.#"), &name("jobs")),
            topic_bindings(None),
            topic_bindings(Some(&name("jobs"))),
            test_routing(&key("orders.eu")),
            send_topic(&key("orders.eu"), vec![Value::Null], (Some(5), None), None),
        ]
    }

    #[test]
    fn every_parameter_is_used_once_with_its_cast_and_none_is_missing() {
        for st in all() {
            for (i, p) in st.params.iter().enumerate() {
                let cast = format!("${}::{}", i + 1, p.type_name());
                assert_eq!(st.sql.matches(&cast).count(), 1, "{cast} in {}", st.sql);
            }
            let next = format!("${}", st.params.len() + 1);
            assert!(!st.sql.contains(&next), "{next} is unbound in {}", st.sql);
            assert!(st.persistent, "{}", st.sql);
        }
    }

    #[test]
    fn the_table_is_the_extensions() {
        let ddl = ddl();
        for part in [
            "CREATE TABLE IF NOT EXISTS pgmq.topic_bindings (",
            "pattern TEXT NOT NULL,",
            "CONSTRAINT topic_bindings_meta_queue_name_fk\n        \
             REFERENCES pgmq.meta (queue_name) ON DELETE CASCADE,",
            "bound_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,",
            r"regexp_replace(pattern, E'[].+?{}()|\\\\^$[]', E'\\\\\\&', 'g')",
            ") STORED,",
            "CONSTRAINT topic_bindings_unique_pattern_queue UNIQUE (pattern, queue_name)",
            "CREATE INDEX IF NOT EXISTS idx_topic_bindings_covering\n    \
             ON pgmq.topic_bindings (pattern) INCLUDE (queue_name, compiled_regex);",
        ] {
            assert!(ddl.contains(part), "missing {part}\nin {ddl}");
        }
        let install = super::super::install().sql;
        let (meta, table) = (
            install.find("CREATE TABLE IF NOT EXISTS pgmq.meta"),
            install.find(&ddl),
        );
        assert!(
            matches!((meta, table), (Some(m), Some(t)) if m < t),
            "pgmq.meta, then the bindings, in\n{install}"
        );
    }

    #[test]
    fn bind_writes_only_for_a_queue_in_meta_and_ignores_a_repeat() {
        let st = bind_topic(&pattern("orders.*"), &name("Jobs"));
        assert_eq!(
            st.sql,
            "WITH q AS (SELECT m.queue_name FROM pgmq.meta m WHERE m.queue_name = $2::text),
bound AS (
  INSERT INTO pgmq.topic_bindings (pattern, queue_name)
  SELECT $1::text, q.queue_name FROM q
  ON CONFLICT ON CONSTRAINT topic_bindings_unique_pattern_queue DO NOTHING
  RETURNING 1)
SELECT EXISTS (SELECT 1 FROM q) AS queue_exists"
        );
        assert_eq!(
            st.params,
            vec![Param::Text("orders.*".into()), Param::Text("jobs".into())]
        );
        assert_eq!(st.columns, QUEUE_EXISTS);
    }

    #[test]
    fn listing_filters_only_when_asked_and_orders_as_the_extension() {
        let all = topic_bindings(None);
        assert!(all.params.is_empty());
        assert_eq!(
            all.sql,
            "SELECT t.pattern, t.queue_name, t.bound_at FROM pgmq.topic_bindings t
ORDER BY t.bound_at DESC, t.pattern, t.queue_name"
        );
        let one = topic_bindings(Some(&name("jobs")));
        assert!(one
            .sql
            .contains("t\nWHERE t.queue_name = $1::text\nORDER BY"));
        let routing = test_routing(&key("a.b"));
        assert!(routing.sql.contains("WHERE $1::text ~ t.compiled_regex\n"));
        assert!(routing.sql.ends_with("ORDER BY t.pattern, t.queue_name"));
        assert_eq!(routing.columns, BINDING);
    }

    #[test]
    fn send_calls_the_function_with_every_parameter_in_order() {
        let st = send_topic(
            &key("orders.eu"),
            vec![Value::Bool(true)],
            (None, None),
            Some(Value::Null),
        );
        assert_eq!(
            st.sql,
            "SELECT queue_name, msg_id, oversized_index, oversized_size, max_message_bytes
FROM pgmq_rs.send_topic($1::text, $2::jsonb[], $3::bigint, $4::timestamptz, $5::jsonb)"
        );
        assert_eq!(
            st.params,
            vec![
                Param::Text("orders.eu".into()),
                Param::JsonbArray(vec![Value::Bool(true)]),
                Param::NullableInt8(None),
                Param::Timestamptz(None),
                Param::Jsonb(Some(Value::Null)),
            ]
        );
        assert_eq!(st.columns, ROUTED);
    }
}
