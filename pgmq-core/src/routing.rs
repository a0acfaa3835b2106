//! Topic routing on every [`Executor`]: binding queues to [`TopicPattern`]s and sending to
//! the queues a [`RoutingKey`] reaches, each one statement.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::adapter::{Executor, Statement};
use crate::checks;
use crate::decode::Rows;
use crate::error::{DbErrorKind, Error, Result};
use crate::name::QueueName;
use crate::options::{delay_params, SendOptions};
use crate::run::{installed, run};
use crate::sql;
use crate::topic::{RoutingKey, TopicPattern};

/// A queue's binding to a topic pattern: messages sent with a routing key the pattern
/// matches go to the queue. A row of `pgmq.topic_bindings`, the pgmq extension's table, so
/// bindings made through the extension's `pgmq.bind_topic` are listed too.
///
/// Fields may be added in later releases; a custom backend builds one with
/// [`TopicBinding::new`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopicBinding {
    /// The pattern, as bound (the extension's rules, which [`TopicPattern`] checks).
    pub pattern: String,
    /// The queue's name as `pgmq.meta` holds it (a queue made by the extension may have a
    /// name [`QueueName`] rejects).
    pub queue_name: String,
    /// When the binding was made (server clock).
    pub bound_at: DateTime<Utc>,
}

impl TopicBinding {
    /// A binding as a backend listed it.
    pub fn new(pattern: String, queue_name: String, bound_at: DateTime<Utc>) -> Self {
        Self {
            pattern,
            queue_name,
            bound_at,
        }
    }
}

/// What a [`send_batch_topic_json`](crate::Queue::send_batch_topic_json) delivered to one
/// queue: the ids of the messages it wrote there, in input order.
///
/// The extension's `send_batch_topic` answers one `(queue_name, msg_id)` row per message and
/// queue, queue by queue in name order; this is the same, grouped by queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopicDelivery {
    /// The queue's name as `pgmq.meta` holds it.
    pub queue_name: String,
    /// The ids of the messages sent to it, in input order.
    pub msg_ids: Vec<i64>,
}

impl TopicDelivery {
    /// A delivery as a backend made it.
    pub fn new(queue_name: String, msg_ids: Vec<i64>) -> Self {
        Self {
            queue_name,
            msg_ids,
        }
    }
}

/// `Error::Database` of kind `UndefinedTable`: nothing installed yet.
fn is_missing_table(e: &Error) -> bool {
    matches!(
        e,
        Error::Database {
            kind: DbErrorKind::UndefinedTable,
            ..
        }
    )
}

/// See [`Queue::bind_topic`](crate::Queue::bind_topic).
pub(crate) async fn bind<E: Executor + ?Sized>(
    executor: &E,
    pattern: &TopicPattern,
    queue: &QueueName,
) -> Result<()> {
    let exists = match installed(executor, || sql::bind_topic(pattern, queue)).await {
        Ok(rows) => rows.single()?.boolean("queue_exists")?,
        // The queue was dropped between the statement's look at `pgmq.meta` and its insert.
        Err(e) if e.sqlstate() == Some("23503") => false,
        Err(e) => return Err(e),
    };
    if exists {
        Ok(())
    } else {
        Err(Error::not_found(queue))
    }
}

/// See [`Queue::unbind_topic`](crate::Queue::unbind_topic).
pub(crate) async fn unbind<E: Executor + ?Sized>(
    executor: &E,
    pattern: &TopicPattern,
    queue: &QueueName,
) -> Result<bool> {
    match run(executor, sql::unbind_topic(pattern, queue)).await {
        Ok(rows) => rows.single()?.boolean("unbound"),
        Err(e) if is_missing_table(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Binding rows; none when the table does not exist yet.
pub(crate) async fn bindings<E: Executor + ?Sized>(
    executor: &E,
    statement: Statement,
) -> Result<Vec<TopicBinding>> {
    let rows = match run(executor, statement).await {
        Ok(rows) => rows,
        Err(e) if is_missing_table(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    rows.each()
        .map(|mut c| {
            Ok(TopicBinding::new(
                c.text("pattern")?,
                c.text("queue_name")?,
                c.timestamp("bound_at")?,
            ))
        })
        .collect()
}

/// Sends `messages` (checked here) to every queue `key` reaches; the deliveries, queue by
/// queue in name order.
pub(crate) async fn send<E: Executor + ?Sized>(
    executor: &E,
    key: &RoutingKey,
    messages: Vec<Value>,
    options: SendOptions,
) -> Result<Vec<TopicDelivery>> {
    let delay = delay_params(options.delay)?;
    checks::headers(options.headers.as_ref())?;
    checks::batch(&messages)?;
    for (i, m) in messages.iter().enumerate() {
        checks::storable(i, m)?;
    }
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let headers = options.headers;
    let rows = installed(executor, || {
        sql::send_topic(key, messages.clone(), delay, headers.clone())
    })
    .await?;
    deliveries(rows)
}

/// Groups the rows of `pgmq_rs.send_topic` by queue, or reads the one oversized row.
fn deliveries(rows: Rows) -> Result<Vec<TopicDelivery>> {
    let mut out: Vec<TopicDelivery> = Vec::new();
    for mut c in rows.each() {
        let queue = c.opt_text("queue_name")?;
        let id = c.opt_int8("msg_id")?;
        let (Some(queue), Some(id)) = (queue, id) else {
            let count = |v: i64| u64::try_from(v).unwrap_or_default();
            return Err(Error::MessageTooLarge {
                index: usize::try_from(c.int8("oversized_index")?).unwrap_or_default(),
                size: count(c.int8("oversized_size")?),
                limit: count(c.int8("max_message_bytes")?),
            });
        };
        match out.last_mut() {
            Some(last) if last.queue_name == queue => last.msg_ids.push(id),
            _ => out.push(TopicDelivery::new(queue, vec![id])),
        }
    }
    Ok(out)
}
