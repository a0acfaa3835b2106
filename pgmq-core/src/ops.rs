//! [`Queue`] for every [`Executor`]: validation, statement, decoding. The one implementation
//! of the queue's logic.

use async_trait::async_trait;
use serde_json::Value;

use crate::adapter::Executor;
use crate::adapter::Statement;
use crate::checks::{self, on_queue};
use crate::decode::{self, Rows};
use crate::error::{DbErrorKind, Error, Result};
use crate::name::QueueName;
use crate::options::{
    checked_millis, checked_qty, CreateOptions, ReadOptions, SendOptions, VisibleAt,
};
use crate::queue::Queue;
use crate::types::{ArchivedMessage, Message, QueueInfo, QueueMetrics};
use crate::{poll, sql};

/// Runs `statement`, keeping its column list with the rows.
async fn run<E: Executor + ?Sized>(executor: &E, statement: Statement) -> Result<Rows> {
    let columns = statement.columns;
    let rows = executor.query(statement).await?;
    Ok(Rows { rows, columns })
}

/// [`run`] on `queue`, reporting a missing table as [`Error::QueueNotFound`].
async fn on<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
    statement: Statement,
) -> Result<Rows> {
    run(executor, statement).await.map_err(on_queue(queue))
}

/// The statement `build` makes for `ids`, run on `queue` and decoded by `decode`. No ids, no
/// query.
async fn by_ids<E, T>(
    executor: &E,
    queue: &QueueName,
    ids: &[i64],
    build: impl FnOnce(Vec<i64>) -> Statement,
    decode: fn(Rows) -> Result<Vec<T>>,
) -> Result<Vec<T>>
where
    E: Executor + ?Sized,
{
    checks::ids(ids)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    decode(on(executor, queue, build(ids.to_vec())).await?)
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
        let sql::DropQueue { lock, exists, drop } = sql::drop_queue(queue);
        let columns = exists.columns;
        let results = self.query_atomic(vec![lock, exists, drop]).await?;
        let [_locked, existed, _dropped]: [_; 3] =
            results.try_into().map_err(|r: Vec<_>| Error::Decode {
                reason: format!("drop_queue: 3 statements gave {} results", r.len()),
                source: None,
            })?;
        Rows {
            rows: existed,
            columns,
        }
        .single()?
        .boolean("existed")
    }

    async fn purge(&self, queue: &QueueName) -> Result<u64> {
        let n = on(self, queue, sql::purge(queue))
            .await?
            .single()?
            .int8("count")?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    async fn list_queues(&self) -> Result<Vec<QueueInfo>> {
        match run(self, sql::list_queues()).await {
            Ok(rows) => decode::queue_infos(rows),
            Err(Error::Database {
                kind: DbErrorKind::UndefinedTable,
                ..
            }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    async fn metrics(&self, queue: &QueueName) -> Result<QueueMetrics> {
        decode::metrics(on(self, queue, sql::metrics(queue)).await?)
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
        checks::storable(0, &message)?;
        let st = sql::send(queue, message, delay, options.headers);
        on(self, queue, st).await?.single()?.int8("msg_id")
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
        checks::batch(&messages)?;
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        for (i, m) in messages.iter().enumerate() {
            checks::storable(i, m)?;
        }
        let expected = messages.len();
        let st = sql::send_batch(queue, messages, delay, options.headers);
        let ids = decode::ids(on(self, queue, st).await?)?;
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
            decode::messages(on(self, queue, st).await?)
        };
        match options.wait {
            None => read_once().await,
            Some(wait) => {
                poll::until_some(wait, options.poll_interval, read_once, |d| self.sleep(d)).await
            }
        }
    }

    async fn pop_json(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>> {
        let st = sql::pop(queue, checked_qty(qty, "quantity")?);
        decode::messages(on(self, queue, st).await?)
    }

    async fn set_vt_batch(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        vt: VisibleAt,
    ) -> Result<Vec<Message>> {
        let vt = vt.to_params("visibility timeout")?;
        let build = |ids| sql::set_vt(queue, ids, vt);
        by_ids(self, queue, msg_ids, build, decode::messages).await
    }

    async fn delete_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        let build = |ids| sql::delete(queue, ids);
        by_ids(self, queue, msg_ids, build, decode::ids).await
    }

    async fn archive_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        let build = |ids| sql::archive(queue, ids);
        by_ids(self, queue, msg_ids, build, decode::ids).await
    }

    async fn read_archive(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
    ) -> Result<Vec<ArchivedMessage>> {
        let build = |ids| sql::read_archive(queue, ids);
        by_ids(self, queue, msg_ids, build, decode::archived).await
    }
}
