//! [`BatchingProducer`]: many concurrent sends, few commits.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use crate::checks;
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::options::SendOptions;
use crate::queue::Queue;

mod copies;
mod options;

use copies::copies;
pub use options::ProducerOptions;

/// A message waiting for its batch, and where its answer goes.
struct Pending {
    message: Value,
    reply: oneshot::Sender<Result<i64>>,
}

/// Sends to one queue from many tasks, batching concurrent sends into one statement.
///
/// Sends from many tasks that arrive within a short window (by default 1 ms after the first of
/// them, or until [`ProducerOptions::max_batch`] messages are waiting) go to Postgres as one
/// [`send_batch_json`](Queue::send_batch_json), so one commit (one WAL flush) serves them all.
/// Each sender gets its own id once that batch has committed. The window applies only while
/// other batches are in flight: a send to an idle producer goes out at once (with whatever
/// else is already waiting, including sends from tasks woken at the same moment, such as the
/// senders a committed batch just answered), so batching never adds latency when there is
/// nothing to share a commit with. A batch stops counting as in flight when its last
/// statement returns, a moment before its senders are answered.
///
/// # Guarantees
/// - **Durable.** A sender gets an id only after the statement that wrote its message has
///   succeeded (committed, as it runs outside any transaction), and gets exactly one answer.
/// - **One bad message fails only its sender.** A message holding U+0000 is rejected before it
///   joins a batch. A message over the queue's maximum size
///   ([`Error::MessageTooLarge`]) makes Postgres write nothing of its batch; its sender gets
///   that error (with `index` 0, as for a single send) and the batch is sent again without it,
///   so the others still get their ids.
/// - **Other failures reach every sender of the batch** with an error of the same variant
///   (`QueueNotFound`, `Connection`, `PoolTimeout`, `Database` with its kind and SQLSTATE, …);
///   the driver's error is shared by all of them as the `source`, with its text and chain.
///   Nothing of a failed batch was written.
/// - **Order.** Within one batch, messages are sent (and get ascending ids) in the order their
///   sends joined the producer. Up to [`ProducerOptions::max_in_flight_batches`] batches run
///   at once, so consecutive batches may commit out of order.
/// - **Memory.** Every waiting message belongs to a sender waiting for its answer, so the
///   producer holds at most as many messages as there are concurrent senders.
///
/// # Not for transactions, not blocking
/// A batch commits on its own, so a send that must be atomic with the caller's own writes stays
/// a direct [`send`](crate::QueueExt::send) on a queue bound to that transaction. Build the
/// producer on a queue that runs each statement in a transaction of its own (a pool, a
/// connection outside any transaction): on a queue bound to an open transaction, an id would
/// come back before anything is durable. The producer is async only (it runs a background
/// task on the Tokio runtime); the [blocking twin](crate::blocking) has none.
///
/// # Shutting down
/// [`BatchingProducer`] is a cheap `Clone`; all clones share one background task, which holds
/// the queue. When the last handle is dropped, the task sends what it still holds, answers
/// those senders, and exits; [`close`](BatchingProducer::close) does the same and waits for
/// it. A send future is `'static` and keeps working after the handle it came from is gone.
/// The runtime must keep running until then: a runtime that shuts down cancels the task, and a
/// sender waiting at that moment gets an error saying its message may or may not be stored.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use pgmq_core::serde_json::json;
/// use pgmq_core::{BatchingProducer, ProducerOptions, Queue, QueueName};
///
/// async fn produce(queue: Arc<dyn Queue>) -> pgmq_core::Result<()> {
///     let orders = QueueName::new("orders")?;
///     let producer = BatchingProducer::new(queue, orders, ProducerOptions::new())?;
///     // 100 tasks, a handful of statements.
///     let tasks: Vec<_> = (0..100)
///         .map(|i| tokio::spawn(producer.send(&json!({ "order": i }))))
///         .collect();
///     for task in tasks {
///         let id = task.await.expect("the task ran")?;
///         println!("stored as {id}");
///     }
///     producer.close().await;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct BatchingProducer {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::UnboundedSender<Pending>,
    task: JoinHandle<()>,
    queue: QueueName,
}

impl fmt::Debug for BatchingProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchingProducer")
            .field("queue", &self.inner.queue)
            .finish_non_exhaustive()
    }
}

impl BatchingProducer {
    /// A producer for the queue `name` on `queue`, with its background task spawned.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for options out of range (see [`ProducerOptions`]), before
    /// anything starts. The queue's existence is not checked here: sends to a missing queue
    /// fail with [`Error::QueueNotFound`].
    ///
    /// # Panics
    /// Outside a Tokio runtime (as [`tokio::spawn`] does).
    pub fn new(queue: Arc<dyn Queue>, name: QueueName, options: ProducerOptions) -> Result<Self> {
        options.check()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(collect(queue, name.clone(), options, rx));
        Ok(Self {
            inner: Arc::new(Inner {
                tx,
                task,
                queue: name,
            }),
        })
    }

    /// The queue this producer sends to.
    pub fn queue_name(&self) -> &QueueName {
        &self.inner.queue
    }

    /// Sends `message` with the next batch; resolves to its id once that batch has committed,
    /// or to the batch's error (see [`BatchingProducer`]).
    ///
    /// The message joins the producer when the future is first polled. A future dropped before
    /// its batch goes out withdraws its message; dropped later, the message may be stored
    /// without anyone learning its id (as with any send whose answer is lost).
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] for a message holding U+0000 (only this sender's);
    /// [`Error::MessageTooLarge`] (`index` 0) for a message over the queue's limit; otherwise
    /// the batch's error.
    pub fn send_json(&self, message: Value) -> impl Future<Output = Result<i64>> + Send + 'static {
        let tx = self.inner.tx.clone();
        async move {
            checks::storable(0, &message)?;
            let (reply, answer) = oneshot::channel();
            tx.send(Pending { message, reply }).map_err(|_| {
                Error::driver("the batching producer has stopped; nothing was sent")
            })?;
            drop(tx);
            answer.await.map_err(|_| {
                Error::driver(
                    "the batching producer stopped before answering; \
                     the message may or may not have been stored",
                )
            })?
        }
    }

    /// Serializes `message` to JSON (now, in the caller) and sends it as
    /// [`send_json`](Self::send_json) does.
    ///
    /// # Errors
    /// [`Error::Serialize`] for this sender alone if `message` cannot be represented as JSON;
    /// then as [`send_json`](Self::send_json).
    pub fn send<T: Serialize + ?Sized>(
        &self,
        message: &T,
    ) -> impl Future<Output = Result<i64>> + Send + 'static {
        let json = serde_json::to_value(message).map_err(|source| Error::Serialize { source });
        let send = json.map(|json| self.send_json(json));
        async move { send?.await }
    }

    /// Drops this handle; if it was the last one, waits until the background task has sent
    /// and answered every message it holds, and exited. Send futures made from this producer
    /// and not yet finished count too: one that is kept but never polled keeps `close`
    /// waiting, so drop such futures first.
    pub async fn close(self) {
        if let Some(Inner { tx, task, .. }) = Arc::into_inner(self.inner) {
            drop(tx);
            // A panic in the task already answered its senders (their replies were dropped).
            let _ = task.await;
        }
    }
}

/// The background task: forms batches and hands each to a task of its own, at most
/// `max_in_flight_batches` at once. Ends once every sender is gone and every batch answered.
async fn collect(
    queue: Arc<dyn Queue>,
    name: QueueName,
    options: ProducerOptions,
    mut rx: mpsc::UnboundedReceiver<Pending>,
) {
    let slots = options.max_in_flight_batches;
    let in_flight = Arc::new(Semaphore::new(slots));
    // Batch statements running now. A batch keeps its slot until its senders are answered
    // (so `close` waits for every answer), but stops counting as running when its statement
    // returns: senders answered a moment later then find the producer idle.
    let running = Arc::new(AtomicUsize::new(0));
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        // Senders already woken (say, by the answers of the batch that just committed) send
        // in a moment: let them run, then take what they sent without waiting on a timer.
        tokio::task::yield_now().await;
        drain(&mut rx, &mut batch, options.max_batch);
        // An idle producer (no batch in flight) sends at once: waiting would only add the
        // window to these senders' latency. Under load, batches form while others commit.
        let idle = running.load(Ordering::Acquire) == 0;
        if !idle && !options.window.is_zero() {
            let deadline = Instant::now() + options.window;
            while batch.len() < options.max_batch {
                // `recv` is cancel-safe: a message is never lost to the timeout.
                match timeout_at(deadline, rx.recv()).await {
                    Ok(Some(pending)) => batch.push(pending),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            // The semaphore is never closed; should it be, nobody waits for nothing.
            for pending in batch {
                let _ = pending
                    .reply
                    .send(Err(Error::driver("the producer's batch limiter closed")));
            }
            return;
        };
        // Messages that arrived while every slot was busy join this batch.
        drain(&mut rx, &mut batch, options.max_batch);
        // A sender that gave up before its batch went out withdraws its message.
        batch.retain(|pending| !pending.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let (queue, name, send) = (Arc::clone(&queue), name.clone(), options.send.clone());
        let running = Running::start(&running);
        tokio::spawn(async move {
            let answers = commit(&*queue, &name, send, batch).await;
            drop(running);
            for (reply, answer) in answers {
                let _ = reply.send(answer);
            }
            drop(permit);
        });
    }
    // Every handle and send is gone and every batch dispatched: wait for those in flight.
    let _ = in_flight.acquire_many(slots as u32).await;
}

/// One batch statement counted in the producer's running count until dropped (also if the
/// statement panics: the producer must not stay "busy" for good).
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(count))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Moves the messages already waiting in `rx` into `batch`, up to `max` in all.
fn drain(rx: &mut mpsc::UnboundedReceiver<Pending>, batch: &mut Vec<Pending>, max: usize) {
    while batch.len() < max {
        match rx.try_recv() {
            Ok(pending) => batch.push(pending),
            Err(_) => break,
        }
    }
}

/// A sender's reply channel and its answer.
type Answer = (oneshot::Sender<Result<i64>>, Result<i64>);

/// Sends one batch. A sender whose message Postgres rejected is answered at once; the answers
/// of the others (their ids, or the batch's error) are returned, exactly one each.
async fn commit(
    queue: &dyn Queue,
    name: &QueueName,
    options: SendOptions,
    mut batch: Vec<Pending>,
) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(batch.len());
    while !batch.is_empty() {
        // Kept for a retry: a rejected message is removed and the rest sent again.
        let messages = batch.iter().map(|p| p.message.clone()).collect();
        let error = match queue.send_batch_json(name, messages, options.clone()).await {
            Ok(ids) if ids.len() == batch.len() => {
                let ids = batch.into_iter().zip(ids);
                answers.extend(ids.map(|(pending, id)| (pending.reply, Ok(id))));
                return answers;
            }
            Ok(ids) => Error::Decode {
                reason: format!("sent {} messages but got {} ids", batch.len(), ids.len()),
                source: None,
            },
            // All or nothing: nothing was written, so the rest can go again without it.
            Err(Error::MessageTooLarge { index, size, limit }) if index < batch.len() => {
                let bad = batch.remove(index);
                let error = Error::MessageTooLarge {
                    index: 0,
                    size,
                    limit,
                };
                let _ = bad.reply.send(Err(error));
                continue;
            }
            Err(Error::InvalidMessage { index, reason }) if index < batch.len() => {
                let bad = batch.remove(index);
                let _ = bad
                    .reply
                    .send(Err(Error::InvalidMessage { index: 0, reason }));
                continue;
            }
            Err(error) => error,
        };
        let copy = copies(error);
        answers.extend(
            batch
                .into_iter()
                .map(|pending| (pending.reply, Err(copy()))),
        );
        return answers;
    }
    answers
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::options::MAX_BATCH;

    #[test]
    fn options_out_of_range_are_invalid_arguments() {
        assert!(ProducerOptions::new().check().is_ok());
        assert!(ProducerOptions::new()
            .window(Duration::ZERO)
            .check()
            .is_ok());
        let bad = [
            (ProducerOptions::new().max_batch(0), "max_batch"),
            (ProducerOptions::new().max_batch(MAX_BATCH + 1), "max_batch"),
            (
                ProducerOptions::new().max_in_flight_batches(0),
                "max_in_flight_batches",
            ),
            (
                ProducerOptions::new().window(Duration::from_millis(1001)),
                "batch window",
            ),
            (
                ProducerOptions::new().send_options(SendOptions::new().delay_secs(u64::MAX)),
                "delay",
            ),
        ];
        for (options, expected) in bad {
            match options.check() {
                Err(Error::InvalidArgument { argument, .. }) => assert_eq!(argument, expected),
                other => panic!("{options:?}: expected InvalidArgument({expected}), got {other:?}"),
            }
        }
    }
}
