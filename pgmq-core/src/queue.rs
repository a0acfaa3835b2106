//! The [`Queue`] trait: the operations every backend provides.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::attributes::{QueueAttributes, RedriveOptions};
use crate::error::{Error, Result};
use crate::listen::{Readiness, Subscription};
use crate::name::QueueName;
use crate::options::{CreateOptions, ReadOptions, SendOptions, VisibleAt};
use crate::receipt::{Fence, Receipt};
use crate::routing::{TopicBinding, TopicDelivery};
use crate::storage::StorageParams;
use crate::topic::{RoutingKey, TopicPattern};
use crate::tuning::{QueueStorage, VacuumOutcome};
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

    /// One queue's snapshot: its length; how many of its messages are visible, in flight and
    /// delayed; the ages of its newest, oldest and oldest visible messages; the total ever
    /// sent; and its dead-letter queue's length when one is set. One scan of the queue
    /// table, at one server instant.
    ///
    /// Needs this library's [`install`](Self::install) (or any [`create`](Self::create)) to
    /// have run once in the database, as it creates the `pgmq_rs.metrics` function this
    /// calls. In a database where only the pgmq extension (or an older pgmq-rs) ran, this
    /// fails with [`Error::Database`] of kind
    /// [`UndefinedFunction`](crate::DbErrorKind::UndefinedFunction) (or
    /// [`UndefinedTable`](crate::DbErrorKind::UndefinedTable) when schema `pgmq_rs` is
    /// missing), never with `QueueNotFound`.
    async fn metrics(&self, queue: &QueueName) -> Result<QueueMetrics>;

    /// [`metrics`](Self::metrics) for every queue in `pgmq.meta`, by name, in one statement
    /// (queues made by the extension under names [`QueueName`] rejects included). A queue
    /// dropped while it runs is left out. Needs [`install`](Self::install) as `metrics`
    /// does. Like the extension's `metrics_all`, it holds a share lock on every queue table
    /// until it ends, so thousands of queues may need a larger `max_locks_per_transaction`.
    async fn metrics_all(&self) -> Result<Vec<QueueMetrics>>;

    /// Sends one message; returns its id. Without a delay in `options`, the queue's default
    /// delay applies; a message over the queue's maximum size is [`Error::MessageTooLarge`]
    /// and nothing is written.
    async fn send_json(
        &self,
        queue: &QueueName,
        message: Value,
        options: SendOptions,
    ) -> Result<i64>;

    /// Sends up to [`MAX_BATCH`](crate::MAX_BATCH) messages in one statement, all or
    /// nothing. Returns their ids in input order. An empty batch returns an empty list
    /// without touching the database. Defaults and the size limit apply as for
    /// [`send_json`](Self::send_json): one message over the limit and nothing of the batch is
    /// written.
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
    /// timeout. Each message's [`receipt`](Message::receipt) names this read, for the
    /// fenced acknowledgements ([`delete_receipts`](Self::delete_receipts), …).
    /// With [`options.grouped`](ReadOptions::grouped()), the read delivers FIFO message groups
    /// instead: each group in order, to one reader at a time (see
    /// [`grouped`](crate::grouped)).
    ///
    /// Without `options.vt`, the queue's default visibility timeout applies, else 30 s. On a
    /// queue with a dead-letter policy, a message already received `max_receive_count` times
    /// is never handed out again: the read moves it to the dead-letter queue instead (with
    /// its origin in `x-pgmq-dead-letter-*` headers) and returns the others, claiming again
    /// for the places it took.
    ///
    /// Dropping the future (a `select!` with a shutdown signal, a timeout) never loses a
    /// message, but a read whose statement had already gone out still runs: the messages it
    /// claims stay hidden until their visibility timeout ends, with nobody to acknowledge
    /// them. To stop a waiting reader promptly, prefer a short `wait` in a loop that checks
    /// the signal between reads, or the [`Worker`](crate::Worker), which stops reading
    /// without dropping a read.
    async fn read_json(&self, queue: &QueueName, options: ReadOptions) -> Result<Vec<Message>>;

    /// Reads and deletes up to `qty` visible messages in one statement. The dead-letter
    /// policy applies as for [`read_json`](Self::read_json): a message past its receive
    /// count moves to the dead-letter queue instead of being returned.
    async fn pop_json(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>>;

    /// Moves the visibility of the given messages; returns the ones that exist, updated.
    ///
    /// Unfenced, as in the pgmq extension: it acts on a message whoever read it last. To
    /// extend only the messages this reader still holds, use
    /// [`set_vt_receipts`](Self::set_vt_receipts).
    async fn set_vt_batch(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        vt: VisibleAt,
    ) -> Result<Vec<Message>>;

    /// Deletes the given messages; returns the ids actually deleted, ascending.
    ///
    /// Unfenced, as in the pgmq extension: it deletes a message even if another reader has
    /// got it since this one read it. To acknowledge only what this reader still holds, use
    /// [`delete_receipts`](Self::delete_receipts).
    async fn delete_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>>;

    /// Moves the given messages to the archive (`pgmq.a_<name>`, stamped `archived_at`);
    /// returns the ids actually archived, ascending.
    ///
    /// Unfenced, as in the pgmq extension: it archives a message even if another reader has
    /// got it since this one read it. To acknowledge only what this reader still holds, use
    /// [`archive_receipts`](Self::archive_receipts).
    async fn archive_batch(&self, queue: &QueueName, msg_ids: &[i64]) -> Result<Vec<i64>>;

    /// Looks up archived messages by id; missing ids are left out.
    async fn read_archive(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
    ) -> Result<Vec<ArchivedMessage>>;

    /// Deletes the messages whose [`Receipt`]s are still current: fenced acknowledgement.
    ///
    /// # Behavior
    /// - A receipt acts only if nobody has read its message since the read that gave it
    ///   (the message's `read_ct` is still the receipt's). Otherwise it is
    ///   [`Fence::Stale`] and nothing changes for that message; so is a receipt for a
    ///   message that no longer exists (already acknowledged) or never did. Stale is an
    ///   answer, not an error.
    /// - Returns one [`Fence`] per receipt, in input order. A receipt given twice is
    ///   answered twice, alike.
    /// - All receipts are acted on in one statement. At most [`MAX_BATCH`](crate::MAX_BATCH)
    ///   receipts, else [`Error::InvalidArgument`] (`"receipt list"`) and nothing changes; no
    ///   receipts, an empty answer without touching the database.
    /// - The default body answers [`Error::Unsupported`]; every
    ///   [`Executor`](crate::adapter::Executor) implements it.
    async fn delete_receipts(&self, queue: &QueueName, receipts: &[Receipt]) -> Result<Vec<Fence>> {
        let _ = (queue, receipts);
        Err(Error::Unsupported {
            operation: "delete_receipts",
        })
    }

    /// Moves the messages whose [`Receipt`]s are still current to the archive
    /// (`pgmq.a_<name>`, stamped `archived_at`): fenced acknowledgement.
    ///
    /// # Behavior
    /// - A receipt acts only if nobody has read its message since the read that gave it.
    ///   Otherwise it is [`Fence::Stale`] and nothing changes for that message; so is a
    ///   receipt for a message that no longer exists or never did. Stale is an answer, not
    ///   an error.
    /// - Returns one [`Fence`] per receipt, in input order.
    /// - At most [`MAX_BATCH`](crate::MAX_BATCH) receipts, else
    ///   [`Error::InvalidArgument`] (`"receipt list"`) and nothing changes; no receipts, an
    ///   empty answer without touching the database.
    /// - The default body answers [`Error::Unsupported`]; every
    ///   [`Executor`](crate::adapter::Executor) implements it.
    async fn archive_receipts(
        &self,
        queue: &QueueName,
        receipts: &[Receipt],
    ) -> Result<Vec<Fence>> {
        let _ = (queue, receipts);
        Err(Error::Unsupported {
            operation: "archive_receipts",
        })
    }

    /// Moves the visibility of the messages whose [`Receipt`]s are still current to `vt`:
    /// how a long-running handler extends its claim, or releases it early, without touching
    /// a message someone else has read since.
    ///
    /// # Behavior
    /// - A receipt acts only if nobody has read its message since the read that gave it.
    ///   Otherwise it is stale and nothing changes for that message; so is a receipt for a
    ///   message that no longer exists or never did. Stale is an answer, not an error.
    /// - Returns one entry per receipt, in input order: the message as updated, or `None`
    ///   for a stale receipt.
    /// - Moving the visibility does not count as a read (`read_ct` is unchanged), so the
    ///   receipt stays current: extend with it, then delete or archive with it.
    /// - `vt` is checked as for [`set_vt_batch`](Self::set_vt_batch) (at most
    ///   [`MAX_DELAY`](crate::MAX_DELAY) ahead). At most [`MAX_BATCH`](crate::MAX_BATCH)
    ///   receipts, else [`Error::InvalidArgument`] (`"receipt list"`) and nothing changes;
    ///   no receipts, an empty answer without touching the database.
    /// - The default body answers [`Error::Unsupported`]; every
    ///   [`Executor`](crate::adapter::Executor) implements it.
    async fn set_vt_receipts(
        &self,
        queue: &QueueName,
        receipts: &[Receipt],
        vt: VisibleAt,
    ) -> Result<Vec<Option<Message>>> {
        let _ = (queue, receipts, vt);
        Err(Error::Unsupported {
            operation: "set_vt_receipts",
        })
    }

    /// The queue's attributes (all `None` for a queue without any, such as one made by the
    /// pgmq extension).
    ///
    /// # Behavior
    /// - An unknown queue is [`Error::QueueNotFound`].
    /// - The default body answers [`Error::Unsupported`]; every
    ///   [`Executor`](crate::adapter::Executor) implements it.
    async fn attributes(&self, queue: &QueueName) -> Result<QueueAttributes> {
        let _ = queue;
        Err(Error::Unsupported {
            operation: "attributes",
        })
    }

    /// Replaces the queue's attributes with `attributes` (a field left `None` is unset).
    /// They apply from the next operation on: defaults to sends and reads that give none,
    /// the size limit to sends, the dead-letter policy to reads, the retention to
    /// [`trim_archive`](Self::trim_archive).
    ///
    /// # Behavior
    /// - Bad values are [`Error::InvalidArgument`] before any SQL (spans over their limits,
    ///   a maximum size of 0, a maximum receive count of 0, a queue as its own dead-letter
    ///   queue); a dead-letter queue that does not exist or would close a cycle is
    ///   [`Error::InvalidAttributes`]; an unknown queue is [`Error::QueueNotFound`]. In every
    ///   case nothing changes.
    /// - Changes to attributes are serialized, so two concurrent changes cannot form a cycle.
    /// - The default body answers [`Error::Unsupported`].
    async fn set_attributes(&self, queue: &QueueName, attributes: QueueAttributes) -> Result<()> {
        let _ = (queue, attributes);
        Err(Error::Unsupported {
            operation: "set_attributes",
        })
    }

    /// Maintenance: deletes archived messages older than the queue's archive retention,
    /// oldest first, in chunks of at most [`MAX_BATCH`](crate::MAX_BATCH) rows, each its own
    /// statement (so a long trim never holds a long lock or a large transaction, except inside
    /// the caller's own transaction). Returns how many it deleted; 0 without a retention.
    ///
    /// # Behavior
    /// - An unknown queue is [`Error::QueueNotFound`].
    /// - The default body answers [`Error::Unsupported`].
    async fn trim_archive(&self, queue: &QueueName) -> Result<u64> {
        let _ = queue;
        Err(Error::Unsupported {
            operation: "trim_archive",
        })
    }

    /// Moves messages out of a dead-letter queue, like SQS's message move task: back to the
    /// queue each came from (its [`DEAD_LETTER_SOURCE`](crate::DEAD_LETTER_SOURCE) header),
    /// or all to [`RedriveOptions::to`]. Returns how many moved.
    ///
    /// # Behavior
    /// - Visible messages move, oldest first, in chunks of [`RedriveOptions::chunk`], each
    ///   chunk one statement and so its own transaction: an interruption (an error, a lost
    ///   connection, the task dropped) loses and duplicates nothing, and running it again
    ///   moves the rest.
    /// - Moved messages arrive as new messages, visible at once, with their body and their
    ///   original headers (the `x-pgmq-dead-letter-*` ones removed).
    /// - Without [`RedriveOptions::to`], messages without a source header stay.
    /// - [`RedriveOptions::max`] bounds the total, [`RedriveOptions::per_second`] the rate;
    ///   [`RedriveOptions::progress`] is called after each chunk with the total so far.
    /// - An unknown queue (dead-letter, target, or a message's source) is
    ///   [`Error::QueueNotFound`]; a chunk of 0 or over [`MAX_BATCH`](crate::MAX_BATCH) is
    ///   [`Error::InvalidArgument`].
    /// - The default body answers [`Error::Unsupported`].
    async fn redrive(&self, dead_letter_queue: &QueueName, options: RedriveOptions) -> Result<u64> {
        let _ = (dead_letter_queue, options);
        Err(Error::Unsupported {
            operation: "redrive",
        })
    }

    /// Looks at up to `qty` visible messages without claiming them: what an operator's
    /// "show me the queue" needs, and what a read would get next.
    ///
    /// # Behavior
    /// - Returns visible messages in the order a read would claim them: the one that became
    ///   visible first comes first (`ORDER BY vt`, through the `vt` index, so messages in
    ///   flight are never walked). The list keeps that order (a read's is by `msg_id`).
    /// - Claims nothing: no lock is taken, `vt`, `read_ct` and `last_read_at` are unchanged,
    ///   the dead-letter policy does not apply, and a read afterwards gets the same messages
    ///   (with `read_ct` 1 for a message never read). Invisible messages (delayed, in flight)
    ///   are left out.
    /// - A `qty` outside `1..=`[`MAX_BATCH`](crate::MAX_BATCH) is
    ///   [`Error::InvalidArgument`] (`"quantity"`) before any SQL; an unknown queue is
    ///   [`Error::QueueNotFound`].
    /// - The default body answers [`Error::Unsupported`]; every
    ///   [`Executor`](crate::adapter::Executor) implements it.
    async fn peek(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message>> {
        let _ = (queue, qty);
        Err(Error::Unsupported { operation: "peek" })
    }

    /// Turns on insert notifications for `queue`: every sending statement (of any client:
    /// this library, the extension's `pgmq.send`, plain SQL) notifies the channel
    /// `pgmq.q_<name>.INSERT` when it commits, about once per `throttle` while sends keep
    /// coming and at most twice in any `throttle` (`Duration::ZERO`: every one). A send late
    /// in a throttle window notifies early for the next one, so that concurrent senders
    /// rarely wait for each other's notification. The trigger, channel and throttle table are
    /// the pgmq extension's (`pgmq.notify_insert_throttle`), so its listeners and its
    /// `disable_notify_insert` work on these queues too. Queues made by
    /// [`create`](Self::create) have them on by default
    /// ([`DEFAULT_NOTIFY_THROTTLE`](crate::DEFAULT_NOTIFY_THROTTLE)).
    ///
    /// # Behavior
    /// - Replaces an existing notification trigger (ours or the extension's) and its throttle.
    /// - A throttle over `i32::MAX` milliseconds is [`Error::InvalidArgument`]; an unknown
    ///   queue is [`Error::QueueNotFound`].
    /// - The default body answers [`Error::Unsupported`].
    async fn enable_notify_insert(&self, queue: &QueueName, throttle: Duration) -> Result<()> {
        let _ = (queue, throttle);
        Err(Error::Unsupported {
            operation: "enable_notify_insert",
        })
    }

    /// Turns off insert notifications for `queue`; waiting readers then poll it.
    ///
    /// # Behavior
    /// - Nothing to turn off is not an error; an unknown queue is [`Error::QueueNotFound`].
    /// - The default body answers [`Error::Unsupported`].
    async fn disable_notify_insert(&self, queue: &QueueName) -> Result<()> {
        let _ = queue;
        Err(Error::Unsupported {
            operation: "disable_notify_insert",
        })
    }

    /// Subscribes to `queue`'s insert notifications through this process's shared
    /// listening connection to the database (opened on first need): what a read with a
    /// wait and the [`Worker`](crate::Worker) park on. Subscribe, then read, then wait on
    /// [`Subscription::changed`].
    ///
    /// # Behavior
    /// - On an executor that cannot listen (on the caller's connection or transaction), and
    ///   in the default body, a subscription that never wakes: readers poll.
    /// - Waits briefly (up to 2 s) for the listening connection; if it is not up by then,
    ///   the subscription reports [`Subscription::is_listening`] `false` until it is.
    async fn subscribe(&self, queue: &QueueName) -> Result<Subscription> {
        let _ = queue;
        Ok(Subscription::polling())
    }

    /// What a reader about to wait on `queue` needs to know: when the next message becomes
    /// visible, whether sends notify, and the throttle's state (see [`Readiness`]). One
    /// statement; ask it before the last read, then wait
    /// [`Readiness::recheck_after`] at most. Ask it outside a transaction: it tries the
    /// queue's throttle lock exclusively, and inside a transaction it would keep that lock
    /// until the transaction ends, making sends to a throttled queue wait for it.
    ///
    /// # Behavior
    /// - An unknown queue is [`Error::QueueNotFound`].
    /// - The default body answers [`Readiness::unknown`] (poll).
    async fn readiness(&self, queue: &QueueName) -> Result<Readiness> {
        let _ = queue;
        Ok(Readiness::unknown())
    }

    /// Creates the index that grouped reads
    /// ([`ReadOptions::grouped`](ReadOptions::grouped())) use, on a queue that has none: an
    /// existing queue, made without it (the default) or by the pgmq extension.
    /// [`create`](Self::create) makes it with a new queue given
    /// [`CreateOptions::with_fifo_index`](crate::CreateOptions::with_fifo_index); dropping
    /// the queue drops it. Named `pgmq.q_<name>_fifo_idx`, as the extension's `pgmq.create_fifo_index`
    /// names its own (see [`grouped`](crate::grouped)).
    ///
    /// # Behavior
    /// - Idempotent: a queue that has an index of that name keeps it, whoever made it. (The
    ///   extension's is a GIN index on all headers, which no grouped read can use to find a
    ///   group: drop it, then call this, to get this one.) Safe to run from many processes at
    ///   once: it takes the queue's advisory lock, as `create` does.
    /// - An unknown queue is [`Error::QueueNotFound`].
    /// - Builds the index in one statement, which holds off sends to the queue until it
    ///   completes. On a large queue that must keep taking sends, build it instead with
    ///   `CREATE INDEX CONCURRENTLY "q_<name>_fifo_idx" ON pgmq."q_<name>"
    ///   ((COALESCE(headers->>'x-pgmq-group', '_default_fifo_group')), msg_id)`.
    /// - The default body answers [`Error::Unsupported`]; every
    ///   [`Executor`](crate::adapter::Executor) implements it.
    async fn create_fifo_index(&self, queue: &QueueName) -> Result<()> {
        let _ = queue;
        Err(Error::Unsupported {
            operation: "create_fifo_index",
        })
    }

    /// Applies storage parameters to an existing queue's table and archive (see
    /// [`StorageParams`]): e.g. [`StorageParams::churn`] to a queue made before pgmq-rs set
    /// them, made with [`CreateOptions::without_storage_tuning`](crate::CreateOptions::without_storage_tuning),
    /// or made by the pgmq extension (same tables, `pgmq.q_<name>` and `pgmq.a_<name>`).
    /// Parameters not named in `params` are left as they are.
    ///
    /// # Behavior
    /// - Idempotent: applying the same parameters again changes nothing. Safe to run from
    ///   many processes at once: it takes the queue's advisory lock, as `create` does.
    /// - Never blocks sends, reads or acknowledgements: `ALTER TABLE … SET` of these
    ///   parameters takes a `SHARE UPDATE EXCLUSIVE` lock, which conflicts only with schema
    ///   changes, index builds and vacuums (it waits for a running `VACUUM`, and makes an
    ///   autovacuum in its way give up). The exception is `user_catalog_table`, which takes
    ///   `ACCESS EXCLUSIVE` for a moment. Messages stay as they are.
    /// - A parameter outside [`StorageParams`]' list, or a value of the wrong kind, is
    ///   [`Error::InvalidArgument`] (`"storage parameter"`) before any SQL. A value Postgres
    ///   finds out of range (`fillfactor` 5) is its [`Error::Database`] with SQLSTATE
    ///   `22023` (kind [`DataException`](crate::DbErrorKind::DataException)), and nothing is
    ///   changed (one transaction).
    /// - A partitioned queue: each partition of its table and archive that exists now gets
    ///   them (its parent tables cannot hold them), and so does pg_partman's template table
    ///   of each, from which pg_partman copies them into the partitions it adds later. After
    ///   [`convert_archive_partitioned`](Self::convert_archive_partitioned), apply them again:
    ///   the new archive starts with the server's defaults.
    /// - Needs ownership of the tables: another role gets
    ///   [`InsufficientPrivilege`](crate::DbErrorKind::InsufficientPrivilege).
    /// - An unknown queue is [`Error::QueueNotFound`] (and so is a queue whose archive was
    ///   dropped).
    /// - The default body answers [`Error::Unsupported`]; every
    ///   [`Executor`](crate::adapter::Executor) implements it.
    async fn set_storage(&self, queue: &QueueName, params: &StorageParams) -> Result<()> {
        let _ = (queue, params);
        Err(Error::Unsupported {
            operation: "set_storage",
        })
    }

    /// Reads back a queue's storage: the storage parameters its table and archive have now
    /// (whoever set them), and its queue table's vacuum statistics (see [`QueueStorage`]).
    ///
    /// # Behavior
    /// - Reads the catalogs and statistics only; takes no lock on the queue.
    /// - An unknown queue is [`Error::QueueNotFound`].
    /// - The default body answers [`Error::Unsupported`].
    async fn storage(&self, queue: &QueueName) -> Result<QueueStorage> {
        let _ = queue;
        Err(Error::Unsupported {
            operation: "storage",
        })
    }

    /// Vacuums the queue table now (`VACUUM (SKIP_LOCKED) pgmq."q_<name>"`), removing the
    /// dead rows its sends, reads and acknowledgements left, instead of waiting for
    /// autovacuum. What the [`Worker`](crate::Worker) runs every
    /// [`vacuum_every`](crate::WorkerOptions::vacuum_every) messages.
    ///
    /// # Behavior
    /// - Never waits and never blocks sends, reads or acknowledgements: `VACUUM` takes a
    ///   `SHARE UPDATE EXCLUSIVE` lock, and when another session holds a lock that conflicts
    ///   with it (another vacuum or autovacuum, a schema change) it does nothing and answers
    ///   [`VacuumOutcome::Skipped`].
    /// - Checks first whether the role may vacuum the table (its owner, the database's
    ///   owner, a superuser; from Postgres 17 also `MAINTAIN`); if not, answers
    ///   [`VacuumOutcome::NotPermitted`] without running `VACUUM` (which would only warn).
    ///   Otherwise [`VacuumOutcome::Vacuumed`].
    /// - `VACUUM` cannot run inside a transaction block: on a queue bound to the caller's
    ///   transaction it fails with [`Error::Database`] of SQLSTATE `25001`
    ///   (`active_sql_transaction`, kind [`Other`](crate::DbErrorKind::Other)), which
    ///   aborts that transaction. Run it on a pool (or a connection outside a transaction).
    /// - Only the queue table: the archive only grows, and autovacuum keeps up with it.
    /// - An unknown queue is [`Error::QueueNotFound`].
    /// - The default body answers [`Error::Unsupported`].
    async fn vacuum(&self, queue: &QueueName) -> Result<VacuumOutcome> {
        let _ = queue;
        Err(Error::Unsupported {
            operation: "vacuum",
        })
    }

    /// Runs pg_partman's maintenance on `queue`'s partitioned queue table and archive, or
    /// with `None` on every partitioned table of schema `pgmq`: creates the partitions ahead
    /// of the newest message (4 ahead, as the extension sets up) and drops those past the
    /// queue's retention (their messages with them, read or not). Answers the partitioned
    /// queues concerned, with their partition counts after the run.
    ///
    /// # Behavior
    /// - Run it on a schedule (every partition interval, or more often): pgmq-rs starts no
    ///   background worker, and without it messages beyond the last partition land in the
    ///   default partition.
    /// - Waits for another maintenance run (of pg_partman's lock) instead of skipping.
    /// - Without pg_partman: [`Error::PartmanUnavailable`]. An unknown queue:
    ///   [`Error::QueueNotFound`]; a queue that is not partitioned: an empty list.
    /// - The default body answers [`Error::Unsupported`].
    async fn partition_maintenance(
        &self,
        queue: Option<&QueueName>,
    ) -> Result<Vec<crate::PartitionInfo>> {
        let _ = queue;
        Err(Error::Unsupported {
            operation: "partition_maintenance",
        })
    }

    /// The extension's `pgmq.convert_archive_partitioned`: replaces `queue`'s plain archive
    /// with an empty pg_partman-managed partitioned one (by `msg_id` or, for a time
    /// interval, `archived_at`), so old archived messages can be dropped a partition at a
    /// time by [`partition_maintenance`](Self::partition_maintenance).
    ///
    /// # Behavior
    /// - The rows archived so far stay in the renamed old table `pgmq.a_<name>_old`, as the
    ///   extension leaves them: move or drop them yourself (`drop_queue` leaves it too).
    /// - An archive already partitioned is left as it is (`Ok`).
    /// - Errors as for [`CreateOptions::partitioned`]; an unknown queue is
    ///   [`Error::QueueNotFound`].
    /// - The default body answers [`Error::Unsupported`].
    async fn convert_archive_partitioned(
        &self,
        queue: &QueueName,
        partitioning: crate::Partitioning,
    ) -> Result<()> {
        let _ = (queue, partitioning);
        Err(Error::Unsupported {
            operation: "convert_archive_partitioned",
        })
    }

    /// Binds `queue` to `pattern`: from now on a message sent with a routing key the pattern
    /// matches (see [`topic`](crate::topic#matching)) goes to the queue too. The binding is a
    /// row of the pgmq extension's `pgmq.topic_bindings`, shared with its `pgmq.bind_topic`.
    ///
    /// # Behavior
    /// - Binding the same pattern to the same queue again changes nothing.
    /// - A queue not in `pgmq.meta` is [`Error::QueueNotFound`] and nothing is written.
    /// - Dropping the queue drops its bindings.
    /// - The default body answers [`Error::Unsupported`].
    async fn bind_topic(&self, pattern: &TopicPattern, queue: &QueueName) -> Result<()> {
        let _ = (pattern, queue);
        Err(Error::Unsupported {
            operation: "bind_topic",
        })
    }

    /// Removes the binding of `queue` to `pattern`; returns whether there was one (`false`,
    /// not an error, for an unknown queue, as the extension's `pgmq.unbind_topic` answers).
    /// The default body answers [`Error::Unsupported`].
    async fn unbind_topic(&self, pattern: &TopicPattern, queue: &QueueName) -> Result<bool> {
        let _ = (pattern, queue);
        Err(Error::Unsupported {
            operation: "unbind_topic",
        })
    }

    /// Every topic binding, or only `queue`'s, newest first (then by pattern and queue), as
    /// the extension's `pgmq.list_topic_bindings` lists them. Empty when nothing is
    /// installed. The default body answers [`Error::Unsupported`].
    async fn topic_bindings(&self, queue: Option<&QueueName>) -> Result<Vec<TopicBinding>> {
        let _ = queue;
        Err(Error::Unsupported {
            operation: "topic_bindings",
        })
    }

    /// A dry run of [`send_topic_json`](Self::send_topic_json): the bindings whose pattern
    /// matches `key`, by pattern then queue, as the extension's `pgmq.test_routing` finds
    /// them. A send with `key` reaches each of their queues once. Writes nothing. The
    /// default body answers [`Error::Unsupported`].
    async fn test_routing(&self, key: &RoutingKey) -> Result<Vec<TopicBinding>> {
        let _ = key;
        Err(Error::Unsupported {
            operation: "test_routing",
        })
    }

    /// Sends `message` to every queue bound with a pattern that matches `key`, once per
    /// queue however many of its patterns match; returns how many queues it reached. As the
    /// extension's `pgmq.send_topic`, a key that reaches no queue is `Ok(0)`, not an error.
    ///
    /// # Behavior
    /// - One statement, all or nothing: every queue gets the message or none does.
    /// - Each queue applies its own attributes as [`send_json`](Self::send_json) does: without
    ///   a delay in `options`, the queue's default delay; a message over one reached queue's
    ///   maximum size is [`Error::MessageTooLarge`] and nothing is written anywhere. Each
    ///   queue's insert notification fires as for a plain send.
    /// - A message Postgres cannot store (U+0000, nesting over 127 levels) is
    ///   [`Error::InvalidMessage`], bad headers or a delay over [`MAX_DELAY`](crate::MAX_DELAY)
    ///   [`Error::InvalidArgument`], before any SQL.
    /// - A reached queue dropped while the send runs is left out (and not counted).
    /// - The default body answers [`Error::Unsupported`].
    async fn send_topic_json(
        &self,
        key: &RoutingKey,
        message: Value,
        options: SendOptions,
    ) -> Result<usize> {
        let _ = (key, message, options);
        Err(Error::Unsupported {
            operation: "send_topic_json",
        })
    }

    /// [`send_topic_json`](Self::send_topic_json) for up to [`MAX_BATCH`](crate::MAX_BATCH)
    /// messages, in one statement, all or nothing. Returns one [`TopicDelivery`] per queue
    /// reached, in queue-name order, each with the ids of the messages written there in input
    /// order (the extension's `pgmq.send_batch_topic` answers the same pairs, ungrouped). An
    /// empty batch answers an empty list without touching the database; more than
    /// `MAX_BATCH` messages is [`Error::InvalidArgument`]. The default body answers
    /// [`Error::Unsupported`].
    async fn send_batch_topic_json(
        &self,
        key: &RoutingKey,
        messages: Vec<Value>,
        options: SendOptions,
    ) -> Result<Vec<TopicDelivery>> {
        let _ = (key, messages, options);
        Err(Error::Unsupported {
            operation: "send_batch_topic_json",
        })
    }
}
