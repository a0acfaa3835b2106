//! Option values for [`Queue`](crate::Queue) operations.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::attributes::QueueAttributes;
use crate::error::{Error, Result};
use crate::grouped::GroupOrder;
use crate::storage::StorageParams;

/// The most messages one call may send, read, pop or act on.
pub const MAX_BATCH: usize = 1000;

/// The longest visibility timeout or delay accepted: 365 days.
pub const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// When a message becomes visible: after a span from now (server clock), or at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VisibleAt {
    /// This long after the statement runs, at most [`MAX_DELAY`].
    After(Duration),
    /// At this instant. An instant in the past means "visible now".
    At(DateTime<Utc>),
}

impl VisibleAt {
    /// Visible `secs` seconds from now.
    pub fn secs(secs: u64) -> Self {
        Self::After(Duration::from_secs(secs))
    }

    /// Visible at once.
    pub fn now() -> Self {
        Self::After(Duration::ZERO)
    }

    /// Splits into the two statement parameters: milliseconds from now, or an instant.
    pub(crate) fn to_params(self, argument: &'static str) -> Result<(i64, Option<DateTime<Utc>>)> {
        match self {
            Self::After(span) => Ok((checked_millis(span, argument)?, None)),
            Self::At(at) => Ok((0, Some(at))),
        }
    }
}

impl From<Duration> for VisibleAt {
    fn from(span: Duration) -> Self {
        Self::After(span)
    }
}

impl From<DateTime<Utc>> for VisibleAt {
    fn from(at: DateTime<Utc>) -> Self {
        Self::At(at)
    }
}

/// A send's delay as statement parameters: `None` leaves it to the queue's default.
pub(crate) fn delay_params(
    delay: Option<VisibleAt>,
) -> Result<(Option<i64>, Option<DateTime<Utc>>)> {
    match delay {
        None => Ok((None, None)),
        Some(VisibleAt::After(span)) => Ok((Some(checked_millis(span, "delay")?), None)),
        Some(VisibleAt::At(at)) => Ok((None, Some(at))),
    }
}

/// A span in whole milliseconds, if it is within [`MAX_DELAY`].
pub(crate) fn checked_millis(span: Duration, argument: &'static str) -> Result<i64> {
    if span > MAX_DELAY {
        return Err(Error::invalid(
            argument,
            format!("{span:?} is longer than the limit of 365 days"),
        ));
    }
    // At most 365 days in milliseconds: far inside i64.
    Ok(i64::try_from(span.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn checked_qty(qty: usize, argument: &'static str) -> Result<i64> {
    if qty == 0 || qty > MAX_BATCH {
        return Err(Error::invalid(
            argument,
            format!("{qty} is outside 1..={MAX_BATCH}"),
        ));
    }
    Ok(qty as i64)
}

/// The throttle of a new queue's insert notifications: about one notifying transaction per
/// queue per this span while sends keep coming, at most two in any such span. Every
/// notifying commit takes a lock that serializes it with all other notifying commits of the
/// server, so one per send would cap concurrent senders; waiting readers cover the sends the
/// throttle leaves silent (see
/// [`Queue::readiness`](crate::Queue::readiness)).
pub const DEFAULT_NOTIFY_THROTTLE: Duration = Duration::from_millis(10);

/// Options for `create`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateOptions {
    /// Create the queue table `UNLOGGED`: faster writes, emptied by a crash or failover.
    pub unlogged: bool,
    /// Attributes to set when the queue is created (see
    /// [`Queue::set_attributes`](crate::Queue::set_attributes)); `None` leaves an existing
    /// queue's attributes as they are.
    pub attributes: Option<QueueAttributes>,
    /// Insert notifications with this throttle, so waiting readers wake on sends (see
    /// [`Queue::enable_notify_insert`](crate::Queue::enable_notify_insert)); given to a
    /// queue that has none yet (an existing queue's notifications stay as they are).
    /// Default: [`DEFAULT_NOTIFY_THROTTLE`]. `None`: no notifications (readers poll).
    pub notify_insert: Option<Duration>,
    /// Make the queue and its archive pg_partman-managed partitioned tables, as the pgmq
    /// extension's `pgmq.create_partitioned` does (see [`partitioned`](Self::partitioned)).
    /// `None` (the default): plain tables.
    pub partitioned: Option<crate::partitions::Partitioning>,
    /// Give a new queue the FIFO index that grouped reads
    /// ([`ReadOptions::grouped`]) need, as [`Queue::create_fifo_index`](crate::Queue::create_fifo_index)
    /// does for an existing one. Default `false`: the index makes every send and read of the
    /// queue write one more index entry (measured: about 2x the server's cost of an insert,
    /// 1.6x of a read's update), so only queues read by group should have it. The pgmq
    /// extension does not create it with the queue either.
    pub fifo_index: bool,
    /// Storage parameters for a new queue's tables (see [`StorageParams`]). Default
    /// [`StorageParams::churn`]: autovacuum tuned for a table that turns over all the time.
    /// `None` ([`without_storage_tuning`](Self::without_storage_tuning)): the server's
    /// defaults.
    ///
    /// Applied only when the queue is new (not yet in `pgmq.meta`), like the FIFO index:
    /// creating a queue that exists leaves its tables' parameters as they are, whatever
    /// this says; change those with [`Queue::set_storage`](crate::Queue::set_storage). A
    /// partitioned queue's parent tables cannot hold storage parameters (Postgres refuses
    /// them there), so each partition pg_partman made (its premade ones and its default
    /// partition) gets them, and so does pg_partman's template table of each parent, which
    /// pg_partman copies them from into the partitions that
    /// [`Queue::partition_maintenance`](crate::Queue::partition_maintenance) adds later.
    /// Invalid parameters fail the `create` with [`Error::InvalidArgument`] before any SQL;
    /// a value Postgres refuses fails it with its error, and nothing is created.
    pub storage: Option<StorageParams>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        Self {
            unlogged: false,
            attributes: None,
            notify_insert: Some(DEFAULT_NOTIFY_THROTTLE),
            partitioned: None,
            fifo_index: false,
            storage: Some(StorageParams::churn()),
        }
    }
}

impl CreateOptions {
    /// A logged queue with insert notifications and storage tuned for churn (the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert notifications about once per `throttle` while sends keep coming, at most twice
    /// in any `throttle` (`Duration::ZERO`: one per sending statement); see
    /// [`Queue::enable_notify_insert`](crate::Queue::enable_notify_insert).
    pub fn notify_insert(mut self, throttle: Duration) -> Self {
        self.notify_insert = Some(throttle);
        self
    }

    /// With the FIFO index that grouped reads need (see [`fifo_index`](Self::fifo_index)).
    pub fn with_fifo_index(mut self) -> Self {
        self.fifo_index = true;
        self
    }

    /// Give a new queue's tables these storage parameters (see [`storage`](Self::storage)).
    pub fn storage(mut self, params: StorageParams) -> Self {
        self.storage = Some(params);
        self
    }

    /// Leave a new queue's tables with the server's storage defaults (see
    /// [`storage`](Self::storage)).
    pub fn without_storage_tuning(mut self) -> Self {
        self.storage = None;
        self
    }

    /// No insert notifications: readers of this queue poll.
    pub fn without_notify_insert(mut self) -> Self {
        self.notify_insert = None;
        self
    }

    /// An `UNLOGGED` queue.
    pub fn unlogged() -> Self {
        Self {
            unlogged: true,
            ..Self::default()
        }
    }

    /// A queue partitioned by pg_partman, exactly as the extension's
    /// `pgmq.create_partitioned(name, interval, retention)` makes it: queue and archive split
    /// every `interval` (message ids, or time), partitions beyond `retention` dropped by
    /// [`Queue::partition_maintenance`](crate::Queue::partition_maintenance), and
    /// `is_partitioned` in `pgmq.meta`. Every operation works on it as on a plain queue.
    ///
    /// Needs pg_partman created in the database, else `create` fails with
    /// [`Error::PartmanUnavailable`]; an interval pg_partman refuses (under a second, …) is
    /// [`Error::InvalidArgument`] with its message, and so is an interval and retention of
    /// different kinds, or partitioned together with `unlogged`. Nothing is created then.
    /// Creating a queue that exists changes nothing, partitioned or not.
    pub fn partitioned(
        interval: crate::partitions::PartitionInterval,
        retention: crate::partitions::PartitionInterval,
    ) -> Self {
        Self {
            partitioned: Some(crate::partitions::Partitioning {
                interval,
                retention,
            }),
            ..Self::default()
        }
    }

    /// Set `attributes` when creating the queue. Creating a queue that exists replaces its
    /// attributes with these.
    pub fn attributes(mut self, attributes: QueueAttributes) -> Self {
        self.attributes = Some(attributes);
        self
    }
}

/// Options for `send` and `send_batch`: a delay and headers, applied to every message of
/// the call.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct SendOptions {
    /// When the messages become visible; `None` means after the queue's default delay
    /// ([`QueueAttributes::default_delay`]), else at once.
    pub delay: Option<VisibleAt>,
    /// Headers stored beside each message (any JSON; an object by convention). Headers a
    /// message could not hold either (U+0000 in a string or key, more than 127 levels of
    /// nesting) fail the send with `InvalidArgument("headers")` before any SQL.
    pub headers: Option<Value>,
}

impl SendOptions {
    /// The queue's default delay (else visible at once), no headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hide the messages for `secs` seconds.
    pub fn delay_secs(self, secs: u64) -> Self {
        self.delay(VisibleAt::secs(secs))
    }

    /// Hide the messages until `delay` (a span from now or an instant).
    pub fn delay(mut self, delay: impl Into<VisibleAt>) -> Self {
        self.delay = Some(delay.into());
        self
    }

    /// Store `headers` with each message.
    pub fn headers(mut self, headers: Value) -> Self {
        self.headers = Some(headers);
        self
    }
}

/// Options for `read`: visibility timeout, quantity, filter and wait.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// How long the messages stay invisible to other readers, at most [`MAX_DELAY`].
    /// `None` (the default): the queue's default visibility timeout
    /// ([`QueueAttributes::default_vt`]), else 30 s.
    pub vt: Option<Duration>,
    /// How many messages at most, 1 to [`MAX_BATCH`]. Default 1.
    pub qty: usize,
    /// Only messages whose JSON contains this value (Postgres' `@>`).
    pub filter: Option<Value>,
    /// Wait up to this long (at most [`MAX_DELAY`]) for a message when none is visible.
    /// Default: don't wait. On an executor that listens (a pool-backed queue), the read
    /// parks on the queue's insert notifications and runs no query until one arrives, the
    /// next delayed or in-flight message is due, or the wait ends.
    pub wait: Option<Duration>,
    /// How often to look again while waiting when the read cannot rely on notifications (no
    /// listener, a queue without notifications, a filter that leaves visible messages
    /// unclaimed), and the longest it parks while the queue holds messages not yet visible.
    /// At most [`MAX_DELAY`]. Default 100 ms.
    pub poll_interval: Duration,
    /// Deliver FIFO message groups ([`GROUP_HEADER`](crate::GROUP_HEADER)) in order, each to
    /// one reader at a time, filling the batch as this says (see
    /// [`grouped`](crate::grouped)). `None` (the default): a plain read, which ignores
    /// groups. With a `filter`, a group is served only from its oldest message on, while its
    /// messages match; a waiting grouped read whose groups are all blocked looks again every
    /// `poll_interval` (at most) while visible messages wait.
    pub grouped: Option<GroupOrder>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            vt: None,
            qty: 1,
            filter: None,
            wait: None,
            poll_interval: Duration::from_millis(100),
            grouped: None,
        }
    }
}

impl ReadOptions {
    /// One message, the queue's default visibility timeout (else 30 s), no filter, no wait.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks a read's `wait` and this poll interval against [`MAX_DELAY`], before anything
    /// adds them to the clock (the async and the blocking waiting reads alike).
    pub(crate) fn check_wait(&self, wait: Duration) -> Result<()> {
        checked_millis(wait, "wait")?;
        checked_millis(self.poll_interval, "poll interval")?;
        Ok(())
    }

    /// Set the visibility timeout.
    pub fn vt(mut self, vt: Duration) -> Self {
        self.vt = Some(vt);
        self
    }

    /// Set the visibility timeout in seconds.
    pub fn vt_secs(self, secs: u64) -> Self {
        self.vt(Duration::from_secs(secs))
    }

    /// Read up to `qty` messages.
    pub fn qty(mut self, qty: usize) -> Self {
        self.qty = qty;
        self
    }

    /// Return only messages whose JSON contains `filter`.
    pub fn filter(mut self, filter: Value) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Wait up to `wait` for messages to appear.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// Look again every `interval` while waiting.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Read FIFO message groups, filling the batch in `order` (see the field `grouped`).
    pub fn grouped(mut self, order: GroupOrder) -> Self {
        self.grouped = Some(order);
        self
    }
}
