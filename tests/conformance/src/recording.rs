//! [`Recording`]: a [`Queue`] that forwards every operation to another and records what the
//! cases about batching look at: the batches sent, the `delete_receipts` statements and the
//! messages reads returned.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use pgmq_core::serde_json::Value;
use pgmq_core::{
    ArchivedMessage, CreateOptions, Fence, Message, Queue, QueueAttributes, QueueInfo,
    QueueMetrics, QueueName, QueueStorage, ReadOptions, Readiness, Receipt, Result, SendOptions,
    StorageParams, Subscription, VacuumOutcome, VisibleAt,
};

/// Forwards to `inner`, recording each `send_batch_json` batch and counting
/// `delete_receipts` statements and the messages `read_json` returned.
pub(crate) struct Recording {
    inner: Arc<dyn Queue>,
    batches: Mutex<Vec<Vec<Value>>>,
    delete_receipts: AtomicUsize,
    read: AtomicUsize,
}

impl Recording {
    pub(crate) fn new(inner: &Arc<dyn Queue>) -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::clone(inner),
            batches: Mutex::new(Vec::new()),
            delete_receipts: AtomicUsize::new(0),
            read: AtomicUsize::new(0),
        })
    }

    /// Every batch sent through `send_batch_json`, in order.
    pub(crate) fn batches(&self) -> Vec<Vec<Value>> {
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many `delete_receipts` statements ran.
    pub(crate) fn delete_receipt_statements(&self) -> usize {
        self.delete_receipts.load(Ordering::SeqCst)
    }

    /// How many messages `read_json` has returned.
    pub(crate) fn messages_read(&self) -> usize {
        self.read.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Queue for Recording {
    async fn install(&self) -> Result<()> {
        self.inner.install().await
    }
    async fn create(&self, queue: &QueueName, options: CreateOptions) -> Result<()> {
        self.inner.create(queue, options).await
    }
    async fn drop_queue(&self, queue: &QueueName) -> Result<bool> {
        self.inner.drop_queue(queue).await
    }
    async fn purge(&self, queue: &QueueName) -> Result<u64> {
        self.inner.purge(queue).await
    }
    async fn list_queues(&self) -> Result<Vec<QueueInfo>> {
        self.inner.list_queues().await
    }
    async fn metrics(&self, queue: &QueueName) -> Result<QueueMetrics> {
        self.inner.metrics(queue).await
    }
    async fn metrics_all(&self) -> Result<Vec<QueueMetrics>> {
        self.inner.metrics_all().await
    }
    async fn send_json(&self, queue: &QueueName, message: Value, o: SendOptions) -> Result<i64> {
        self.inner.send_json(queue, message, o).await
    }
    async fn send_batch_json(
        &self,
        queue: &QueueName,
        messages: Vec<Value>,
        options: SendOptions,
    ) -> Result<Vec<i64>> {
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(messages.clone());
        self.inner.send_batch_json(queue, messages, options).await
    }
    async fn read_json(&self, queue: &QueueName, options: ReadOptions) -> Result<Vec<Message>> {
        let read = self.inner.read_json(queue, options).await?;
        self.read.fetch_add(read.len(), Ordering::SeqCst);
        Ok(read)
    }
    async fn pop_json(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>> {
        self.inner.pop_json(queue, qty).await
    }
    async fn set_vt_batch(
        &self,
        q: &QueueName,
        ids: &[i64],
        vt: VisibleAt,
    ) -> Result<Vec<Message>> {
        self.inner.set_vt_batch(q, ids, vt).await
    }
    async fn delete_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        self.inner.delete_batch(queue, msg_ids).await
    }
    async fn archive_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        self.inner.archive_batch(queue, msg_ids).await
    }
    async fn read_archive(&self, q: &QueueName, ids: &[i64]) -> Result<Vec<ArchivedMessage>> {
        self.inner.read_archive(q, ids).await
    }
    async fn delete_receipts(&self, q: &QueueName, receipts: &[Receipt]) -> Result<Vec<Fence>> {
        self.delete_receipts.fetch_add(1, Ordering::SeqCst);
        self.inner.delete_receipts(q, receipts).await
    }
    async fn archive_receipts(&self, q: &QueueName, receipts: &[Receipt]) -> Result<Vec<Fence>> {
        self.inner.archive_receipts(q, receipts).await
    }
    async fn set_vt_receipts(
        &self,
        q: &QueueName,
        receipts: &[Receipt],
        vt: VisibleAt,
    ) -> Result<Vec<Option<Message>>> {
        self.inner.set_vt_receipts(q, receipts, vt).await
    }
    async fn attributes(&self, queue: &QueueName) -> Result<QueueAttributes> {
        self.inner.attributes(queue).await
    }

    async fn subscribe(&self, queue: &QueueName) -> Result<Subscription> {
        self.inner.subscribe(queue).await
    }

    async fn readiness(&self, queue: &QueueName) -> Result<Readiness> {
        self.inner.readiness(queue).await
    }
    async fn create_fifo_index(&self, queue: &QueueName) -> Result<()> {
        self.inner.create_fifo_index(queue).await
    }
    async fn set_storage(&self, queue: &QueueName, params: &StorageParams) -> Result<()> {
        self.inner.set_storage(queue, params).await
    }
    async fn storage(&self, queue: &QueueName) -> Result<QueueStorage> {
        self.inner.storage(queue).await
    }
    async fn vacuum(&self, queue: &QueueName) -> Result<VacuumOutcome> {
        self.inner.vacuum(queue).await
    }
}
