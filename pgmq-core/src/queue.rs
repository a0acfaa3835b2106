//! The [`Queue`] trait: the operations every backend provides.

use async_trait::async_trait;
use serde_json::Value;

use crate::error::Result;
use crate::name::QueueName;
use crate::options::{CreateOptions, ReadOptions, SendOptions, VisibleAt};
use crate::types::{ArchivedMessage, Message, QueueInfo, QueueMetrics};

/// A message queue in Postgres: the operations every backend provides.
///
/// Messages travel as JSON here so the trait stays object-safe (`dyn Queue` works); typed
/// `send`/`read`/`pop` and single-id conveniences come from [`QueueExt`](crate::QueueExt),
/// which every `Queue` has.
///
/// The trait is open: implement [`Executor`](crate::adapter::Executor) for a driver and get
/// `Queue` for free, or implement `Queue` yourself (a decorator, a different store) and prove
/// it with the `pgmq-conformance` suite.
///
/// # Growing without breaking implementors
/// Methods added in later releases come with a default body that fails with
/// [`Error::Unsupported`](crate::Error::Unsupported), so a type that implements `Queue` by
/// hand keeps compiling; every [`Executor`](crate::adapter::Executor) gets the real operation
/// at once through the blanket implementation. A wrapper should forward each new method when
/// it upgrades. The conformance suite fails a backend that answers `Unsupported` for a
/// capability it did not declare missing.
///
/// # Behavior
/// - Bad input (timeouts over [`MAX_DELAY`](crate::MAX_DELAY), quantities outside `1..=`[`MAX_BATCH`](crate::MAX_BATCH)) fails with
///   [`Error::InvalidArgument`](crate::Error::InvalidArgument) before any SQL runs and changes nothing.
/// - An operation on a queue that does not exist fails with [`Error::QueueNotFound`](crate::Error::QueueNotFound);
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

    /// Sends up to [`MAX_BATCH`](crate::MAX_BATCH) messages in one statement, all or nothing. Returns their ids
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
