//! Runs the async suite on a [`BlockingQueue`]: each operation goes to `spawn_blocking`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pgmq_core::blocking::{BlockingExecutor, BlockingQueue};
use pgmq_core::serde_json::Value;
use pgmq_core::{
    ArchivedMessage, CreateOptions, Error, Fence, Message, Queue, QueueAttributes, QueueInfo,
    QueueMetrics, QueueName, QueueStorage, ReadOptions, Readiness, Receipt, RedriveOptions, Result,
    RoutingKey, SendOptions, StorageParams, TopicBinding, TopicDelivery, TopicPattern,
    VacuumOutcome, VisibleAt,
};

/// A [`Queue`] over a [`BlockingQueue`], so the blocking twin of a backend passes the very
/// same conformance cases as its async side. Clones share the one blocking queue.
pub struct SpawnBlocking<E>(Arc<BlockingQueue<E>>);

impl<E> Clone for SpawnBlocking<E> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<E: BlockingExecutor + 'static> SpawnBlocking<E> {
    /// Wraps `queue`.
    pub fn new(queue: BlockingQueue<E>) -> Self {
        Self(Arc::new(queue))
    }

    /// Gives the blocking queue back, or `None` while a clone of this `SpawnBlocking` (or an
    /// operation on it) still holds it.
    pub fn into_inner(self) -> Option<BlockingQueue<E>> {
        Arc::into_inner(self.0)
    }

    async fn run<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&BlockingQueue<E>) -> Result<T> + Send + 'static,
    {
        let queue = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || op(&queue))
            .await
            .map_err(|e| Error::Driver { source: e.into() })?
    }
}

#[async_trait]
impl<E: BlockingExecutor + 'static> Queue for SpawnBlocking<E> {
    async fn install(&self) -> Result<()> {
        self.run(|q| q.install()).await
    }

    async fn create(&self, queue: &QueueName, options: CreateOptions) -> Result<()> {
        let queue = queue.clone();
        self.run(move |q| q.create(&queue, options)).await
    }

    async fn drop_queue(&self, queue: &QueueName) -> Result<bool> {
        let queue = queue.clone();
        self.run(move |q| q.drop_queue(&queue)).await
    }

    async fn purge(&self, queue: &QueueName) -> Result<u64> {
        let queue = queue.clone();
        self.run(move |q| q.purge(&queue)).await
    }

    async fn list_queues(&self) -> Result<Vec<QueueInfo>> {
        self.run(|q| q.list_queues()).await
    }

    async fn metrics(&self, queue: &QueueName) -> Result<QueueMetrics> {
        let queue = queue.clone();
        self.run(move |q| q.metrics(&queue)).await
    }

    async fn metrics_all(&self) -> Result<Vec<QueueMetrics>> {
        self.run(|q| q.metrics_all()).await
    }

    async fn send_json(
        &self,
        queue: &QueueName,
        message: Value,
        options: SendOptions,
    ) -> Result<i64> {
        let queue = queue.clone();
        self.run(move |q| q.send(&queue, &message, options)).await
    }

    async fn send_batch_json(
        &self,
        queue: &QueueName,
        messages: Vec<Value>,
        options: SendOptions,
    ) -> Result<Vec<i64>> {
        let queue = queue.clone();
        self.run(move |q| q.send_batch(&queue, &messages, options))
            .await
    }

    async fn read_json(&self, queue: &QueueName, options: ReadOptions) -> Result<Vec<Message>> {
        let queue = queue.clone();
        self.run(move |q| q.read(&queue, options)).await
    }

    async fn pop_json(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>> {
        let queue = queue.clone();
        self.run(move |q| q.pop_json(&queue, qty)).await
    }

    async fn set_vt_batch(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        vt: VisibleAt,
    ) -> Result<Vec<Message>> {
        let (queue, ids) = (queue.clone(), msg_ids.to_vec());
        self.run(move |q| q.set_vt_batch(&queue, &ids, vt)).await
    }

    async fn delete_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        let (queue, ids) = (queue.clone(), msg_ids.to_vec());
        self.run(move |q| q.delete_batch(&queue, &ids)).await
    }

    async fn archive_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        let (queue, ids) = (queue.clone(), msg_ids.to_vec());
        self.run(move |q| q.archive_batch(&queue, &ids)).await
    }

    async fn read_archive(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
    ) -> Result<Vec<ArchivedMessage>> {
        let (queue, ids) = (queue.clone(), msg_ids.to_vec());
        self.run(move |q| q.read_archive(&queue, &ids)).await
    }

    async fn attributes(&self, queue: &QueueName) -> Result<QueueAttributes> {
        let queue = queue.clone();
        self.run(move |q| q.attributes(&queue)).await
    }

    async fn set_attributes(&self, queue: &QueueName, attributes: QueueAttributes) -> Result<()> {
        let queue = queue.clone();
        self.run(move |q| q.set_attributes(&queue, attributes))
            .await
    }

    async fn trim_archive(&self, queue: &QueueName) -> Result<u64> {
        let queue = queue.clone();
        self.run(move |q| q.trim_archive(&queue)).await
    }

    async fn redrive(&self, dead_letter_queue: &QueueName, options: RedriveOptions) -> Result<u64> {
        let queue = dead_letter_queue.clone();
        self.run(move |q| q.redrive(&queue, options)).await
    }

    async fn delete_receipts(&self, queue: &QueueName, receipts: &[Receipt]) -> Result<Vec<Fence>> {
        let (queue, receipts) = (queue.clone(), receipts.to_vec());
        self.run(move |q| q.delete_receipts(&queue, &receipts))
            .await
    }

    async fn archive_receipts(
        &self,
        queue: &QueueName,
        receipts: &[Receipt],
    ) -> Result<Vec<Fence>> {
        let (queue, receipts) = (queue.clone(), receipts.to_vec());
        self.run(move |q| q.archive_receipts(&queue, &receipts))
            .await
    }

    async fn set_vt_receipts(
        &self,
        queue: &QueueName,
        receipts: &[Receipt],
        vt: VisibleAt,
    ) -> Result<Vec<Option<Message>>> {
        let (queue, receipts) = (queue.clone(), receipts.to_vec());
        self.run(move |q| q.set_vt_receipts(&queue, &receipts, vt))
            .await
    }

    async fn peek(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>> {
        let queue = queue.clone();
        self.run(move |q| q.peek(&queue, qty)).await
    }

    async fn enable_notify_insert(&self, queue: &QueueName, throttle: Duration) -> Result<()> {
        let queue = queue.clone();
        self.run(move |q| q.enable_notify_insert(&queue, throttle))
            .await
    }

    async fn disable_notify_insert(&self, queue: &QueueName) -> Result<()> {
        let queue = queue.clone();
        self.run(move |q| q.disable_notify_insert(&queue)).await
    }

    async fn readiness(&self, queue: &QueueName) -> Result<Readiness> {
        let queue = queue.clone();
        self.run(move |q| q.readiness(&queue)).await
    }

    async fn create_fifo_index(&self, queue: &QueueName) -> Result<()> {
        let queue = queue.clone();
        self.run(move |q| q.create_fifo_index(&queue)).await
    }

    async fn set_storage(&self, queue: &QueueName, params: &StorageParams) -> Result<()> {
        let (queue, params) = (queue.clone(), params.clone());
        self.run(move |q| q.set_storage(&queue, &params)).await
    }

    async fn storage(&self, queue: &QueueName) -> Result<QueueStorage> {
        let queue = queue.clone();
        self.run(move |q| q.storage(&queue)).await
    }

    async fn vacuum(&self, queue: &QueueName) -> Result<VacuumOutcome> {
        let queue = queue.clone();
        self.run(move |q| q.vacuum(&queue)).await
    }

    async fn partition_maintenance(
        &self,
        queue: Option<&QueueName>,
    ) -> Result<Vec<pgmq_core::PartitionInfo>> {
        let queue = queue.cloned();
        self.run(move |q| q.partition_maintenance(queue.as_ref()))
            .await
    }

    async fn convert_archive_partitioned(
        &self,
        queue: &QueueName,
        partitioning: pgmq_core::Partitioning,
    ) -> Result<()> {
        let queue = queue.clone();
        self.run(move |q| q.convert_archive_partitioned(&queue, partitioning))
            .await
    }

    async fn bind_topic(&self, pattern: &TopicPattern, queue: &QueueName) -> Result<()> {
        let (pattern, queue) = (pattern.clone(), queue.clone());
        self.run(move |q| q.bind_topic(&pattern, &queue)).await
    }

    async fn unbind_topic(&self, pattern: &TopicPattern, queue: &QueueName) -> Result<bool> {
        let (pattern, queue) = (pattern.clone(), queue.clone());
        self.run(move |q| q.unbind_topic(&pattern, &queue)).await
    }

    async fn topic_bindings(&self, queue: Option<&QueueName>) -> Result<Vec<TopicBinding>> {
        let queue = queue.cloned();
        self.run(move |q| q.topic_bindings(queue.as_ref())).await
    }

    async fn test_routing(&self, key: &RoutingKey) -> Result<Vec<TopicBinding>> {
        let key = key.clone();
        self.run(move |q| q.test_routing(&key)).await
    }

    async fn send_topic_json(
        &self,
        key: &RoutingKey,
        message: Value,
        options: SendOptions,
    ) -> Result<usize> {
        let key = key.clone();
        self.run(move |q| q.send_topic(&key, &message, options))
            .await
    }

    async fn send_batch_topic_json(
        &self,
        key: &RoutingKey,
        messages: Vec<Value>,
        options: SendOptions,
    ) -> Result<Vec<TopicDelivery>> {
        let key = key.clone();
        self.run(move |q| q.send_batch_topic(&key, &messages, options))
            .await
    }
}
