//! [`Worker`]: a consumer loop in core, so every backend has it.

use std::fmt;
use std::future::Future;
use std::sync::atomic::AtomicU8;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::queue::Queue;
use crate::receipt::Fence;
use crate::types::Message;

mod acks;
mod backoff;
mod heartbeat;
mod options;
mod run;
mod stream;
mod vacuum;

pub use options::{AckMode, WorkerOptions};
pub use stream::Messages;

/// What a [`Worker::run`] did, returned when it stops.
///
/// Every message the worker read ends in exactly one of `processed`, `failed`,
/// `lost_claims`, `stale_acks`, `ack_errors` or `aborted` (a message read ahead counts as
/// a handler from its read on); `dead_lettered` is a part of
/// `failed`. `vacuums` counts something else: vacuums of the queue table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerSummary {
    /// Handlers that succeeded and whose message was then deleted (or archived).
    pub processed: u64,
    /// Handlers that failed: returned an error or panicked. Their message was made visible
    /// again after a backoff (at once on its last allowed receive).
    pub failed: u64,
    /// Of [`failed`](Self::failed), those on a message's last allowed receive under the
    /// queue's dead-letter policy (its [`max_receive_count`](crate::DeadLetter), as read once
    /// when the worker starts): the next read, by this worker or any other consumer, moves
    /// such a message to the dead-letter queue instead of handing it out. (A read moves a
    /// message there without ever handing it out, so the worker sees no other dead letters.)
    pub dead_lettered: u64,
    /// Handlers whose message someone else read while they ran (a heartbeat found the
    /// receipt stale, e.g. after a pause longer than the visibility timeout). Their outcome
    /// was not acted on: the other reader holds the message.
    pub lost_claims: u64,
    /// Handlers that succeeded but whose acknowledgement found the receipt stale: the
    /// message had been read again (or removed) before the ack reached the database.
    pub stale_acks: u64,
    /// Handlers that succeeded but whose acknowledgement statement failed; their message
    /// reappears after its visibility timeout.
    pub ack_errors: u64,
    /// Handlers still running (or messages read ahead and not yet started) when the
    /// shutdown grace period ran out: aborted, and their message made visible again at once.
    pub aborted: u64,
    /// Vacuums of the queue table this worker ran
    /// ([`vacuum_every`](WorkerOptions::vacuum_every)); skipped ones (the table was
    /// locked) are not counted. Not a message count.
    pub vacuums: u64,
}

/// What one handler's task ended with.
enum Done {
    /// The handler succeeded and its acknowledgement is queued for the next flush: the
    /// answer arrives on this channel (`None` when the statement failed).
    Handled(tokio::sync::oneshot::Receiver<Option<Fence>>),
    /// The handler succeeded but the acknowledger is gone.
    AckError,
    Failed,
    Lost,
}

/// A consumer loop for one queue: reads in batches, runs an async handler per message with
/// bounded concurrency, keeps long handlers' claims alive, acknowledges successes in
/// coalesced statements, retries failures after a backoff, and shuts down gracefully.
///
/// # What it does
/// - **Reads** up to [`batch_size`](WorkerOptions::batch_size) messages with
///   [`read_json`](Queue::read_json) for [`vt`](WorkerOptions::vt), while it holds fewer
///   than [`concurrency`](WorkerOptions::concurrency) plus
///   [`read_ahead`](WorkerOptions::read_ahead) messages. A read that finds nothing parks on
///   the queue's notifications (or waits [`poll_interval`](WorkerOptions::poll_interval)
///   where there are none).
/// - **Runs** the handler for each message in a task of its own, at most `concurrency` at
///   once; messages read ahead start as slots free (in no promised order).
/// - **Heartbeats**: every `vt / 3`, one [`set_vt_receipts`](Queue::set_vt_receipts) extends
///   by `vt` the claim of every handler that has held its message for a while. Receipts fence
///   it: an extension never revives a message someone else has read since. When one finds
///   its receipt stale, that handler's outcome is ignored and counted in
///   [`lost_claims`](WorkerSummary::lost_claims).
/// - **Acknowledges** a success (delete or archive, [`ack_mode`](WorkerOptions::ack_mode))
///   through one background task that gathers the acknowledgements of concurrent handlers
///   for [`ack_interval`](WorkerOptions::ack_interval) and sends them as one
///   [`delete_receipts`](Queue::delete_receipts) (or
///   [`archive_receipts`](Queue::archive_receipts)).
/// - **Retries** a failure (an `Err` or a panic) by making the message visible again, fenced
///   by its receipt, after an exponential backoff with jitter:
///   [`backoff_base`](WorkerOptions::backoff_base) doubled per receive, at most
///   [`backoff_max`](WorkerOptions::backoff_max). A handler panic never stops the worker.
/// - **Dead letters** come from the queue's policy: the read after a message's
///   `max_receive_count`-th receive moves it to the dead-letter queue (see
///   [`WorkerSummary::dead_lettered`]). Without a policy a failing message is retried forever.
/// - **Vacuums** the queue table every [`vacuum_every`](WorkerOptions::vacuum_every)
///   acknowledged messages ([`Queue::vacuum`]), in the background, one at a time.
/// - **Shuts down** when the `shutdown` future completes: stops reading, lets handlers in
///   flight (and the messages read ahead) finish (for at most
///   [`grace`](WorkerOptions::grace)), acknowledges them, aborts
///   the ones still running and makes their messages visible at once, and returns a
///   [`WorkerSummary`].
///
/// Delivery is at least once: a handler may see a message again after a crash, a lost claim
/// or a failed acknowledgement, so handlers should be idempotent.
///
/// # Not for transactions, not blocking
/// Build it on a queue that runs each statement in a transaction of its own (a pool). The
/// worker is async only (it runs tasks on the Tokio runtime); the
/// [blocking twin](crate::blocking) has none.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use pgmq_core::{Message, Queue, QueueName, Worker, WorkerOptions};
/// use tokio::sync::oneshot;
///
/// async fn consume(queue: Arc<dyn Queue>, stop: oneshot::Receiver<()>) -> pgmq_core::Result<()> {
///     let orders = QueueName::new("orders")?;
///     let options = WorkerOptions::new()
///         .concurrency(16)
///         .vt(Duration::from_secs(60));
///     let worker = Worker::new(queue, orders, options)?;
///     let summary = worker
///         .run(
///             |message: Message| async move {
///                 println!("order {}: {}", message.msg_id, message.message);
///                 Ok::<(), String>(())
///             },
///             // E.g. a Ctrl-C handler sends on the other end.
///             async {
///                 let _ = stop.await;
///             },
///         )
///         .await?;
///     println!("{} processed, {} failed", summary.processed, summary.failed);
///     Ok(())
/// }
/// ```
pub struct Worker {
    queue: Arc<dyn Queue>,
    name: QueueName,
    options: WorkerOptions,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("queue", &self.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker for the queue `name` on `queue`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for options out of range (see [`WorkerOptions`]). The
    /// queue's existence is checked by [`run`](Self::run).
    pub fn new(queue: Arc<dyn Queue>, name: QueueName, options: WorkerOptions) -> Result<Self> {
        options.check()?;
        Ok(Self {
            queue,
            name,
            options,
        })
    }

    /// The queue this worker consumes.
    pub fn queue_name(&self) -> &QueueName {
        &self.name
    }

    /// The queue's messages one at a time, read as this worker would (its batch size,
    /// visibility timeout and poll interval), for a consumer that runs its own loop and
    /// acknowledges itself: none of the heartbeats, acknowledgements, retries or shutdown of
    /// [`run`](Self::run).
    pub fn messages(&self) -> Messages {
        let o = &self.options;
        let read = o.read(o.batch_size);
        Messages::new(
            Arc::clone(&self.queue),
            self.name.clone(),
            read,
            o.poll_interval,
        )
    }

    /// Runs `handler` for every message until `shutdown` completes, then shuts down as
    /// described on [`Worker`] and returns what it did.
    ///
    /// # Errors
    /// - Before anything is read: the queue's [`attributes`](Queue::attributes) could not be
    ///   read ([`Error::QueueNotFound`], …); a backend without attributes
    ///   ([`Error::Unsupported`]) runs without a dead-letter count.
    /// - A read that fails with an error that is not
    ///   [retryable](Error::is_retryable) (the queue was dropped, …) stops the worker as a
    ///   shutdown does, and that error is returned once it has stopped. Retryable read errors
    ///   (a lost connection, a pool timeout) are retried after the poll interval.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub async fn run<F, Fut, E>(
        &self,
        handler: F,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<WorkerSummary>
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        let max_receives = match self.queue.attributes(&self.name).await {
            Ok(attributes) => attributes.dead_letter.map(|d| d.max_receive_count),
            Err(Error::Unsupported { .. }) => None,
            Err(error) => return Err(error),
        };
        let ctx = run::Context {
            queue: Arc::clone(&self.queue),
            name: self.name.clone(),
            options: self.options.clone(),
            max_receives,
        };
        run::run(ctx, Arc::new(handler), shutdown).await
    }
}

/// A fresh flight state for a handler that has just been given its message.
fn running() -> Arc<AtomicU8> {
    Arc::new(AtomicU8::new(heartbeat::RUNNING))
}
