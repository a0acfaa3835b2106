//! The worker's vacuum of its queue table: one [`Queue::vacuum`] after every
//! [`vacuum_every`](super::WorkerOptions::vacuum_every) acknowledged messages, or after
//! [`INTERVAL`] once at least [`INTERVAL_MIN`] were, in a task of its own that the read loop
//! never waits for.
//!
//! The time bound matters as much as the count. A vacuum also refreshes the table's row
//! estimate (`pg_class.reltuples`); one taken while the queue was momentarily empty tells
//! the planner the table is empty, and if a backlog then builds, the claim's plan can flip
//! from the ordered `vt` index scan (which stops after `qty` rows) to a bitmap scan that
//! fetches and sorts every visible message, so each claim costs the whole backlog and the
//! backlog grows. Measured (W10, stock settings, 3,500 msgs/s offered): claims went from
//! 0.4 ms to 60 ms and completions from 3,500/s to 125/s until the next autovacuum, a
//! minute later, saw the backlog. The slower acknowledgements get, the longer a count
//! alone would take to reach the next vacuum; the interval bounds that.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::Error;
use crate::name::QueueName;
use crate::queue::Queue;
use crate::trace;
use crate::tuning::VacuumOutcome;

/// A vacuum is also due this long after the last one started ...
pub(crate) const INTERVAL: Duration = Duration::from_secs(5);
/// ... once at least this many messages were acknowledged since (an idle queue is not
/// vacuumed on a timer).
pub(crate) const INTERVAL_MIN: u64 = 100;

/// When the next vacuum is due, the one running, and what the finished ones did.
pub(super) struct Vacuums {
    /// `None`: off, from the start or since the role turned out not to be allowed.
    every: Option<u64>,
    /// The acknowledged count when the last vacuum started.
    mark: u64,
    /// When the last vacuum started (or the worker did).
    since: Instant,
    running: Option<JoinHandle<()>>,
    /// Set by a vacuum that answered [`VacuumOutcome::NotPermitted`].
    refused: Arc<AtomicBool>,
    /// Vacuums that ran.
    ran: Arc<AtomicU64>,
}

impl Vacuums {
    pub(super) fn new(every: Option<u64>) -> Self {
        Self {
            every,
            mark: 0,
            since: Instant::now(),
            running: None,
            refused: Arc::default(),
            ran: Arc::default(),
        }
    }

    /// Called with the count of acknowledged messages so far: starts a vacuum once `every`
    /// more have been acknowledged since the last one started, or [`INTERVAL`] has passed
    /// and at least [`INTERVAL_MIN`] have (never more than `every`), unless one still runs
    /// (it starts as soon as that one has finished, at a later acknowledgement).
    pub(super) fn acknowledged(&mut self, acked: u64, queue: &Arc<dyn Queue>, name: &QueueName) {
        let Some(every) = self.every else {
            return;
        };
        let since = acked.saturating_sub(self.mark);
        let due = since >= every
            || (since >= INTERVAL_MIN.min(every) && self.since.elapsed() >= INTERVAL);
        if !due {
            return;
        }
        if self.running.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        if self.refused.load(Ordering::Relaxed) {
            self.every = None;
            return;
        }
        self.mark = acked;
        self.since = Instant::now();
        let (queue, name) = (Arc::clone(queue), name.clone());
        let (refused, ran) = (Arc::clone(&self.refused), Arc::clone(&self.ran));
        self.running = Some(tokio::spawn(async move {
            let outcome = queue.vacuum(&name).await;
            trace::vacuumed(&name, &outcome);
            match outcome {
                Ok(VacuumOutcome::Vacuumed) => {
                    ran.fetch_add(1, Ordering::Relaxed);
                }
                // A backend without `vacuum` will not grow one during the run either.
                Ok(VacuumOutcome::NotPermitted) | Err(Error::Unsupported { .. }) => {
                    refused.store(true, Ordering::Relaxed);
                }
                // Skipped, or failed: the next threshold tries again.
                Ok(_) | Err(_) => {}
            }
        }));
    }

    /// Waits for a vacuum still running (it never waits for a lock, so this is bounded by
    /// one vacuum of the table) and answers how many ran.
    pub(super) async fn finish(self) -> u64 {
        if let Some(task) = self.running {
            let _ = task.await;
        }
        self.ran.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;

    use super::*;
    use crate::adapter::{Cell, Executor, Row, Statement};
    use crate::error::Result;

    /// Answers the vacuum check as told and counts every statement.
    struct Stub {
        permitted: bool,
        statements: AtomicUsize,
    }

    #[async_trait]
    impl Executor for Stub {
        async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
            self.statements.fetch_add(1, Ordering::SeqCst);
            if statement.sql.starts_with("VACUUM") {
                return Ok(Vec::new());
            }
            Ok(vec![vec![
                Cell::Bool(true),
                Cell::Bool(self.permitted),
                Cell::Bool(false),
            ]])
        }

        async fn query_atomic(&self, _: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
            unreachable!("a vacuum runs single statements")
        }
    }

    fn stub(permitted: bool) -> (Arc<Stub>, Arc<dyn Queue>) {
        let stub = Arc::new(Stub {
            permitted,
            statements: AtomicUsize::new(0),
        });
        let queue: Arc<dyn Queue> = Arc::clone(&stub) as Arc<dyn Queue>;
        (stub, queue)
    }

    async fn settle(v: &Vacuums) {
        while v.running.as_ref().is_some_and(|t| !t.is_finished()) {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_vacuum_starts_every_n_acknowledgements() {
        let (stub, queue) = stub(true);
        let name = QueueName::new("jobs").expect("valid");
        let mut v = Vacuums::new(Some(2));
        v.acknowledged(1, &queue, &name);
        assert!(v.running.is_none());
        v.acknowledged(2, &queue, &name);
        settle(&v).await;
        v.acknowledged(3, &queue, &name);
        settle(&v).await;
        assert_eq!(
            stub.statements.load(Ordering::SeqCst),
            2,
            "check and VACUUM once"
        );
        v.acknowledged(4, &queue, &name);
        assert_eq!(v.finish().await, 2);
        assert_eq!(stub.statements.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_vacuum_is_also_due_after_the_interval_once_enough_were_acknowledged() {
        let (stub, queue) = stub(true);
        let name = QueueName::new("jobs").expect("valid");
        let mut v = Vacuums::new(Some(10_000));
        v.acknowledged(INTERVAL_MIN, &queue, &name);
        assert!(v.running.is_none(), "not before the interval");
        tokio::time::advance(INTERVAL).await;
        v.acknowledged(INTERVAL_MIN - 1, &queue, &name);
        assert!(v.running.is_none(), "not with fewer than INTERVAL_MIN");
        v.acknowledged(INTERVAL_MIN, &queue, &name);
        settle(&v).await;
        assert_eq!(
            stub.statements.load(Ordering::SeqCst),
            2,
            "check and VACUUM"
        );
        // The interval starts again from that vacuum.
        v.acknowledged(2 * INTERVAL_MIN, &queue, &name);
        assert_eq!(v.finish().await, 1);
    }

    #[tokio::test]
    async fn a_refusal_turns_vacuuming_off_and_off_means_never() {
        let (stub, queue) = stub(false);
        let name = QueueName::new("jobs").expect("valid");
        let mut v = Vacuums::new(Some(1));
        v.acknowledged(1, &queue, &name);
        settle(&v).await;
        for acked in 2..10 {
            v.acknowledged(acked, &queue, &name);
        }
        assert_eq!(v.every, None);
        assert_eq!(v.finish().await, 0);
        assert_eq!(stub.statements.load(Ordering::SeqCst), 1, "only the check");

        let (stub, queue) = self::stub(true);
        let mut off = Vacuums::new(None);
        off.acknowledged(u64::MAX, &queue, &name);
        assert_eq!(off.finish().await, 0);
        assert_eq!(stub.statements.load(Ordering::SeqCst), 0);
    }
}
