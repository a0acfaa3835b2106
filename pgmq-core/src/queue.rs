//! The [`Queue`] trait and its implementation for every [`Executor`].

use async_trait::async_trait;
use serde_json::Value;

use crate::error::{DbErrorKind, Error, Result};
use crate::executor::Executor;
use crate::name::QueueName;
use crate::options::{
    checked_millis, checked_qty, CreateOptions, ReadOptions, SendOptions, VisibleAt, MAX_BATCH,
};
use crate::statement::{Cells, Row};
use crate::types::{ArchivedMessage, Message, QueueInfo, QueueMetrics};
use crate::{poll, sql};

/// A message queue in Postgres: the operations every backend provides.
///
/// Messages travel as JSON here so the trait stays object-safe (`dyn Queue` works); typed
/// `send`/`read`/`pop` and single-id conveniences come from [`QueueExt`](crate::QueueExt),
/// which every `Queue` has.
///
/// The trait is open: implement [`Executor`] for a driver and get `Queue` for free, or
/// implement `Queue` yourself (a decorator, a different store) and prove it with the
/// `pgmq-conformance` suite.
///
/// # Behavior
/// - Bad input (negative timeouts, quantities outside `1..=`[`MAX_BATCH`]) fails with
///   [`Error::InvalidArgument`] before any SQL runs and changes nothing.
/// - An operation on a queue that does not exist fails with [`Error::QueueNotFound`];
///   `drop_queue` answers `false` instead.
/// - Time is the server's: visibility is computed with `clock_timestamp()`.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Creates schema `pgmq` and table `pgmq.meta` if missing. Idempotent and safe to run
    /// from many processes at once. `create` does this too, so calling it is optional.
    async fn install(&self) -> Result<()>;

    /// Creates a queue (and the schema) if missing. Creating an existing queue does nothing.
    async fn create(&self, queue: &QueueName, options: CreateOptions) -> Result<()>;

    /// Drops a queue, its archive and its `pgmq.meta` row. Returns whether the queue existed.
    async fn drop_queue(&self, queue: &QueueName) -> Result<bool>;

    /// Deletes every message in the queue; returns how many there were.
    async fn purge(&self, queue: &QueueName) -> Result<u64>;

    /// Every queue in `pgmq.meta`, by name. Empty when nothing is installed.
    async fn list_queues(&self) -> Result<Vec<QueueInfo>>;

    /// Length, visible length, ages and total sent for one queue.
    async fn metrics(&self, queue: &QueueName) -> Result<QueueMetrics>;

    /// [`metrics`](Self::metrics) for every queue in `pgmq.meta`.
    async fn metrics_all(&self) -> Result<Vec<QueueMetrics>>;

    /// Sends one message; returns its id.
    async fn send_json(
        &self,
        queue: &QueueName,
        message: Value,
        options: SendOptions,
    ) -> Result<i64>;

    /// Sends up to [`MAX_BATCH`] messages in one statement, all or nothing. Returns their ids
    /// in input order. An empty batch returns an empty list without touching the database.
    async fn send_batch_json(
        &self,
        queue: &QueueName,
        messages: Vec<Value>,
        options: SendOptions,
    ) -> Result<Vec<i64>>;

    /// Reads up to `options.qty` visible messages, hiding them for `options.vt`, incrementing
    /// `read_ct` and setting `last_read_at`. Messages that became visible first come first;
    /// the returned list is in `msg_id` order. With `options.wait`, waits up to that long for
    /// a message to appear. Two readers never get the same message within its visibility
    /// timeout.
    async fn read_json(&self, queue: &QueueName, options: ReadOptions) -> Result<Vec<Message>>;

    /// Reads and deletes up to `qty` visible messages in one statement.
    async fn pop_json(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>>;

    /// Moves the visibility of the given messages; returns the ones that exist, updated.
    async fn set_vt_batch(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        vt: VisibleAt,
    ) -> Result<Vec<Message>>;

    /// Deletes the given messages; returns the ids actually deleted, ascending.
    async fn delete_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>>;

    /// Moves the given messages to the archive (`pgmq.a_<name>`, stamped `archived_at`);
    /// returns the ids actually archived, ascending.
    async fn archive_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>>;

    /// Looks up archived messages by id; missing ids are left out.
    async fn read_archive(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
    ) -> Result<Vec<ArchivedMessage>>;
}

/// Turns "table missing" into the queue-level answer.
fn on_queue(queue: &QueueName) -> impl FnOnce(Error) -> Error + '_ {
    move |e| match e {
        Error::Database {
            kind: DbErrorKind::UndefinedTable,
            ..
        } => Error::QueueNotFound {
            queue: queue.to_string(),
        },
        other => other,
    }
}

fn check_ids(ids: &[i64]) -> Result<()> {
    if ids.len() > MAX_BATCH {
        return Err(Error::invalid(
            "message id list",
            format!("{} ids is more than the limit of {MAX_BATCH}", ids.len()),
        ));
    }
    Ok(())
}

fn check_storable(index: usize, value: &Value) -> Result<()> {
    let bad = |s: &str| s.contains('\0');
    let found = match value {
        Value::String(s) => bad(s),
        Value::Array(items) => return items.iter().try_for_each(|v| check_storable(index, v)),
        Value::Object(map) => {
            for (k, v) in map {
                if bad(k) {
                    return Err(nul(index));
                }
                check_storable(index, v)?;
            }
            false
        }
        _ => false,
    };
    if found {
        return Err(nul(index));
    }
    Ok(())
}

fn nul(index: usize) -> Error {
    Error::InvalidMessage {
        index,
        reason: "it contains the character U+0000, which Postgres jsonb cannot store".into(),
    }
}

/// Reads the message columns, in [`sql::MESSAGE_COLUMNS`] order, off the front of a row.
fn take_message(c: &mut Cells) -> Result<Message> {
    Ok(Message {
        msg_id: c.int8()?,
        read_ct: c.int4()?,
        enqueued_at: c.timestamp()?,
        last_read_at: c.opt_timestamp()?,
        vt: c.timestamp()?,
        message: c.opt_json()?.unwrap_or(Value::Null),
        headers: c.opt_json()?,
    })
}

fn decode_message(row: Row) -> Result<Message> {
    take_message(&mut Cells::new(row))
}

fn decode_messages(rows: Vec<Row>) -> Result<Vec<Message>> {
    let mut out = rows
        .into_iter()
        .map(decode_message)
        .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|m| m.msg_id);
    Ok(out)
}

fn decode_ids(rows: Vec<Row>) -> Result<Vec<i64>> {
    let mut ids = rows
        .into_iter()
        .map(|r| Cells::new(r).int8())
        .collect::<Result<Vec<_>>>()?;
    ids.sort_unstable();
    Ok(ids)
}

fn single(rows: Vec<Row>) -> Result<Row> {
    let n = rows.len();
    rows.into_iter()
        .next()
        .filter(|_| n == 1)
        .ok_or_else(|| Error::Decode {
            reason: format!("expected one row, got {n}"),
            source: None,
        })
}

fn decode_metrics(row: Row) -> Result<QueueMetrics> {
    let mut c = Cells::new(row);
    Ok(QueueMetrics {
        queue_name: c.text()?,
        queue_length: c.int8()?,
        queue_visible_length: c.int8()?,
        newest_msg_age_sec: c.opt_int4()?,
        oldest_msg_age_sec: c.opt_int4()?,
        total_messages: c.int8()?,
        scrape_time: c.timestamp()?,
    })
}

fn decode_queue_info(row: Row) -> Result<QueueInfo> {
    let mut c = Cells::new(row);
    Ok(QueueInfo {
        queue_name: c.text()?,
        created_at: c.timestamp()?,
        is_partitioned: c.boolean()?,
        is_unlogged: c.boolean()?,
    })
}

/// An archive row: the message columns, then `archived_at` ([`sql::ARCHIVE_COLUMNS`]).
fn decode_archived(row: Row) -> Result<ArchivedMessage> {
    let mut c = Cells::new(row);
    Ok(ArchivedMessage {
        message: take_message(&mut c)?,
        archived_at: c.timestamp()?,
    })
}

#[async_trait]
impl<E: Executor + ?Sized> Queue for E {
    async fn install(&self) -> Result<()> {
        self.query(sql::install()).await.map(drop)
    }

    async fn create(&self, queue: &QueueName, options: CreateOptions) -> Result<()> {
        self.query(sql::create(queue, options.unlogged))
            .await
            .map(drop)
    }

    async fn drop_queue(&self, queue: &QueueName) -> Result<bool> {
        let results = self.query_atomic(sql::drop_queue(queue).into()).await?;
        let existed = results
            .into_iter()
            .nth(1)
            .ok_or_else(|| Error::Decode {
                reason: "drop_queue: missing existence check result".into(),
                source: None,
            })
            .and_then(single)?;
        Cells::new(existed).boolean()
    }

    async fn purge(&self, queue: &QueueName) -> Result<u64> {
        let rows = self
            .query(sql::purge(queue))
            .await
            .map_err(on_queue(queue))?;
        let n = Cells::new(single(rows)?).int8()?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    async fn list_queues(&self) -> Result<Vec<QueueInfo>> {
        match self.query(sql::list_queues()).await {
            Ok(rows) => rows.into_iter().map(decode_queue_info).collect(),
            Err(Error::Database {
                kind: DbErrorKind::UndefinedTable,
                ..
            }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    async fn metrics(&self, queue: &QueueName) -> Result<QueueMetrics> {
        let rows = self
            .query(sql::metrics(queue))
            .await
            .map_err(on_queue(queue))?;
        decode_metrics(single(rows)?)
    }

    async fn metrics_all(&self) -> Result<Vec<QueueMetrics>> {
        let mut all = Vec::new();
        for info in self.list_queues().await? {
            let Ok(name) = QueueName::new(&info.queue_name) else {
                continue; // a name only the extension would accept; not ours to measure
            };
            match self.metrics(&name).await {
                Ok(m) => all.push(m),
                // dropped between the listing and now
                Err(Error::QueueNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(all)
    }

    async fn send_json(
        &self,
        queue: &QueueName,
        message: Value,
        options: SendOptions,
    ) -> Result<i64> {
        let delay = options
            .delay
            .unwrap_or(VisibleAt::now())
            .to_params("delay")?;
        check_storable(0, &message)?;
        let rows = self
            .query(sql::send(queue, message, delay, options.headers))
            .await
            .map_err(on_queue(queue))?;
        Cells::new(single(rows)?).int8()
    }

    async fn send_batch_json(
        &self,
        queue: &QueueName,
        messages: Vec<Value>,
        options: SendOptions,
    ) -> Result<Vec<i64>> {
        let delay = options
            .delay
            .unwrap_or(VisibleAt::now())
            .to_params("delay")?;
        if messages.len() > MAX_BATCH {
            return Err(Error::invalid(
                "batch size",
                format!(
                    "{} messages is more than the limit of {MAX_BATCH}",
                    messages.len()
                ),
            ));
        }
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        for (i, m) in messages.iter().enumerate() {
            check_storable(i, m)?;
        }
        let expected = messages.len();
        let rows = self
            .query(sql::send_batch(queue, messages, delay, options.headers))
            .await
            .map_err(on_queue(queue))?;
        let ids = decode_ids(rows)?;
        if ids.len() != expected {
            return Err(Error::Decode {
                reason: format!("sent {expected} messages but got {} ids", ids.len()),
                source: None,
            });
        }
        Ok(ids)
    }

    async fn read_json(&self, queue: &QueueName, options: ReadOptions) -> Result<Vec<Message>> {
        let vt = checked_millis(options.vt, "visibility timeout")?;
        let qty = checked_qty(options.qty, "quantity")?;
        let read_once = || async {
            let st = sql::read(queue, vt, qty, options.filter.clone());
            let rows = self.query(st).await.map_err(on_queue(queue))?;
            decode_messages(rows)
        };
        match options.wait {
            None => read_once().await,
            Some(wait) => {
                poll::until_some(wait, options.poll_interval, read_once, |d| self.sleep(d)).await
            }
        }
    }

    async fn pop_json(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>> {
        let qty = checked_qty(qty, "quantity")?;
        let rows = self
            .query(sql::pop(queue, qty))
            .await
            .map_err(on_queue(queue))?;
        decode_messages(rows)
    }

    async fn set_vt_batch(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        vt: VisibleAt,
    ) -> Result<Vec<Message>> {
        let vt = vt.to_params("visibility timeout")?;
        check_ids(msg_ids)?;
        if msg_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .query(sql::set_vt(queue, msg_ids.to_vec(), vt))
            .await
            .map_err(on_queue(queue))?;
        decode_messages(rows)
    }

    async fn delete_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        check_ids(msg_ids)?;
        if msg_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .query(sql::delete(queue, msg_ids.to_vec()))
            .await
            .map_err(on_queue(queue))?;
        decode_ids(rows)
    }

    async fn archive_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        check_ids(msg_ids)?;
        if msg_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .query(sql::archive(queue, msg_ids.to_vec()))
            .await
            .map_err(on_queue(queue))?;
        decode_ids(rows)
    }

    async fn read_archive(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
    ) -> Result<Vec<ArchivedMessage>> {
        check_ids(msg_ids)?;
        if msg_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .query(sql::read_archive(queue, msg_ids.to_vec()))
            .await
            .map_err(on_queue(queue))?;
        rows.into_iter().map(decode_archived).collect()
    }
}
