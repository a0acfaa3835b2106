//! Messages, metrics and queue descriptions returned by the [`Queue`](crate::Queue).

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::receipt::Receipt;

/// A message read from a queue.
///
/// `T` is the payload type: [`serde_json::Value`] from the JSON methods of
/// [`Queue`](crate::Queue), your own type from [`QueueExt`](crate::QueueExt).
///
/// Fields may be added in later releases; a custom backend builds one with
/// [`Message::new`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message<T = Value> {
    /// The message's id, unique within its queue and increasing in send order.
    pub msg_id: i64,
    /// How many times the message has been read (0 until its first read).
    pub read_ct: i32,
    /// When the message was sent (server clock).
    pub enqueued_at: DateTime<Utc>,
    /// When the message was last read, if ever.
    pub last_read_at: Option<DateTime<Utc>>,
    /// When the message becomes (or became) visible to readers.
    pub vt: DateTime<Utc>,
    /// The payload.
    pub message: T,
    /// Headers sent with the message, if any.
    pub headers: Option<Value>,
}

impl<T> Message<T> {
    /// A message as a backend read it.
    pub fn new(
        msg_id: i64,
        read_ct: i32,
        enqueued_at: DateTime<Utc>,
        last_read_at: Option<DateTime<Utc>>,
        vt: DateTime<Utc>,
        message: T,
        headers: Option<Value>,
    ) -> Self {
        Self {
            msg_id,
            read_ct,
            enqueued_at,
            last_read_at,
            vt,
            message,
            headers,
        }
    }

    /// This read's [`Receipt`]: the message's id and the read count at which this reader got
    /// it. Acknowledging or extending with it (e.g.
    /// [`QueueExt::delete_receipt`](crate::QueueExt::delete_receipt)) acts only if nobody
    /// has read the message since.
    pub fn receipt(&self) -> Receipt {
        Receipt::new(self.msg_id, self.read_ct)
    }
}

impl Message<Value> {
    /// Deserializes the payload into `T`.
    ///
    /// # Errors
    /// [`Error::Deserialize`] naming this message's `msg_id`.
    pub fn deserialize<T: DeserializeOwned>(self) -> Result<Message<T>> {
        let msg_id = self.msg_id;
        let message = serde_json::from_value(self.message)
            .map_err(|source| Error::Deserialize { msg_id, source })?;
        Ok(Message {
            msg_id,
            read_ct: self.read_ct,
            enqueued_at: self.enqueued_at,
            last_read_at: self.last_read_at,
            vt: self.vt,
            message,
            headers: self.headers,
        })
    }
}

/// A message in a queue's archive (`pgmq.a_<name>`), with the time it was archived.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ArchivedMessage {
    /// The message as it was when archived.
    pub message: Message<Value>,
    /// When it was archived (server clock).
    pub archived_at: DateTime<Utc>,
}

/// A snapshot of one queue's size and age, as the pgmq extension's `metrics()` reports it.
///
/// Fields may be added in later releases; a custom backend builds one with
/// [`QueueMetrics::new`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueueMetrics {
    /// The queue's name.
    pub queue_name: String,
    /// Messages in the queue, visible or not.
    pub queue_length: i64,
    /// Messages that a read could return now.
    pub queue_visible_length: i64,
    /// Seconds since the newest message was sent; `None` when the queue is empty.
    pub newest_msg_age_sec: Option<i32>,
    /// Seconds since the oldest message was sent; `None` when the queue is empty.
    pub oldest_msg_age_sec: Option<i32>,
    /// Messages ever sent to the queue (including deleted and archived ones).
    pub total_messages: i64,
    /// When the snapshot was taken (server clock). Every count and age is measured at this
    /// one instant.
    pub scrape_time: DateTime<Utc>,
    /// Messages in flight: read and not yet visible again (SQS's
    /// `ApproximateNumberOfMessagesNotVisible`). Visible, in-flight and delayed messages add
    /// up to [`queue_length`](Self::queue_length).
    #[serde(default)]
    pub queue_in_flight_length: i64,
    /// Messages never read and not yet visible, such as those sent with a delay (SQS's
    /// `ApproximateNumberOfMessagesDelayed`).
    #[serde(default)]
    pub queue_delayed_length: i64,
    /// Seconds since the oldest visible message was sent; `None` when no message is visible.
    #[serde(default)]
    pub oldest_visible_msg_age_sec: Option<i32>,
    /// The queue's dead-letter queue, when one is set.
    #[serde(default)]
    pub dead_letter_queue: Option<String>,
    /// Messages in the dead-letter queue; `None` when no dead-letter queue is set.
    #[serde(default)]
    pub dead_letter_queue_length: Option<i64>,
}

/// A queue as listed in `pgmq.meta`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueueInfo {
    /// The queue's name.
    pub queue_name: String,
    /// When the queue was created.
    pub created_at: DateTime<Utc>,
    /// Whether the queue table is partitioned (only queues made by the extension's
    /// `create_partitioned` are).
    pub is_partitioned: bool,
    /// Whether the queue table is `UNLOGGED` (faster, emptied by a crash).
    pub is_unlogged: bool,
}

impl ArchivedMessage {
    /// An archived message as a backend read it.
    pub fn new(message: Message<Value>, archived_at: DateTime<Utc>) -> Self {
        Self {
            message,
            archived_at,
        }
    }
}

impl QueueMetrics {
    /// A snapshot as a backend measured it, with the extension's fields. The others start
    /// empty (no message in flight or delayed, no visible age, no dead-letter queue); fill
    /// them with [`with_counts`](Self::with_counts),
    /// [`with_oldest_visible_age`](Self::with_oldest_visible_age) and
    /// [`with_dead_letter_queue`](Self::with_dead_letter_queue).
    pub fn new(
        queue_name: String,
        queue_length: i64,
        queue_visible_length: i64,
        newest_msg_age_sec: Option<i32>,
        oldest_msg_age_sec: Option<i32>,
        total_messages: i64,
        scrape_time: DateTime<Utc>,
    ) -> Self {
        Self {
            queue_name,
            queue_length,
            queue_visible_length,
            newest_msg_age_sec,
            oldest_msg_age_sec,
            total_messages,
            scrape_time,
            queue_in_flight_length: 0,
            queue_delayed_length: 0,
            oldest_visible_msg_age_sec: None,
            dead_letter_queue: None,
            dead_letter_queue_length: None,
        }
    }

    /// Sets the messages in flight and the delayed ones.
    #[must_use]
    pub fn with_counts(mut self, in_flight: i64, delayed: i64) -> Self {
        self.queue_in_flight_length = in_flight;
        self.queue_delayed_length = delayed;
        self
    }

    /// Sets the age of the oldest visible message (`None`: no message is visible).
    #[must_use]
    pub fn with_oldest_visible_age(mut self, secs: Option<i32>) -> Self {
        self.oldest_visible_msg_age_sec = secs;
        self
    }

    /// Sets the dead-letter queue and how many messages it holds.
    #[must_use]
    pub fn with_dead_letter_queue(mut self, name: impl Into<String>, length: i64) -> Self {
        self.dead_letter_queue = Some(name.into());
        self.dead_letter_queue_length = Some(length);
        self
    }
}

impl QueueInfo {
    /// A queue as a backend listed it.
    pub fn new(
        queue_name: String,
        created_at: DateTime<Utc>,
        is_partitioned: bool,
        is_unlogged: bool,
    ) -> Self {
        Self {
            queue_name,
            created_at,
            is_partitioned,
            is_unlogged,
        }
    }
}
