//! Looking at queues: purge, list and metrics.

use super::{columns, queue_table, Binds};
use crate::adapter::{Column, Param, SqlType, Statement};
use crate::name::QueueName;

/// A `pgmq.meta` row.
const QUEUE_INFO: &[Column] = columns![
    queue_name: Text, created_at: Timestamptz, is_partitioned: Bool, is_unlogged: Bool,
];

/// A metrics row, named as the extension's `metrics()` names them.
const METRICS: &[Column] = columns![
    queue_name: Text, queue_length: Int8, queue_visible_length: Int8,
    newest_msg_age_sec: Int4, oldest_msg_age_sec: Int4, total_messages: Int8,
    scrape_time: Timestamptz,
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

/// One metrics row, named as the extension names them. The message total comes from the identity sequence, as the
/// extension's does; every age is measured against one server instant.
pub fn metrics(q: &QueueName) -> Statement {
    let mut b = Binds::default();
    let name = b.bind(Param::Text(q.to_string()));
    let sql = format!(
        "SELECT {name} AS queue_name, s.len AS queue_length, s.visible AS queue_visible_length,
       floor(extract(epoch FROM (n.t - s.newest)))::int AS newest_msg_age_sec,
       floor(extract(epoch FROM (n.t - s.oldest)))::int AS oldest_msg_age_sec,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
        FROM pgmq.\"q_{q}_msg_id_seq\") AS total_messages,
       n.t AS scrape_time
FROM (SELECT clock_timestamp() AS t) n,
LATERAL (SELECT count(*) AS len,
                count(*) FILTER (WHERE vt <= n.t) AS visible,
                max(enqueued_at) AS newest,
                min(enqueued_at) AS oldest
         FROM {qt}) s",
        qt = queue_table(q),
    );
    b.finish(sql, METRICS)
}
