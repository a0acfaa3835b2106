//! The coalescing acknowledger: handlers' successes gathered for a few milliseconds and
//! acknowledged together, one `delete_receipts` (or `archive_receipts`) per flush.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use crate::name::QueueName;
use crate::options::MAX_BATCH;
use crate::queue::Queue;
use crate::receipt::{Fence, Receipt};

use super::AckMode;

/// One acknowledgement waiting for its flush; the answer is `None` when the statement failed.
type Pending = (Receipt, oneshot::Sender<Option<Fence>>);

/// The handle of the acknowledging task. Cloned into every handler task.
#[derive(Clone)]
pub(super) struct Acks {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Acks {
    /// Starts the acknowledging task for `name` on `queue`.
    pub(super) fn start(
        queue: Arc<dyn Queue>,
        name: QueueName,
        mode: AckMode,
        interval: Duration,
    ) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(collect(queue, name, mode, interval, rx));
        (Self { tx }, task)
    }

    /// Queues `receipt` for the next flush and returns where its answer arrives:
    /// `Some(Acted)` once it is deleted (or archived), `Some(Stale)` when someone else holds
    /// the message now, `None` when the statement failed (the message then reappears after
    /// its visibility timeout). `None` at once when the acknowledger is gone.
    pub(super) fn enqueue(&self, receipt: Receipt) -> Option<oneshot::Receiver<Option<Fence>>> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((receipt, reply)).ok()?;
        Some(answer)
    }
}

/// Gathers acknowledgements for `interval` after the first of a flush (or until
/// [`MAX_BATCH`] wait) and acts on them in one statement, answering each waiter. Ends once
/// every [`Acks`] handle is gone and everything it got is answered.
async fn collect(
    queue: Arc<dyn Queue>,
    name: QueueName,
    mode: AckMode,
    interval: Duration,
    mut rx: mpsc::UnboundedReceiver<Pending>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = Instant::now() + interval;
        while batch.len() < MAX_BATCH {
            // `recv` is cancel-safe: nothing is lost to the timeout.
            match timeout_at(deadline, rx.recv()).await {
                Ok(Some(pending)) => batch.push(pending),
                Ok(None) | Err(_) => break,
            }
        }
        let receipts: Vec<Receipt> = batch.iter().map(|(r, _)| *r).collect();
        let answers = match mode {
            AckMode::Delete => queue.delete_receipts(&name, &receipts).await,
            AckMode::Archive => queue.archive_receipts(&name, &receipts).await,
        };
        match answers {
            Ok(fences) if fences.len() == batch.len() => {
                for ((_, reply), fence) in batch.into_iter().zip(fences) {
                    let _ = reply.send(Some(fence));
                }
            }
            // A failed statement changed nothing; the messages reappear after their timeout.
            _ => {
                for (_, reply) in batch {
                    let _ = reply.send(None);
                }
            }
        }
    }
}
