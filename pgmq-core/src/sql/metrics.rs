//! Looking at queues: purge, list and metrics.

use super::{column_list, columns, queue_table, Binds};
use crate::adapter::{Column, Param, Statement};
use crate::name::QueueName;

/// A `pgmq.meta` row.
const QUEUE_INFO: &[Column] = columns![
    queue_name: Text, created_at: Timestamptz, is_partitioned: Bool, is_unlogged: Bool,
];

/// A metrics row: the extension's `metrics()` columns, named as it names them, then this
/// library's (SQS's `ApproximateNumberOfMessagesNotVisible`/`…Delayed`, the age of the
/// oldest visible message, the dead-letter queue and its length). `pgmq_rs.metrics`
/// returns exactly these, in this order, and is declared from this list.
pub(super) const METRICS: &[Column] = columns![
    queue_name: Text, queue_length: Int8, queue_visible_length: Int8,
    newest_msg_age_sec: Int4, oldest_msg_age_sec: Int4, total_messages: Int8,
    scrape_time: Timestamptz,
    queue_in_flight_length: Int8, queue_delayed_length: Int8,
    oldest_visible_msg_age_sec: Int4, dead_letter_queue: Text, dead_letter_queue_length: Int8,
];

/// A count of rows acted on.
const COUNT: &[Column] = columns![count: Int8];

/// Deletes every message; returns how many.
pub fn purge(q: &QueueName) -> Statement {
    let sql = format!(
        "WITH purged AS (DELETE FROM {} RETURNING 1) SELECT count(*)::bigint AS count FROM purged",
        queue_table(q)
    );
    Binds::default().finish(sql, COUNT)
}

/// Every queue in `pgmq.meta`, by name.
pub fn list_queues() -> Statement {
    let sql = "SELECT queue_name::text, created_at, is_partitioned, is_unlogged \
               FROM pgmq.meta ORDER BY queue_name";
    Binds::default().finish(sql.into(), QUEUE_INFO)
}

/// One queue's metrics row (none when the queue does not exist), from `pgmq_rs.metrics`,
/// which `install` and `create` make (`install_metrics_body`).
pub fn metrics(q: &QueueName) -> Statement {
    let mut b = Binds::default();
    let name = b.bind(Param::Text(q.to_string()));
    let sql = format!(
        "SELECT {} FROM pgmq_rs.metrics({name})",
        column_list(METRICS, "")
    );
    b.finish(sql, METRICS)
}

/// Every queue's metrics row, by queue name, in one statement.
pub fn metrics_all() -> Statement {
    let sql = format!(
        "SELECT {} FROM pgmq_rs.metrics(NULL::text)",
        column_list(METRICS, "")
    );
    Binds::default().finish(sql, METRICS)
}

#[cfg(test)]
mod tests {
    use super::super::tests::name;
    use super::*;
    use crate::error::DbErrorKind;

    const COLUMNS: &str = "queue_name, queue_length, queue_visible_length, newest_msg_age_sec, \
                           oldest_msg_age_sec, total_messages, scrape_time, \
                           queue_in_flight_length, queue_delayed_length, \
                           oldest_visible_msg_age_sec, dead_letter_queue, \
                           dead_letter_queue_length";

    #[test]
    fn metrics_calls_the_function_with_the_name_bound() {
        let st = metrics(&name("Jobs"));
        assert_eq!(
            st.sql,
            format!("SELECT {COLUMNS} FROM pgmq_rs.metrics($1::text)")
        );
        assert_eq!(st.params, vec![Param::Text("jobs".into())]);
        assert_eq!(st.columns, METRICS);
        assert!(st.persistent);
    }

    #[test]
    fn metrics_all_is_one_statement_for_every_queue() {
        let st = metrics_all();
        assert_eq!(
            st.sql,
            format!("SELECT {COLUMNS} FROM pgmq_rs.metrics(NULL::text)")
        );
        assert!(st.params.is_empty());
        assert_eq!(st.columns, METRICS);
        assert!(st.persistent);
    }

    #[test]
    fn a_missing_function_is_classified() {
        assert_eq!(
            DbErrorKind::from_sqlstate("42883"),
            DbErrorKind::UndefinedFunction
        );
    }
}
