//! [`Queue`] for every [`Executor`]: validation, statement, decoding. The one implementation
//! of the queue's logic.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::adapter::Executor;
use crate::adapter::Statement;
use crate::attributes::{QueueAttributes, RedriveOptions};
use crate::checks;
use crate::decode::{self, Rows};
use crate::error::{DbErrorKind, Error, Result};
use crate::listen::{Readiness, Subscription};
use crate::name::QueueName;
use crate::options::{
    checked_millis, checked_qty, delay_params, CreateOptions, ReadOptions, SendOptions, VisibleAt,
};
use crate::queue::Queue;
use crate::receipt::{Fence, Receipt};
use crate::routing::{self, TopicBinding, TopicDelivery};
use crate::run::{installed, on, run};
use crate::storage::StorageParams;
use crate::topic::{RoutingKey, TopicPattern};
use crate::trace::traced;
use crate::tuning::{QueueStorage, VacuumOutcome};
use crate::types::{ArchivedMessage, Message, QueueInfo, QueueMetrics};
use crate::{dead_letters, fenced, fifo_index, poll, sending, settings, sql, tuning};

/// The statement `build` makes for `ids`, run on `queue` and decoded by `decode`. No ids, no
/// query.
async fn by_ids<E, T>(
    executor: &E,
    queue: &QueueName,
    ids: &[i64],
    build: impl Fn(Vec<i64>) -> Statement + Send + Sync,
    decode: fn(Rows) -> Result<Vec<T>>,
) -> Result<Vec<T>>
where
    E: Executor + ?Sized,
{
    checks::ids(ids)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    decode(on(executor, queue, || build(ids.to_vec())).await?)
}

#[async_trait]
impl<E: Executor + ?Sized> Queue for E {
    async fn install(&self) -> Result<()> {
        traced("install", None, None, async move {
            self.query(sql::install()).await.map(drop)
        })
        .await
    }

    async fn create(&self, queue: &QueueName, options: CreateOptions) -> Result<()> {
        traced("create", Some(queue), None, async move {
            settings::create(self, queue, options).await
        })
        .await
    }

    async fn drop_queue(&self, queue: &QueueName) -> Result<bool> {
        traced("drop_queue", Some(queue), None, async move {
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
        })
        .await
    }

    async fn purge(&self, queue: &QueueName) -> Result<u64> {
        traced("purge", Some(queue), None, async move {
            let n = on(self, queue, || sql::purge(queue))
                .await?
                .single()?
                .int8("count")?;
            Ok(u64::try_from(n).unwrap_or_default())
        })
        .await
    }

    async fn list_queues(&self) -> Result<Vec<QueueInfo>> {
        traced("list_queues", None, None, async move {
            match run(self, sql::list_queues()).await {
                Ok(rows) => decode::queue_infos(rows),
                Err(Error::Database {
                    kind: DbErrorKind::UndefinedTable,
                    ..
                }) => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn metrics(&self, queue: &QueueName) -> Result<QueueMetrics> {
        traced("metrics", Some(queue), None, async move {
            // The function reports a missing queue as no row; an error is about this library's
            // own objects (installed here on first need), not about the queue.
            decode::metrics(installed(self, || sql::metrics(queue)).await?)?
                .into_iter()
                .next()
                .ok_or_else(|| Error::not_found(queue))
        })
        .await
    }

    async fn metrics_all(&self) -> Result<Vec<QueueMetrics>> {
        traced("metrics_all", None, None, async move {
            decode::metrics(installed(self, sql::metrics_all).await?)
        })
        .await
    }

    async fn send_json(
        &self,
        queue: &QueueName,
        message: Value,
        options: SendOptions,
    ) -> Result<i64> {
        traced("send_json", Some(queue), Some(1), async move {
            checks::storable(0, &message)?;
            checks::headers(options.headers.as_ref())?;
            let ids = sending::send(self, queue, vec![message], options, true).await?;
            ids.first().copied().ok_or_else(|| Error::Decode {
                reason: "a send returned no id".into(),
                source: None,
            })
        })
        .await
    }

    async fn send_batch_json(
        &self,
        queue: &QueueName,
        messages: Vec<Value>,
        options: SendOptions,
    ) -> Result<Vec<i64>> {
        let count = Some(messages.len());
        traced("send_batch_json", Some(queue), count, async move {
            // Checked here too so a bad delay fails even an empty batch.
            delay_params(options.delay)?;
            checks::headers(options.headers.as_ref())?;
            checks::batch(&messages)?;
            if messages.is_empty() {
                return Ok(Vec::new());
            }
            for (i, m) in messages.iter().enumerate() {
                checks::storable(i, m)?;
            }
            sending::send(self, queue, messages, options, false).await
        })
        .await
    }

    async fn read_json(&self, queue: &QueueName, options: ReadOptions) -> Result<Vec<Message>> {
        let count = Some(options.qty);
        traced("read_json", Some(queue), count, async move {
            let vt = options
                .vt
                .map(|vt| checked_millis(vt, "visibility timeout"))
                .transpose()?;
            let qty = checked_qty(options.qty, "quantity")?;
            let filter = &options.filter;
            let grouped = options.grouped;
            if grouped.is_some() {
                fifo_index::require(self, queue).await?;
            }
            let read_once = || {
                dead_letters::claim(self, queue, qty, move |n| match grouped {
                    None => sql::read(queue, vt, n, filter.clone()),
                    Some(order) => sql::read_grouped(queue, order, vt, n, filter.clone()),
                })
            };
            match options.wait {
                None => read_once().await,
                Some(wait) => {
                    options.check_wait(wait)?;
                    let interval = options.poll_interval;
                    poll::until_some(self, queue, wait, interval, read_once, |d| self.sleep(d))
                        .await
                }
            }
        })
        .await
    }

    async fn pop_json(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>> {
        traced("pop_json", Some(queue), Some(qty), async move {
            let qty = checked_qty(qty, "quantity")?;
            dead_letters::claim(self, queue, qty, |n| sql::pop(queue, n)).await
        })
        .await
    }

    async fn set_vt_batch(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        vt: VisibleAt,
    ) -> Result<Vec<Message>> {
        let count = Some(msg_ids.len());
        traced("set_vt_batch", Some(queue), count, async move {
            let vt = vt.to_params("visibility timeout")?;
            let build = |ids| sql::set_vt(queue, ids, vt);
            by_ids(self, queue, msg_ids, build, decode::messages).await
        })
        .await
    }

    async fn delete_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        let count = Some(msg_ids.len());
        traced("delete_batch", Some(queue), count, async move {
            let build = |ids| sql::delete(queue, ids);
            by_ids(self, queue, msg_ids, build, decode::ids).await
        })
        .await
    }

    async fn archive_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        let count = Some(msg_ids.len());
        traced("archive_batch", Some(queue), count, async move {
            let build = |ids| sql::archive(queue, ids);
            by_ids(self, queue, msg_ids, build, decode::ids).await
        })
        .await
    }

    async fn read_archive(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
    ) -> Result<Vec<ArchivedMessage>> {
        let count = Some(msg_ids.len());
        traced("read_archive", Some(queue), count, async move {
            let build = |ids| sql::read_archive(queue, ids);
            by_ids(self, queue, msg_ids, build, decode::archived).await
        })
        .await
    }

    async fn delete_receipts(&self, queue: &QueueName, receipts: &[Receipt]) -> Result<Vec<Fence>> {
        let count = Some(receipts.len());
        traced("delete_receipts", Some(queue), count, async move {
            fenced::acknowledge(self, queue, receipts, false).await
        })
        .await
    }

    async fn archive_receipts(
        &self,
        queue: &QueueName,
        receipts: &[Receipt],
    ) -> Result<Vec<Fence>> {
        let count = Some(receipts.len());
        traced("archive_receipts", Some(queue), count, async move {
            fenced::acknowledge(self, queue, receipts, true).await
        })
        .await
    }

    async fn set_vt_receipts(
        &self,
        queue: &QueueName,
        receipts: &[Receipt],
        vt: VisibleAt,
    ) -> Result<Vec<Option<Message>>> {
        let count = Some(receipts.len());
        traced("set_vt_receipts", Some(queue), count, async move {
            fenced::set_vt(self, queue, receipts, vt).await
        })
        .await
    }

    async fn attributes(&self, queue: &QueueName) -> Result<QueueAttributes> {
        traced("attributes", Some(queue), None, async move {
            settings::attributes(self, queue).await
        })
        .await
    }

    async fn set_attributes(&self, queue: &QueueName, attributes: QueueAttributes) -> Result<()> {
        traced("set_attributes", Some(queue), None, async move {
            settings::set_attributes(self, queue, attributes).await
        })
        .await
    }

    async fn trim_archive(&self, queue: &QueueName) -> Result<u64> {
        traced("trim_archive", Some(queue), None, async move {
            settings::trim_archive(self, queue).await
        })
        .await
    }

    async fn redrive(&self, dead_letter_queue: &QueueName, options: RedriveOptions) -> Result<u64> {
        traced("redrive", Some(dead_letter_queue), None, async move {
            dead_letters::redrive(self, dead_letter_queue, options).await
        })
        .await
    }

    async fn peek(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>> {
        traced("peek", Some(queue), Some(qty), async move {
            let qty = checked_qty(qty, "quantity")?;
            decode::messages_in_row_order(on(self, queue, || sql::peek(queue, qty)).await?)
        })
        .await
    }

    async fn enable_notify_insert(&self, queue: &QueueName, throttle: Duration) -> Result<()> {
        traced("enable_notify_insert", Some(queue), None, async move {
            let ms = settings::throttle_millis(throttle)?;
            on(self, queue, || sql::enable_notify(queue, ms))
                .await
                .map(drop)
        })
        .await
    }

    async fn disable_notify_insert(&self, queue: &QueueName) -> Result<()> {
        traced("disable_notify_insert", Some(queue), None, async move {
            on(self, queue, || sql::disable_notify(queue))
                .await
                .map(drop)
        })
        .await
    }

    async fn subscribe(&self, queue: &QueueName) -> Result<Subscription> {
        Ok(match self.listener() {
            Some(listener) => Subscription::new(listener, queue).await,
            None => Subscription::polling(),
        })
    }

    async fn readiness(&self, queue: &QueueName) -> Result<Readiness> {
        decode::readiness(on(self, queue, || sql::readiness(queue)).await?)
    }

    async fn create_fifo_index(&self, queue: &QueueName) -> Result<()> {
        traced("create_fifo_index", Some(queue), None, async move {
            on(self, queue, || sql::create_fifo_index(queue))
                .await
                .map(drop)
        })
        .await
    }

    async fn set_storage(&self, queue: &QueueName, params: &StorageParams) -> Result<()> {
        traced("set_storage", Some(queue), None, async move {
            tuning::set_storage(self, queue, params).await
        })
        .await
    }

    async fn storage(&self, queue: &QueueName) -> Result<QueueStorage> {
        traced("storage", Some(queue), None, async move {
            tuning::storage(self, queue).await
        })
        .await
    }

    async fn vacuum(&self, queue: &QueueName) -> Result<VacuumOutcome> {
        traced("vacuum", Some(queue), None, async move {
            tuning::vacuum(self, queue).await
        })
        .await
    }

    async fn partition_maintenance(
        &self,
        queue: Option<&QueueName>,
    ) -> Result<Vec<crate::PartitionInfo>> {
        traced("partition_maintenance", queue, None, async move {
            crate::partitions::maintenance(self, queue).await
        })
        .await
    }

    async fn convert_archive_partitioned(
        &self,
        queue: &QueueName,
        partitioning: crate::Partitioning,
    ) -> Result<()> {
        traced(
            "convert_archive_partitioned",
            Some(queue),
            None,
            async move { crate::partitions::convert_archive(self, queue, partitioning).await },
        )
        .await
    }

    async fn bind_topic(&self, pattern: &TopicPattern, queue: &QueueName) -> Result<()> {
        traced("bind_topic", Some(queue), None, async move {
            routing::bind(self, pattern, queue).await
        })
        .await
    }

    async fn unbind_topic(&self, pattern: &TopicPattern, queue: &QueueName) -> Result<bool> {
        traced("unbind_topic", Some(queue), None, async move {
            routing::unbind(self, pattern, queue).await
        })
        .await
    }

    async fn topic_bindings(&self, queue: Option<&QueueName>) -> Result<Vec<TopicBinding>> {
        traced("topic_bindings", queue, None, async move {
            routing::bindings(self, sql::topic_bindings(queue)).await
        })
        .await
    }

    async fn test_routing(&self, key: &RoutingKey) -> Result<Vec<TopicBinding>> {
        traced("test_routing", None, None, async move {
            routing::bindings(self, sql::test_routing(key)).await
        })
        .await
    }

    async fn send_topic_json(
        &self,
        key: &RoutingKey,
        message: Value,
        options: SendOptions,
    ) -> Result<usize> {
        traced("send_topic_json", None, Some(1), async move {
            let sent = routing::send(self, key, vec![message], options).await?;
            Ok(sent.len())
        })
        .await
    }

    async fn send_batch_topic_json(
        &self,
        key: &RoutingKey,
        messages: Vec<Value>,
        options: SendOptions,
    ) -> Result<Vec<TopicDelivery>> {
        let count = Some(messages.len());
        traced("send_batch_topic_json", None, count, async move {
            routing::send(self, key, messages, options).await
        })
        .await
    }
}
