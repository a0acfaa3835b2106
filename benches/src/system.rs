//! The operations the workloads need, implemented by pgmq-rs (any backend) and by the pgmq
//! crate, so both run exactly the same loops.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pgmq_core::{Fence, Queue, QueueExt, QueueName, ReadOptions, Receipt, SendOptions};
use serde::{Deserialize, Serialize};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type Res<T> = Result<T, BoxError>;

/// About 120 bytes of JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Payload {
    pub(crate) id: u64,
    pub(crate) kind: String,
    pub(crate) customer: String,
    pub(crate) amount_cents: u64,
    pub(crate) currency: String,
    pub(crate) note: String,
}

impl Payload {
    pub(crate) fn new(id: u64) -> Self {
        Self {
            id,
            kind: "order.created".into(),
            customer: format!("cust-{:06}", id % 1_000_000),
            amount_cents: 1299 + id % 1000,
            currency: "EUR".into(),
            note: "benchmark payload".into(),
        }
    }
}

/// A queue system under test, on one queue it owns.
#[async_trait]
pub(crate) trait System: Send + Sync {
    async fn send(&self, msg: &Payload) -> Res<i64>;
    async fn send_batch(&self, msgs: &[Payload], delay_secs: u64) -> Res<Vec<i64>>;
    /// Reads up to `qty` messages with a 30 s visibility timeout; returns their ids.
    async fn read(&self, qty: usize) -> Res<Vec<i64>>;
    async fn delete(&self, id: i64) -> Res<()>;
    /// As [`read`](Self::read), returning each message's receipt.
    async fn read_receipts(&self, qty: usize) -> Res<Vec<Receipt>>;
    /// Deletes the message `receipt` names, fenced; an error unless the delete acted.
    async fn delete_receipt(&self, receipt: Receipt) -> Res<()>;
    async fn archive_batch(&self, ids: &[i64]) -> Res<()>;
    /// Reads one message with a 30 s visibility timeout, waiting up to `wait` for one to
    /// arrive (looking again every `poll`; `None`: the system's default); returns
    /// (msg_id, payload id) pairs.
    async fn read_waiting(&self, wait: Duration, poll: Option<Duration>) -> Res<Vec<(i64, u64)>>;
    /// Runs one statement that touches no message (to open a pooled connection).
    async fn touch(&self) -> Res<()>;
}

/// pgmq-rs on any backend.
pub(crate) struct Ours {
    pub(crate) queue: Arc<dyn Queue>,
    pub(crate) name: QueueName,
}

#[async_trait]
impl System for Ours {
    async fn send(&self, msg: &Payload) -> Res<i64> {
        Ok(self.queue.send(&self.name, msg, SendOptions::new()).await?)
    }

    async fn send_batch(&self, msgs: &[Payload], delay_secs: u64) -> Res<Vec<i64>> {
        let opts = SendOptions::new().delay_secs(delay_secs);
        Ok(self.queue.send_batch(&self.name, msgs, opts).await?)
    }

    async fn read(&self, qty: usize) -> Res<Vec<i64>> {
        let got = self
            .queue
            .read::<Payload>(&self.name, ReadOptions::new().vt_secs(30).qty(qty))
            .await?;
        Ok(got.into_iter().map(|m| m.msg_id).collect())
    }

    async fn delete(&self, id: i64) -> Res<()> {
        self.queue.delete(&self.name, id).await?;
        Ok(())
    }

    async fn read_receipts(&self, qty: usize) -> Res<Vec<Receipt>> {
        let got = self
            .queue
            .read::<Payload>(&self.name, ReadOptions::new().vt_secs(30).qty(qty))
            .await?;
        Ok(got.iter().map(|m| m.receipt()).collect())
    }

    async fn delete_receipt(&self, receipt: Receipt) -> Res<()> {
        match self.queue.delete_receipt(&self.name, receipt).await? {
            Fence::Acted => Ok(()),
            Fence::Stale => Err(format!("fenced delete of {receipt:?} answered stale").into()),
        }
    }

    async fn archive_batch(&self, ids: &[i64]) -> Res<()> {
        self.queue.archive_batch(&self.name, ids).await?;
        Ok(())
    }

    async fn read_waiting(&self, wait: Duration, poll: Option<Duration>) -> Res<Vec<(i64, u64)>> {
        let mut options = ReadOptions::new().vt_secs(30).wait(wait);
        if let Some(poll) = poll {
            options = options.poll_interval(poll);
        }
        let got = self.queue.read::<Payload>(&self.name, options).await?;
        Ok(got.into_iter().map(|m| (m.msg_id, m.message.id)).collect())
    }

    async fn touch(&self) -> Res<()> {
        self.queue.metrics(&self.name).await?;
        Ok(())
    }
}

/// Why the pgmq crate sits out the receipt workloads.
pub(crate) const NO_RECEIPTS: &str = "the pgmq crate has no receipts";

/// The upstream pgmq crate (sqlx, the extension's SQL functions installed as plain SQL).
pub(crate) struct Upstream {
    pub(crate) pgmq: Arc<pgmq::PGMQueueExt>,
    pub(crate) name: String,
}

#[async_trait]
impl System for Upstream {
    async fn send(&self, msg: &Payload) -> Res<i64> {
        Ok(self.pgmq.send(&self.name, msg).await?)
    }

    async fn send_batch(&self, msgs: &[Payload], delay_secs: u64) -> Res<Vec<i64>> {
        if delay_secs == 0 {
            return Ok(self.pgmq.send_batch(&self.name, msgs).await?);
        }
        Ok(self
            .pgmq
            .send_batch_with_delay(&self.name, msgs, delay_secs)
            .await?)
    }

    async fn read(&self, qty: usize) -> Res<Vec<i64>> {
        let qty = i32::try_from(qty)?;
        let got = self
            .pgmq
            .read_batch::<Payload, serde_json::Value>(&self.name, 30, qty)
            .await?;
        Ok(got.into_iter().map(|m| m.msg_id).collect())
    }

    async fn delete(&self, id: i64) -> Res<()> {
        self.pgmq.delete(&self.name, id).await?;
        Ok(())
    }

    async fn read_receipts(&self, _qty: usize) -> Res<Vec<Receipt>> {
        Err(NO_RECEIPTS.into())
    }

    async fn delete_receipt(&self, _receipt: Receipt) -> Res<()> {
        Err(NO_RECEIPTS.into())
    }

    async fn archive_batch(&self, ids: &[i64]) -> Res<()> {
        self.pgmq.archive_batch(&self.name, ids).await?;
        Ok(())
    }

    /// The crate's `read_batch_with_poll`: it polls inside the server (`pg_sleep` between
    /// reads), holding a connection for the whole wait.
    async fn read_waiting(&self, wait: Duration, poll: Option<Duration>) -> Res<Vec<(i64, u64)>> {
        let got = self
            .pgmq
            .read_batch_with_poll::<Payload, serde_json::Value>(&self.name, 30, 1, Some(wait), poll)
            .await?;
        Ok(got.into_iter().map(|m| (m.msg_id, m.message.id)).collect())
    }

    async fn touch(&self) -> Res<()> {
        self.pgmq.list_queues().await?;
        Ok(())
    }
}
