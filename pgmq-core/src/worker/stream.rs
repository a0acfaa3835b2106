//! [`Messages`]: received messages one at a time, for a consumer that runs its own loop.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::name::QueueName;
use crate::options::ReadOptions;
use crate::queue::Queue;
use crate::types::Message;

/// The messages of a queue, one at a time, read in batches: the plain loop under a
/// [`Worker`](super::Worker), for users who want to run their own. Made by
/// [`Worker::messages`](super::Worker::messages).
///
/// [`next`](Self::next) hands out a message already read, or reads up to
/// [`batch_size`](super::WorkerOptions::batch_size) messages for
/// [`vt`](super::WorkerOptions::vt), waiting
/// [`poll_interval`](super::WorkerOptions::poll_interval) between reads that find nothing.
/// Nothing else is done for you: acknowledge each message with its
/// [`receipt`](Message::receipt) ([`delete_receipt`](crate::QueueExt::delete_receipt), …),
/// extend long work with [`set_vt_receipt`](crate::QueueExt::set_vt_receipt). The visibility
/// timeout of a buffered message runs from its read, so take them out promptly (a small
/// batch size keeps the buffer short). Dropping it releases nothing: the buffered messages
/// reappear when their timeout ends.
///
/// Not a `futures::Stream` (pgmq-core depends on no futures crate): `next` is an inherent
/// method; `futures::stream::unfold(messages, |mut m| async move { Some((m.next().await, m)) })`
/// makes one.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use pgmq_core::{Queue, QueueExt, QueueName, Worker, WorkerOptions};
///
/// async fn consume(queue: Arc<dyn Queue>) -> pgmq_core::Result<()> {
///     let orders = QueueName::new("orders")?;
///     let worker = Worker::new(Arc::clone(&queue), orders.clone(), WorkerOptions::new())?;
///     let mut messages = worker.messages();
///     loop {
///         let message = messages.next().await?;
///         println!("{}", message.message);
///         queue.delete_receipt(&orders, message.receipt()).await?;
///     }
/// }
/// ```
pub struct Messages {
    queue: Arc<dyn Queue>,
    name: QueueName,
    read: ReadOptions,
    poll_interval: Duration,
    buffer: VecDeque<Message>,
}

impl fmt::Debug for Messages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Messages")
            .field("queue", &self.name)
            .field("read", &self.read)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl Messages {
    pub(super) fn new(
        queue: Arc<dyn Queue>,
        name: QueueName,
        read: ReadOptions,
        poll_interval: Duration,
    ) -> Self {
        Self {
            queue,
            name,
            read,
            poll_interval,
            buffer: VecDeque::new(),
        }
    }

    /// The next message: one already read, else the first of a new read, waiting as long as
    /// the queue has nothing visible.
    ///
    /// # Errors
    /// The read's error (the buffer is empty then); calling again reads again.
    pub async fn next(&mut self) -> Result<Message> {
        loop {
            if let Some(message) = self.buffer.pop_front() {
                return Ok(message);
            }
            let read = self.queue.read_json(&self.name, self.read.clone()).await?;
            if read.is_empty() {
                tokio::time::sleep(self.poll_interval).await;
            }
            self.buffer.extend(read);
        }
    }

    /// How many messages are read and waiting to be taken.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}
