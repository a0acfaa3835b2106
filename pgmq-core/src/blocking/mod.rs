//! A blocking twin of [`Queue`] for synchronous drivers (e.g. diesel's `PgConnection`).
//!
//! There is one implementation of the queue's logic, the async one: [`BlockingQueue`] runs
//! it to completion on the calling thread over a [`BlockingExecutor`], whose statements
//! complete synchronously, so no async runtime is involved.
//!
//! The [`BatchingProducer`](crate::BatchingProducer) is async only (it runs a background task
//! on the Tokio runtime); a blocking program batches its sends itself with
//! [`BlockingQueue::send_batch`]. The [`Worker`](crate::Worker) is async only too; a blocking
//! consumer loops over [`BlockingQueue::read`] and acknowledges with receipts.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::adapter::{Executor, Row, Statement};
use crate::attributes::{QueueAttributes, RedriveOptions};
use crate::error::{Error, Result};
use crate::ext::QueueExt;
use crate::listen::Readiness;
use crate::name::QueueName;
use crate::options::{CreateOptions, ReadOptions, SendOptions, VisibleAt};
use crate::queue::Queue;
use crate::receipt::{Fence, Receipt};
use crate::storage::StorageParams;
use crate::tuning::{QueueStorage, VacuumOutcome};
use crate::types::{ArchivedMessage, Message, QueueInfo, QueueMetrics};

/// Runs statements synchronously: what a blocking driver adapter implements, with the same
/// contract as [`Executor`].
pub trait BlockingExecutor: Send {
    /// Runs one statement and returns its rows.
    fn query(&mut self, statement: Statement) -> Result<Vec<Row>>;

    /// Runs `statements` in order, all or nothing (a transaction, or a savepoint inside the
    /// caller's transaction), and returns each one's rows.
    fn query_atomic(&mut self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>>;

    /// Starts `LISTEN`ing on `channel` (quote it: it contains dots) on this executor's own
    /// connection, so a read with a wait can pause until a notification instead of polling;
    /// returns whether it listens. Not inside the caller's transaction (a `LISTEN` there
    /// takes effect only at its commit): answer `false`. The default cannot listen.
    fn listen(&mut self, channel: &str) -> Result<bool> {
        let _ = channel;
        Ok(false)
    }

    /// Stops listening on `channel` and drops notifications received for it.
    fn unlisten(&mut self, channel: &str) -> Result<()> {
        let _ = channel;
        Ok(())
    }

    /// Whether a notification arrived since the last call, from what the server has already
    /// sent: without running a statement and without blocking.
    fn notified(&mut self) -> Result<bool> {
        Ok(false)
    }
}

/// Presents a [`BlockingExecutor`] as an [`Executor`] whose futures complete at once.
struct Bridge<E>(Mutex<E>);

impl<E> Bridge<E> {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, E>> {
        self.0.lock().map_err(|_| Error::Driver {
            source: "a previous operation on this connection panicked".into(),
        })
    }
}

#[async_trait]
impl<E: BlockingExecutor> Executor for Bridge<E> {
    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        self.lock()?.query(statement)
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        self.lock()?.query_atomic(statements)
    }

    async fn sleep(&self, duration: Duration) {
        thread::sleep(duration);
    }
}

mod topics;
mod wait;

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `future` to completion on this thread.
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => thread::park(),
        }
    }
}

/// Every queue operation as a blocking call, over a [`BlockingExecutor`].
///
/// Method for method the same behaviour as [`Queue`] and [`QueueExt`] (see their docs); the
/// code behind them is the same.
pub struct BlockingQueue<E> {
    bridge: Bridge<E>,
    /// The reads with a wait in progress on this connection (from several threads), and the
    /// notifications they have seen: see [`wait`].
    waiting: wait::Waiting,
}

impl<E: BlockingExecutor> BlockingQueue<E> {
    /// A blocking queue over `executor`.
    pub fn new(executor: E) -> Self {
        Self {
            bridge: Bridge(Mutex::new(executor)),
            waiting: wait::Waiting::default(),
        }
    }

    /// Gives the executor back.
    pub fn into_inner(self) -> E {
        self.bridge
            .0
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// See [`Queue::install`].
    pub fn install(&self) -> Result<()> {
        block_on(self.bridge.install())
    }

    /// See [`Queue::create`].
    pub fn create(&self, queue: &QueueName, options: CreateOptions) -> Result<()> {
        block_on(self.bridge.create(queue, options))
    }

    /// See [`QueueExt::create_unlogged`].
    pub fn create_unlogged(&self, queue: &QueueName) -> Result<()> {
        block_on(self.bridge.create_unlogged(queue))
    }

    /// See [`Queue::drop_queue`].
    pub fn drop_queue(&self, queue: &QueueName) -> Result<bool> {
        block_on(self.bridge.drop_queue(queue))
    }

    /// See [`Queue::purge`].
    pub fn purge(&self, queue: &QueueName) -> Result<u64> {
        block_on(self.bridge.purge(queue))
    }

    /// See [`Queue::list_queues`].
    pub fn list_queues(&self) -> Result<Vec<QueueInfo>> {
        block_on(self.bridge.list_queues())
    }

    /// See [`Queue::metrics`].
    pub fn metrics(&self, queue: &QueueName) -> Result<QueueMetrics> {
        block_on(self.bridge.metrics(queue))
    }

    /// See [`Queue::metrics_all`].
    pub fn metrics_all(&self) -> Result<Vec<QueueMetrics>> {
        block_on(self.bridge.metrics_all())
    }

    /// See [`QueueExt::send`].
    pub fn send<T>(&self, queue: &QueueName, message: &T, options: SendOptions) -> Result<i64>
    where
        T: Serialize + Sync + ?Sized,
    {
        block_on(self.bridge.send(queue, message, options))
    }

    /// See [`QueueExt::send_batch`].
    pub fn send_batch<T>(
        &self,
        queue: &QueueName,
        messages: &[T],
        options: SendOptions,
    ) -> Result<Vec<i64>>
    where
        T: Serialize + Sync,
    {
        block_on(self.bridge.send_batch(queue, messages, options))
    }

    /// See [`QueueExt::read`]. A wait sleeps this thread between polls.
    ///
    /// With a wait, on an executor that can listen on its connection, the read pauses until
    /// a notification (or the next message's visibility time) instead of polling.
    pub fn read<T>(&self, queue: &QueueName, options: ReadOptions) -> Result<Vec<Message<T>>>
    where
        T: DeserializeOwned + Send,
    {
        match options.wait {
            Some(wait) => wait::read(self, queue, options, wait),
            None => block_on(self.bridge.read(queue, options)),
        }
    }

    /// See [`QueueExt::pop`].
    pub fn pop<T>(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message<T>>>
    where
        T: DeserializeOwned + Send,
    {
        block_on(self.bridge.pop(queue, qty))
    }

    /// See [`Queue::pop_json`].
    pub fn pop_json(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>> {
        block_on(self.bridge.pop_json(queue, qty))
    }

    /// See [`QueueExt::set_vt`].
    pub fn set_vt(&self, queue: &QueueName, msg_id: i64, vt: VisibleAt) -> Result<Option<Message>> {
        block_on(self.bridge.set_vt(queue, msg_id, vt))
    }

    /// See [`Queue::set_vt_batch`].
    pub fn set_vt_batch(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        vt: VisibleAt,
    ) -> Result<Vec<Message>> {
        block_on(self.bridge.set_vt_batch(queue, msg_ids, vt))
    }

    /// See [`QueueExt::delete`].
    pub fn delete(&self, queue: &QueueName, msg_id: i64) -> Result<bool> {
        block_on(self.bridge.delete(queue, msg_id))
    }

    /// See [`Queue::delete_batch`].
    pub fn delete_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        block_on(self.bridge.delete_batch(queue, msg_ids))
    }

    /// See [`QueueExt::archive`].
    pub fn archive(&self, queue: &QueueName, msg_id: i64) -> Result<bool> {
        block_on(self.bridge.archive(queue, msg_id))
    }

    /// See [`Queue::archive_batch`].
    pub fn archive_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>> {
        block_on(self.bridge.archive_batch(queue, msg_ids))
    }

    /// See [`Queue::read_archive`].
    pub fn read_archive(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<ArchivedMessage>> {
        block_on(self.bridge.read_archive(queue, msg_ids))
    }

    /// See [`Queue::attributes`].
    pub fn attributes(&self, queue: &QueueName) -> Result<QueueAttributes> {
        block_on(self.bridge.attributes(queue))
    }

    /// See [`Queue::set_attributes`].
    pub fn set_attributes(&self, queue: &QueueName, attributes: QueueAttributes) -> Result<()> {
        block_on(self.bridge.set_attributes(queue, attributes))
    }

    /// See [`Queue::trim_archive`].
    pub fn trim_archive(&self, queue: &QueueName) -> Result<u64> {
        block_on(self.bridge.trim_archive(queue))
    }

    /// See [`Queue::redrive`]. A rate limit sleeps this thread between chunks.
    pub fn redrive(&self, dead_letter_queue: &QueueName, options: RedriveOptions) -> Result<u64> {
        block_on(self.bridge.redrive(dead_letter_queue, options))
    }

    /// See [`Queue::peek`].
    pub fn peek(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>> {
        block_on(self.bridge.peek(queue, qty))
    }

    /// See [`Queue::enable_notify_insert`]. (This twin's own waiting reads poll: it has no
    /// listening connection.)
    pub fn enable_notify_insert(&self, queue: &QueueName, throttle: Duration) -> Result<()> {
        block_on(self.bridge.enable_notify_insert(queue, throttle))
    }

    /// See [`Queue::disable_notify_insert`].
    pub fn disable_notify_insert(&self, queue: &QueueName) -> Result<()> {
        block_on(self.bridge.disable_notify_insert(queue))
    }

    /// See [`Queue::readiness`].
    pub fn readiness(&self, queue: &QueueName) -> Result<Readiness> {
        block_on(self.bridge.readiness(queue))
    }

    /// See [`Queue::create_fifo_index`].
    pub fn create_fifo_index(&self, queue: &QueueName) -> Result<()> {
        block_on(self.bridge.create_fifo_index(queue))
    }

    /// See [`Queue::set_storage`].
    pub fn set_storage(&self, queue: &QueueName, params: &StorageParams) -> Result<()> {
        block_on(self.bridge.set_storage(queue, params))
    }

    /// See [`Queue::storage`].
    pub fn storage(&self, queue: &QueueName) -> Result<QueueStorage> {
        block_on(self.bridge.storage(queue))
    }

    /// See [`Queue::vacuum`]. On a connection inside a transaction it fails with SQLSTATE
    /// `25001`, as `VACUUM` does.
    pub fn vacuum(&self, queue: &QueueName) -> Result<VacuumOutcome> {
        block_on(self.bridge.vacuum(queue))
    }

    /// See [`Queue::partition_maintenance`].
    pub fn partition_maintenance(
        &self,
        queue: Option<&QueueName>,
    ) -> Result<Vec<crate::PartitionInfo>> {
        block_on(self.bridge.partition_maintenance(queue))
    }

    /// See [`Queue::convert_archive_partitioned`].
    pub fn convert_archive_partitioned(
        &self,
        queue: &QueueName,
        partitioning: crate::Partitioning,
    ) -> Result<()> {
        block_on(self.bridge.convert_archive_partitioned(queue, partitioning))
    }

    /// See [`QueueExt::delete_receipt`].
    pub fn delete_receipt(&self, queue: &QueueName, receipt: Receipt) -> Result<Fence> {
        block_on(self.bridge.delete_receipt(queue, receipt))
    }

    /// See [`Queue::delete_receipts`].
    pub fn delete_receipts(&self, queue: &QueueName, receipts: &[Receipt]) -> Result<Vec<Fence>> {
        block_on(self.bridge.delete_receipts(queue, receipts))
    }

    /// See [`QueueExt::archive_receipt`].
    pub fn archive_receipt(&self, queue: &QueueName, receipt: Receipt) -> Result<Fence> {
        block_on(self.bridge.archive_receipt(queue, receipt))
    }

    /// See [`Queue::archive_receipts`].
    pub fn archive_receipts(&self, queue: &QueueName, receipts: &[Receipt]) -> Result<Vec<Fence>> {
        block_on(self.bridge.archive_receipts(queue, receipts))
    }

    /// See [`QueueExt::set_vt_receipt`].
    pub fn set_vt_receipt(
        &self,
        queue: &QueueName,
        receipt: Receipt,
        vt: VisibleAt,
    ) -> Result<Option<Message>> {
        block_on(self.bridge.set_vt_receipt(queue, receipt, vt))
    }

    /// See [`Queue::set_vt_receipts`].
    pub fn set_vt_receipts(
        &self,
        queue: &QueueName,
        receipts: &[Receipt],
        vt: VisibleAt,
    ) -> Result<Vec<Option<Message>>> {
        block_on(self.bridge.set_vt_receipts(queue, receipts, vt))
    }
}

impl<E> std::fmt::Debug for BlockingQueue<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingQueue").finish_non_exhaustive()
    }
}
