//! Per-queue settings ([`QueueAttributes`]), dead-letter policies and redrive options.
//!
//! Attributes live in this library's own table, `pgmq_rs.queue_attributes` (schema `pgmq_rs`,
//! which the pgmq extension never uses), one row per queue, removed with the queue. A queue
//! without a row, including one made by the extension, behaves exactly as without attributes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::options::MAX_DELAY;

/// Header naming the queue a dead letter came from.
pub const DEAD_LETTER_SOURCE: &str = "x-pgmq-dead-letter-source";
/// Header holding a dead letter's `msg_id` in its source queue.
pub const DEAD_LETTER_ORIGINAL_ID: &str = "x-pgmq-dead-letter-original-id";
/// Header holding how many times the message was received before it was dead-lettered.
pub const DEAD_LETTER_RECEIVE_COUNT: &str = "x-pgmq-dead-letter-receive-count";
/// Header holding when the message was dead-lettered (server clock, ISO 8601).
pub const DEAD_LETTER_AT: &str = "x-pgmq-dead-letter-at";
/// Header holding the message's original headers when they were not a JSON object (an
/// object's keys are kept as they are, beside the `x-pgmq-dead-letter-*` ones).
pub const DEAD_LETTER_ORIGINAL_HEADERS: &str = "x-pgmq-dead-letter-original-headers";

/// The longest archive retention accepted: 100 years.
pub const MAX_RETENTION: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// Where a message goes after too many receives, as SQS's redrive policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The dead-letter queue: an ordinary queue, not this one, and not one whose own
    /// dead-letter chain leads back here.
    pub queue: QueueName,
    /// How many times a message may be received. The read that would hand it out for the
    /// `max_receive_count + 1`-th time moves it to [`queue`](Self::queue) instead.
    pub max_receive_count: u32,
}

/// Per-queue settings. Every field is optional; `None` means "as without attributes".
///
/// Given at create time through [`CreateOptions::attributes`](crate::CreateOptions::attributes),
/// read with [`Queue::attributes`](crate::Queue::attributes) and replaced with
/// [`Queue::set_attributes`](crate::Queue::set_attributes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueueAttributes {
    /// The visibility timeout of a read that gives none (else 30 s), at most
    /// [`MAX_DELAY`](crate::MAX_DELAY).
    pub default_vt: Option<Duration>,
    /// The delay of a send that gives none (else none), at most
    /// [`MAX_DELAY`](crate::MAX_DELAY).
    pub default_delay: Option<Duration>,
    /// The largest message accepted, in bytes of its JSON text as Postgres renders `jsonb`
    /// (`octet_length(message::text)`). A larger send fails with
    /// [`Error::MessageTooLarge`] and writes nothing (for a batch, nothing of the batch).
    pub max_message_bytes: Option<u64>,
    /// How long archived messages are kept: [`Queue::trim_archive`](crate::Queue::trim_archive)
    /// deletes older ones. At most [`MAX_RETENTION`].
    pub archive_retention: Option<Duration>,
    /// The dead-letter policy.
    pub dead_letter: Option<DeadLetter>,
}

impl QueueAttributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the default visibility timeout.
    pub fn default_vt(mut self, vt: Duration) -> Self {
        self.default_vt = Some(vt);
        self
    }

    /// Set the default delay.
    pub fn default_delay(mut self, delay: Duration) -> Self {
        self.default_delay = Some(delay);
        self
    }

    /// Set the largest message accepted, in bytes.
    pub fn max_message_bytes(mut self, bytes: u64) -> Self {
        self.max_message_bytes = Some(bytes);
        self
    }

    /// Set the archive retention.
    pub fn archive_retention(mut self, retention: Duration) -> Self {
        self.archive_retention = Some(retention);
        self
    }

    /// Move messages to `queue` after `max_receive_count` receives.
    pub fn dead_letter(mut self, queue: QueueName, max_receive_count: u32) -> Self {
        self.dead_letter = Some(DeadLetter {
            queue,
            max_receive_count,
        });
        self
    }

    /// Checks every value that can be checked without the database, for `queue`.
    pub(crate) fn check(&self, queue: &QueueName) -> Result<()> {
        let span = |value: Option<Duration>, limit: Duration, argument| match value {
            Some(v) if v > limit => Err(Error::invalid(
                argument,
                format!("{v:?} is longer than the limit of {limit:?}"),
            )),
            _ => Ok(()),
        };
        span(self.default_vt, MAX_DELAY, "default visibility timeout")?;
        span(self.default_delay, MAX_DELAY, "default delay")?;
        span(self.archive_retention, MAX_RETENTION, "archive retention")?;
        match self.max_message_bytes {
            Some(0) => return Err(Error::invalid("maximum message size", "0 bytes")),
            Some(n) if i64::try_from(n).is_err() => {
                return Err(Error::invalid("maximum message size", format!("{n} bytes")))
            }
            _ => {}
        }
        if let Some(dl) = &self.dead_letter {
            if dl.max_receive_count == 0 {
                return Err(Error::invalid(
                    "maximum receive count",
                    "0; a message must be receivable at least once",
                ));
            }
            if &dl.queue == queue {
                return Err(Error::invalid(
                    "dead-letter queue",
                    format!("{queue} cannot be its own dead-letter queue"),
                ));
            }
        }
        Ok(())
    }
}

/// A redrive's progress: called with the number of messages moved so far, after each chunk.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Options for [`Queue::redrive`](crate::Queue::redrive).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RedriveOptions {
    /// Move to this queue; `None` (the default) moves each dead letter back to the queue it
    /// came from (its [`DEAD_LETTER_SOURCE`] header), leaving those without one.
    pub to: Option<QueueName>,
    /// Move at most this many; `None` moves all.
    pub max: Option<u64>,
    /// Move at most this many per second; `None` for no limit.
    pub per_second: Option<u32>,
    /// Messages per chunk (each chunk its own transaction), 1 to
    /// [`MAX_BATCH`](crate::MAX_BATCH). Default 100.
    pub chunk: usize,
    /// Called after each chunk with the total moved so far.
    pub progress: Option<Progress>,
}

impl RedriveOptions {
    /// Every dead letter back to its source, in chunks of 100, without a rate limit.
    pub fn new() -> Self {
        Self {
            chunk: 100,
            ..Self::default()
        }
    }

    /// Move to `queue` instead of each message's source.
    pub fn to(mut self, queue: QueueName) -> Self {
        self.to = Some(queue);
        self
    }

    /// Move at most `max` messages.
    pub fn max(mut self, max: u64) -> Self {
        self.max = Some(max);
        self
    }

    /// Move at most `n` messages per second.
    pub fn per_second(mut self, n: u32) -> Self {
        self.per_second = Some(n);
        self
    }

    /// Move `n` messages per chunk.
    pub fn chunk(mut self, n: usize) -> Self {
        self.chunk = n;
        self
    }

    /// Call `progress` with the total moved after each chunk.
    pub fn progress(mut self, progress: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }
}

impl fmt::Debug for RedriveOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedriveOptions")
            .field("to", &self.to)
            .field("max", &self.max)
            .field("per_second", &self.per_second)
            .field("chunk", &self.chunk)
            .field("progress", &self.progress.as_ref().map(|_| "callback"))
            .finish()
    }
}
