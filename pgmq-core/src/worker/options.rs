//! [`WorkerOptions`]: how a [`Worker`](super::Worker) reads, runs and acknowledges.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::grouped::GroupOrder;
use crate::options::{checked_millis, MAX_BATCH, MAX_DELAY};

/// How a [`Worker`](super::Worker) acknowledges a message whose handler succeeded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AckMode {
    /// Delete it ([`delete_receipts`](crate::Queue::delete_receipts)). The default.
    #[default]
    Delete,
    /// Move it to the archive ([`archive_receipts`](crate::Queue::archive_receipts)).
    Archive,
}

/// How a [`Worker`](super::Worker) reads, runs and acknowledges. Every field has a default;
/// [`Worker::new`](super::Worker::new) checks them.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// The most messages one read asks for, 1 to [`MAX_BATCH`]. Default 10. A read never
    /// asks for more than the free handler slots plus the [`read_ahead`](Self::read_ahead).
    pub batch_size: usize,
    /// The most handlers running at once, 1 to [`MAX_BATCH`]. Default 10.
    pub concurrency: usize,
    /// How many messages the worker may hold claimed beyond its running handlers, 0 to
    /// [`MAX_BATCH`], at most [`concurrency`](Self::concurrency) in effect. Default 10.
    ///
    /// Reading ahead lets a handler slot that frees start the next message at once, instead of
    /// waiting a round trip for the read that refills it: with short handlers that wait is a
    /// large share of each slot's time (see the W8 workload in BENCHMARKS.md). A message read
    /// ahead is claimed like a running one: its claim is extended by the heartbeat, and at
    /// shutdown it is handled within the [`grace`](Self::grace) period like the handlers in
    /// flight (or, past it, made visible again at once). The cost: messages read ahead are
    /// not available to other consumers meanwhile, and each read counts a receive. With
    /// slow handlers and several workers, a small value (or 0) spreads work more evenly.
    pub read_ahead: usize,
    /// The visibility timeout of each read, at least [`MIN_VT`](Self::MIN_VT) and at most
    /// [`MAX_DELAY`]. Default 30 s. A handler still running after about a third of it has its
    /// claim extended by this much, every third of it, as long as it runs.
    pub vt: Duration,
    /// Delete or archive on success. Default [`AckMode::Delete`].
    pub ack_mode: AckMode,
    /// How long acknowledgements gather before they go out as one statement, at most
    /// [`MAX_ACK_INTERVAL`](Self::MAX_ACK_INTERVAL). Default 5 ms.
    pub ack_interval: Duration,
    /// A failed message's first retry waits about this long (between half of it and all of
    /// it); each later receive doubles it. Default 1 s.
    pub backoff_base: Duration,
    /// The longest backoff, at most [`MAX_DELAY`]. Default 5 min.
    pub backoff_max: Duration,
    /// How long handlers still running at shutdown, and the messages read ahead (which
    /// start as slots free), may take to finish, at most [`MAX_DELAY`]. Default 30 s.
    pub grace: Duration,
    /// How long to wait before reading again when a read found nothing, at most
    /// [`MAX_DELAY`]. Default 250 ms.
    pub poll_interval: Duration,
    /// Handle each message group's messages one after another, in order: read with
    /// [`GroupOrder::Heads`] (at most one message per group, and none of a group whose
    /// earlier message is still held), so no two handlers of one group ever run at once, in
    /// this worker or any other grouped reader, while different groups run side by side. A
    /// failed message keeps its group waiting until its backoff ends, then comes first. The
    /// queue needs its FIFO index
    /// ([`Queue::create_fifo_index`](crate::Queue::create_fifo_index)), else every read
    /// fails and the worker stops with that error. Default `false`: plain reads.
    ///
    /// (The other strategies hand out several messages of one group in one read, which a
    /// worker would run at once; they suit consumers that handle a batch in order.)
    pub by_group: bool,
    /// Vacuum the queue table ([`Queue::vacuum`](crate::Queue::vacuum)) after this many
    /// acknowledged messages (processed plus failed) since the worker's last vacuum, at
    /// least 1, and also 5 s after the last one once 100 (or `n`, if fewer) were. Default
    /// `Some(10_000)`; `None` ([`without_vacuum`](Self::without_vacuum)): leave it to
    /// autovacuum, which looks at a table at most once a minute (`autovacuum_naptime`).
    ///
    /// Besides removing dead rows, a vacuum refreshes the row estimate the planner uses for
    /// the claim: one taken while the queue was empty can make a later backlog's claims
    /// fetch and sort every visible message until the next one (see `docs/churn.md`); the
    /// 5 s bound keeps that short.
    ///
    /// Each worker counts its own messages and runs at most one vacuum at a time, in a
    /// task of its own that reads never wait for; a vacuum that finds the table locked by
    /// another (or by autovacuum) skips it. A role that may not vacuum the table
    /// ([`VacuumOutcome::NotPermitted`](crate::VacuumOutcome::NotPermitted), e.g. the
    /// application role of `docs/least-privilege.md`) turns this off for the rest of the
    /// run; a failed vacuum is tried again at the next threshold. Both are logged (with the
    /// `tracing` feature). Vacuums that ran are counted in
    /// [`WorkerSummary::vacuums`](super::WorkerSummary::vacuums).
    pub vacuum_every: Option<u64>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            batch_size: 10,
            concurrency: 10,
            read_ahead: 10,
            vt: Duration::from_secs(30),
            ack_mode: AckMode::Delete,
            ack_interval: Duration::from_millis(5),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            grace: Duration::from_secs(30),
            poll_interval: Duration::from_millis(250),
            by_group: false,
            vacuum_every: Some(Self::DEFAULT_VACUUM_EVERY),
        }
    }
}

impl WorkerOptions {
    /// The shortest [`vt`](Self::vt): 100 ms.
    pub const MIN_VT: Duration = Duration::from_millis(100);
    /// The longest [`ack_interval`](Self::ack_interval): 1 s.
    pub const MAX_ACK_INTERVAL: Duration = Duration::from_secs(1);

    /// The default of [`vacuum_every`](Self::vacuum_every): 10 000 messages.
    pub const DEFAULT_VACUUM_EVERY: u64 = 10_000;

    /// The defaults (see each field).
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the [`batch_size`](Self::batch_size).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Set the [`concurrency`](Self::concurrency).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Set the [`read_ahead`](Self::read_ahead); 0 reads only for free handler slots.
    pub fn read_ahead(mut self, n: usize) -> Self {
        self.read_ahead = n;
        self
    }

    /// Set the visibility timeout, [`vt`](Self::vt).
    pub fn vt(mut self, vt: Duration) -> Self {
        self.vt = vt;
        self
    }

    /// Set the [`ack_mode`](Self::ack_mode).
    pub fn ack_mode(mut self, mode: AckMode) -> Self {
        self.ack_mode = mode;
        self
    }

    /// Set the [`ack_interval`](Self::ack_interval).
    pub fn ack_interval(mut self, interval: Duration) -> Self {
        self.ack_interval = interval;
        self
    }

    /// Set the backoff of failed messages: [`backoff_base`](Self::backoff_base) and
    /// [`backoff_max`](Self::backoff_max).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// Set the shutdown [`grace`](Self::grace) period.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Handle each message group in order, one message at a time (see
    /// [`by_group`](Self::by_group)).
    pub fn by_group(mut self) -> Self {
        self.by_group = true;
        self
    }

    /// Vacuum the queue table after every `n` acknowledged messages (see
    /// [`vacuum_every`](Self::vacuum_every)).
    pub fn vacuum_every(mut self, n: u64) -> Self {
        self.vacuum_every = Some(n);
        self
    }

    /// Never vacuum the queue table: leave it to autovacuum (see
    /// [`vacuum_every`](Self::vacuum_every)).
    pub fn without_vacuum(mut self) -> Self {
        self.vacuum_every = None;
        self
    }

    /// Set the [`poll_interval`](Self::poll_interval).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The most messages the worker holds claimed: its handlers plus those read ahead.
    pub(super) fn max_held(&self) -> usize {
        self.concurrency + self.read_ahead.min(self.concurrency)
    }

    /// The read this worker makes for at most `qty` messages.
    pub(super) fn read(&self, qty: usize) -> crate::ReadOptions {
        let read = crate::ReadOptions::new().qty(qty).vt(self.vt);
        if self.by_group {
            read.grouped(GroupOrder::Heads)
        } else {
            read
        }
    }

    pub(super) fn check(&self) -> Result<()> {
        for (argument, n) in [
            ("batch_size", self.batch_size),
            ("concurrency", self.concurrency),
        ] {
            if n == 0 || n > MAX_BATCH {
                return Err(Error::invalid(
                    argument,
                    format!("{n} is outside 1..={MAX_BATCH}"),
                ));
            }
        }
        if self.read_ahead > MAX_BATCH {
            let reason = format!("{} is outside 0..={MAX_BATCH}", self.read_ahead);
            return Err(Error::invalid("read_ahead", reason));
        }
        if self.vt < Self::MIN_VT || self.vt > MAX_DELAY {
            let reason = format!("{:?} is outside 100 ms..=365 days", self.vt);
            return Err(Error::invalid("visibility timeout", reason));
        }
        if self.ack_interval > Self::MAX_ACK_INTERVAL {
            let reason = format!("{:?} is longer than the limit of 1 s", self.ack_interval);
            return Err(Error::invalid("ack interval", reason));
        }
        if self.backoff_max > MAX_DELAY || self.backoff_base > self.backoff_max {
            let reason = format!(
                "base {:?} and maximum {:?}: the base must not exceed the maximum, \
                 nor the maximum 365 days",
                self.backoff_base, self.backoff_max
            );
            return Err(Error::invalid("backoff", reason));
        }
        checked_millis(self.grace, "grace")?;
        checked_millis(self.poll_interval, "poll interval")?;
        if self.vacuum_every == Some(0) {
            return Err(Error::invalid("vacuum_every", "0 is less than 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_out_of_range_are_invalid_arguments() {
        assert!(WorkerOptions::new().check().is_ok());
        assert!(WorkerOptions::new().vacuum_every(1).check().is_ok());
        assert!(WorkerOptions::new().without_vacuum().check().is_ok());
        assert!(WorkerOptions::new().read_ahead(0).check().is_ok());
        let bad = [
            (WorkerOptions::new().batch_size(0), "batch_size"),
            (
                WorkerOptions::new().concurrency(MAX_BATCH + 1),
                "concurrency",
            ),
            (
                WorkerOptions::new().vt(Duration::from_millis(99)),
                "visibility timeout",
            ),
            (
                WorkerOptions::new().vt(MAX_DELAY + Duration::from_secs(1)),
                "visibility timeout",
            ),
            (
                WorkerOptions::new().ack_interval(Duration::from_secs(2)),
                "ack interval",
            ),
            (
                WorkerOptions::new().backoff(Duration::from_secs(2), Duration::from_secs(1)),
                "backoff",
            ),
            (WorkerOptions::new().vacuum_every(0), "vacuum_every"),
            (WorkerOptions::new().read_ahead(MAX_BATCH + 1), "read_ahead"),
        ];
        for (options, expected) in bad {
            match options.check() {
                Err(Error::InvalidArgument { argument, .. }) => assert_eq!(argument, expected),
                other => panic!("{options:?}: expected InvalidArgument({expected}), got {other:?}"),
            }
        }
    }
}
