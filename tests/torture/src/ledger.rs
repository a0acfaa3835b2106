//! [`Ledger`]: a [`Queue`] that forwards what the worker and producers use to a real backend
//! and writes down every claim (a read of a message) and what became of it, so the end
//! checks can replay the run.
//!
//! Times are the server's where the server answers one (`last_read_at`, `vt`), and this
//! process' clock otherwise; the run uses a Postgres on the same machine, so both are the
//! same clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pgmq_core::serde_json::Value;
use pgmq_core::{
    Fence, Message, Queue, QueueAttributes, QueueMetrics, QueueName, ReadOptions, Readiness,
    Receipt, Result, SendOptions, Subscription, VacuumOutcome, VisibleAt,
};

/// One read of one message, as the reader learnt it.
#[derive(Clone, Debug)]
pub(crate) struct Claim {
    /// When the read took the message (server clock).
    pub(crate) read_at: DateTime<Utc>,
    /// A lower bound on when the claim ended: the visibility time the read set, moved by
    /// every extension or release that answered, and lowered to what a release that failed
    /// without an answer may have set.
    pub(crate) deadline: DateTime<Utc>,
    /// When the statement that set [`deadline`](Self::deadline) ran on the server: of two
    /// answered changes, the later one there is the one that stands (two updates of a row
    /// wait for each other, and the second computes its time after the first committed).
    pub(crate) set_at: DateTime<Utc>,
    /// When an acknowledgement with this claim's receipt was answered `Acted`, and when
    /// that statement was sent.
    pub(crate) acked: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// What happened to the claim, for the report of a broken check: (when it was
    /// answered, by this process' clock; what; the visibility time it reported or asked).
    pub(crate) history: Vec<(DateTime<Utc>, &'static str, DateTime<Utc>)>,
    /// How many reads handed out this very receipt (more than one is a double delivery).
    pub(crate) reads: u32,
}

/// Everything recorded, shared by every [`Ledger`] of a run.
#[derive(Debug, Default)]
pub(crate) struct Book {
    pub(crate) claims: HashMap<Receipt, Claim>,
    /// Receipts that a later read has superseded: the saboteur's ammunition.
    pub(crate) superseded: Vec<Receipt>,
    /// Fenced operations answered `Stale` (acknowledgements and extensions).
    pub(crate) stale_refused: u64,
    /// `Acted` acknowledgements per message.
    pub(crate) acts: HashMap<i64, u32>,
    /// When acknowledgements acted, and how many: the throughput timeline.
    pub(crate) ack_times: Vec<(Instant, u32)>,
    /// `set_vt_receipts` calls sent and not (yet) answered.
    pub(crate) unanswered: u64,
    /// Statements that failed (the faults' footprint), by operation.
    pub(crate) errors: HashMap<&'static str, u64>,
}

/// The shared [`Book`].
pub(crate) type Shared = Arc<Mutex<Book>>;

/// Locks the book; a panic elsewhere while it was held does not hide what it holds.
pub(crate) fn lock(book: &Shared) -> std::sync::MutexGuard<'_, Book> {
    book.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Forwards to `inner`, recording into `book`.
pub(crate) struct Ledger {
    inner: Arc<dyn Queue>,
    book: Shared,
}

impl Ledger {
    pub(crate) fn new(inner: Arc<dyn Queue>, book: Shared) -> Arc<Self> {
        Arc::new(Self { inner, book })
    }

    fn failed<T>(&self, operation: &'static str, result: &Result<T>) {
        if result.is_err() {
            *lock(&self.book).errors.entry(operation).or_default() += 1;
        }
    }
}

/// Where `vt` puts a message, for a statement sent at `sent` (a lower bound on the server's
/// answer, which is computed later).
fn target(vt: VisibleAt, sent: DateTime<Utc>) -> DateTime<Utc> {
    match vt {
        VisibleAt::After(d) => sent + millis(d),
        VisibleAt::At(at) => at,
    }
}

/// `d` as the statements send it: whole milliseconds, the rest dropped.
fn millis(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::milliseconds(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[async_trait]
impl Queue for Ledger {
    async fn install(&self) -> Result<()> {
        self.inner.install().await
    }
    async fn create(&self, queue: &QueueName, options: pgmq_core::CreateOptions) -> Result<()> {
        self.inner.create(queue, options).await
    }
    async fn drop_queue(&self, queue: &QueueName) -> Result<bool> {
        self.inner.drop_queue(queue).await
    }
    async fn purge(&self, queue: &QueueName) -> Result<u64> {
        self.inner.purge(queue).await
    }
    async fn list_queues(&self) -> Result<Vec<pgmq_core::QueueInfo>> {
        self.inner.list_queues().await
    }
    async fn metrics(&self, queue: &QueueName) -> Result<QueueMetrics> {
        self.inner.metrics(queue).await
    }
    async fn metrics_all(&self) -> Result<Vec<QueueMetrics>> {
        self.inner.metrics_all().await
    }
    async fn send_json(&self, queue: &QueueName, message: Value, o: SendOptions) -> Result<i64> {
        let result = self.inner.send_json(queue, message, o).await;
        self.failed("send", &result);
        result
    }
    async fn send_batch_json(
        &self,
        queue: &QueueName,
        messages: Vec<Value>,
        options: SendOptions,
    ) -> Result<Vec<i64>> {
        let result = self.inner.send_batch_json(queue, messages, options).await;
        self.failed("send_batch", &result);
        result
    }
    async fn read_json(&self, queue: &QueueName, options: ReadOptions) -> Result<Vec<Message>> {
        let result = self.inner.read_json(queue, options).await;
        self.failed("read", &result);
        if let Ok(messages) = &result {
            let mut book = lock(&self.book);
            for m in messages {
                let read_at = m.last_read_at.unwrap_or_else(Utc::now);
                let claim = book.claims.entry(m.receipt()).or_insert_with(|| Claim {
                    read_at,
                    deadline: m.vt,
                    set_at: read_at,
                    acked: None,
                    history: Vec::new(),
                    reads: 0,
                });
                claim.reads += 1;
                claim.history.push((Utc::now(), "read", m.vt));
                if m.read_ct > 1 {
                    book.superseded.push(Receipt::new(m.msg_id, m.read_ct - 1));
                }
            }
        }
        result
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
    async fn read_archive(
        &self,
        q: &QueueName,
        ids: &[i64],
    ) -> Result<Vec<pgmq_core::ArchivedMessage>> {
        self.inner.read_archive(q, ids).await
    }
    async fn delete_receipts(&self, q: &QueueName, receipts: &[Receipt]) -> Result<Vec<Fence>> {
        self.inner.delete_receipts(q, receipts).await
    }
    async fn archive_receipts(&self, q: &QueueName, receipts: &[Receipt]) -> Result<Vec<Fence>> {
        let sent = Utc::now();
        let result = self.inner.archive_receipts(q, receipts).await;
        self.failed("archive_receipts", &result);
        if let Ok(fences) = &result {
            let answered = Utc::now();
            let mut book = lock(&self.book);
            let mut acted = 0;
            for (receipt, fence) in receipts.iter().zip(fences) {
                if fence.is_stale() {
                    book.stale_refused += 1;
                    continue;
                }
                acted += 1;
                *book.acts.entry(receipt.msg_id).or_default() += 1;
                if let Some(claim) = book.claims.get_mut(receipt) {
                    claim.acked = Some((answered, sent));
                    claim.history.push((answered, "archived", answered));
                }
            }
            book.ack_times.push((Instant::now(), acted));
        }
        result
    }
    async fn set_vt_receipts(
        &self,
        q: &QueueName,
        receipts: &[Receipt],
        vt: VisibleAt,
    ) -> Result<Vec<Option<Message>>> {
        let sent = Utc::now();
        {
            let mut book = lock(&self.book);
            for receipt in receipts {
                if let Some(claim) = book.claims.get_mut(receipt) {
                    claim
                        .history
                        .push((sent, "set_vt sent, asking", target(vt, sent)));
                }
            }
            book.unanswered += 1;
        }
        let result = self.inner.set_vt_receipts(q, receipts, vt).await;
        self.failed("set_vt_receipts", &result);
        let mut book = lock(&self.book);
        book.unanswered -= 1;
        match &result {
            Ok(answers) => {
                for (receipt, answer) in receipts.iter().zip(answers) {
                    match answer {
                        Some(m) => {
                            let Some(claim) = book.claims.get_mut(receipt) else {
                                continue;
                            };
                            claim.history.push((Utc::now(), "set_vt answered", m.vt));
                            match vt {
                                // The statement ran at `vt` minus the wait.
                                VisibleAt::After(d) => {
                                    let ran = m.vt - millis(d);
                                    if ran >= claim.set_at {
                                        (claim.deadline, claim.set_at) = (m.vt, ran);
                                    }
                                }
                                // When it ran is unknown: only ever lower the bound.
                                VisibleAt::At(_) => claim.deadline = claim.deadline.min(m.vt),
                            }
                        }
                        None => {
                            book.stale_refused += 1;
                            if let Some(claim) = book.claims.get_mut(receipt) {
                                claim.history.push((Utc::now(), "set_vt stale", sent));
                            }
                        }
                    }
                }
            }
            Err(_) => {
                // It may have committed without our hearing: the claim may end as early as
                // the time it asked for.
                let earliest = target(vt, sent);
                for receipt in receipts {
                    if let Some(claim) = book.claims.get_mut(receipt) {
                        claim.deadline = claim.deadline.min(earliest);
                        claim.history.push((Utc::now(), "set_vt failed", earliest));
                        claim
                            .history
                            .push((Utc::now(), "set_vt failed, asked", earliest));
                    }
                }
            }
        }
        drop(book);
        result
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
    /// The workers' own vacuums run under the faults too.
    async fn vacuum(&self, queue: &QueueName) -> Result<VacuumOutcome> {
        self.inner.vacuum(queue).await
    }
}
