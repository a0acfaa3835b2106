//! [`QueueExt`]: typed messages and single-id conveniences for every [`Queue`].

use async_trait::async_trait;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::options::{CreateOptions, ReadOptions, SendOptions, VisibleAt};
use crate::queue::Queue;
use crate::receipt::{Fence, Receipt};
use crate::routing::TopicDelivery;
use crate::topic::RoutingKey;
use crate::types::Message;

/// How long a typed [`pop`](QueueExt::pop) holds messages between claiming and deleting them.
pub const POP_CLAIM: Duration = Duration::from_secs(30);

fn to_json<T: Serialize + ?Sized>(message: &T) -> Result<serde_json::Value> {
    serde_json::to_value(message).map_err(|source| Error::Serialize { source })
}

/// Typed messages and single-id conveniences, built only from [`Queue`]'s methods and
/// implemented for every `Queue` (including `dyn Queue`). Not meant to be implemented by hand:
/// a wrapper that decorates `Queue` sees every call made through here.
#[async_trait]
pub trait QueueExt: Queue {
    /// Creates an `UNLOGGED` queue if missing.
    async fn create_unlogged(&self, queue: &QueueName) -> Result<()> {
        self.create(queue, CreateOptions::unlogged()).await
    }

    /// Serializes `message` to JSON and sends it; returns its id.
    ///
    /// # Errors
    /// [`Error::Serialize`] if `message` cannot be represented as JSON; nothing is written.
    async fn send<T>(&self, queue: &QueueName, message: &T, options: SendOptions) -> Result<i64>
    where
        T: Serialize + Sync + ?Sized,
    {
        self.send_json(queue, to_json(message)?, options).await
    }

    /// Serializes every message, then sends them all in one statement. One message that fails
    /// to serialize means nothing is written.
    async fn send_batch<T>(
        &self,
        queue: &QueueName,
        messages: &[T],
        options: SendOptions,
    ) -> Result<Vec<i64>>
    where
        T: Serialize + Sync,
    {
        let json = messages.iter().map(to_json).collect::<Result<Vec<_>>>()?;
        self.send_batch_json(queue, json, options).await
    }

    /// Serializes `message` and sends it to every queue `key` reaches (see
    /// [`Queue::send_topic_json`]); returns how many queues that was.
    async fn send_topic<T>(
        &self,
        key: &RoutingKey,
        message: &T,
        options: SendOptions,
    ) -> Result<usize>
    where
        T: Serialize + Sync + ?Sized,
    {
        self.send_topic_json(key, to_json(message)?, options).await
    }

    /// Serializes every message, then sends them all to every queue `key` reaches in one
    /// statement (see [`Queue::send_batch_topic_json`]). One message that fails to serialize
    /// means nothing is written.
    async fn send_batch_topic<T>(
        &self,
        key: &RoutingKey,
        messages: &[T],
        options: SendOptions,
    ) -> Result<Vec<TopicDelivery>>
    where
        T: Serialize + Sync,
    {
        let json = messages.iter().map(to_json).collect::<Result<Vec<_>>>()?;
        self.send_batch_topic_json(key, json, options).await
    }

    /// Reads messages (see [`Queue::read_json`]) and deserializes them into `T`.
    ///
    /// # Errors
    /// [`Error::Deserialize`] naming the first message that does not match `T`. Nothing is
    /// lost: that message stays in the queue and becomes visible again when its visibility
    /// timeout ends (as if its consumer had failed), and the other messages of the read are
    /// made visible again at once.
    async fn read<T>(&self, queue: &QueueName, options: ReadOptions) -> Result<Vec<Message<T>>>
    where
        T: DeserializeOwned + Send,
    {
        let messages = self.read_json(queue, options).await?;
        typed_or_release(self, queue, messages).await
    }

    /// Reads up to `qty` messages as `T` and deletes them.
    ///
    /// The messages are claimed for [`POP_CLAIM`], deserialized, then deleted, so a message
    /// that does not match `T` is never lost: it fails with [`Error::Deserialize`] and stays
    /// in the queue exactly as with [`read`](Self::read). (For an atomic claim-and-delete of
    /// raw JSON, use [`Queue::pop_json`].)
    async fn pop<T>(&self, queue: &QueueName, qty: usize) -> Result<Vec<Message<T>>>
    where
        T: DeserializeOwned + Send,
    {
        let options = ReadOptions::new().vt(POP_CLAIM).qty(qty);
        let messages = self.read_json(queue, options).await?;
        let typed = typed_or_release(self, queue, messages).await?;
        let ids: Vec<i64> = typed.iter().map(|m| m.msg_id).collect();
        self.delete_batch(queue, &ids).await?;
        Ok(typed)
    }

    /// Moves one message's visibility; returns it updated, or `None` if it does not exist.
    ///
    /// Unfenced (pgmq compatible): it acts even if another reader has got the message since.
    /// [`set_vt_receipt`](Self::set_vt_receipt) acts only for the reader that still holds it.
    async fn set_vt(
        &self,
        queue: &QueueName,
        msg_id: i64,
        vt: VisibleAt,
    ) -> Result<Option<Message>> {
        Ok(self.set_vt_batch(queue, &[msg_id], vt).await?.pop())
    }

    /// Deletes one message; returns whether it existed.
    ///
    /// Unfenced (pgmq compatible): it deletes the message even if another reader has got it
    /// since. [`delete_receipt`](Self::delete_receipt) acts only for the reader that still
    /// holds it.
    async fn delete(&self, queue: &QueueName, msg_id: i64) -> Result<bool> {
        Ok(!self.delete_batch(queue, &[msg_id]).await?.is_empty())
    }

    /// Archives one message; returns whether it existed.
    ///
    /// Unfenced (pgmq compatible): it archives the message even if another reader has got it
    /// since. [`archive_receipt`](Self::archive_receipt) acts only for the reader that still
    /// holds it.
    async fn archive(&self, queue: &QueueName, msg_id: i64) -> Result<bool> {
        Ok(!self.archive_batch(queue, &[msg_id]).await?.is_empty())
    }

    /// Deletes the message `receipt` names if nobody has read it since; see
    /// [`Queue::delete_receipts`]. [`Fence::Stale`] (not an error) when someone has, or when
    /// the message no longer exists.
    async fn delete_receipt(&self, queue: &QueueName, receipt: Receipt) -> Result<Fence> {
        only(
            self.delete_receipts(queue, &[receipt]).await?,
            "delete_receipts",
        )
    }

    /// Archives the message `receipt` names if nobody has read it since; see
    /// [`Queue::archive_receipts`]. [`Fence::Stale`] (not an error) when someone has, or when
    /// the message no longer exists.
    async fn archive_receipt(&self, queue: &QueueName, receipt: Receipt) -> Result<Fence> {
        only(
            self.archive_receipts(queue, &[receipt]).await?,
            "archive_receipts",
        )
    }

    /// Moves the visibility of the message `receipt` names if nobody has read it since; see
    /// [`Queue::set_vt_receipts`]. Returns the message updated, or `None` when the receipt is
    /// stale. The receipt stays current (a visibility change is not a read), so a long
    /// handler extends its claim with it and then acknowledges with it.
    async fn set_vt_receipt(
        &self,
        queue: &QueueName,
        receipt: Receipt,
        vt: VisibleAt,
    ) -> Result<Option<Message>> {
        only(
            self.set_vt_receipts(queue, &[receipt], vt).await?,
            "set_vt_receipts",
        )
    }
}

/// The one answer to a one-receipt call of `operation`; a backend that answered with some
/// other number broke the contract, reported as [`Error::Decode`].
fn only<T>(mut answers: Vec<T>, operation: &str) -> Result<T> {
    let n = answers.len();
    match answers.pop() {
        Some(answer) if n == 1 => Ok(answer),
        _ => Err(Error::Decode {
            reason: format!("{operation}: one receipt got {n} answers"),
            source: None,
        }),
    }
}

impl<Q: Queue + ?Sized> QueueExt for Q {}

/// Deserializes every message; on the first failure, releases the others and reports it.
async fn typed_or_release<Q, T>(
    queue_impl: &Q,
    queue: &QueueName,
    messages: Vec<Message>,
) -> Result<Vec<Message<T>>>
where
    Q: Queue + ?Sized,
    T: DeserializeOwned,
{
    let ids: Vec<i64> = messages.iter().map(|m| m.msg_id).collect();
    let mut typed = Vec::with_capacity(messages.len());
    for message in messages {
        match message.deserialize() {
            Ok(t) => typed.push(t),
            Err(err) => {
                let bad = match &err {
                    Error::Deserialize { msg_id, .. } => *msg_id,
                    _ => return Err(err),
                };
                let others: Vec<i64> = ids.iter().copied().filter(|id| *id != bad).collect();
                // Best effort: if this fails the others still reappear when their timeout ends.
                let _ = queue_impl
                    .set_vt_batch(queue, &others, VisibleAt::now())
                    .await;
                return Err(err);
            }
        }
    }
    Ok(typed)
}
