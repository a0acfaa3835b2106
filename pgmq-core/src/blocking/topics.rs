//! Topic routing on the blocking twin: [`BlockingQueue`]'s side of
//! [`Queue::bind_topic`] and the rest.

use serde::Serialize;

use super::{block_on, BlockingExecutor, BlockingQueue};
use crate::error::Result;
use crate::ext::QueueExt;
use crate::name::QueueName;
use crate::options::SendOptions;
use crate::queue::Queue;
use crate::routing::{TopicBinding, TopicDelivery};
use crate::topic::{RoutingKey, TopicPattern};

impl<E: BlockingExecutor> BlockingQueue<E> {
    /// See [`Queue::bind_topic`].
    pub fn bind_topic(&self, pattern: &TopicPattern, queue: &QueueName) -> Result<()> {
        block_on(self.bridge.bind_topic(pattern, queue))
    }

    /// See [`Queue::unbind_topic`].
    pub fn unbind_topic(&self, pattern: &TopicPattern, queue: &QueueName) -> Result<bool> {
        block_on(self.bridge.unbind_topic(pattern, queue))
    }

    /// See [`Queue::topic_bindings`].
    pub fn topic_bindings(&self, queue: Option<&QueueName>) -> Result<Vec<TopicBinding>> {
        block_on(self.bridge.topic_bindings(queue))
    }

    /// See [`Queue::test_routing`].
    pub fn test_routing(&self, key: &RoutingKey) -> Result<Vec<TopicBinding>> {
        block_on(self.bridge.test_routing(key))
    }

    /// See [`QueueExt::send_topic`].
    pub fn send_topic<T>(
        &self,
        key: &RoutingKey,
        message: &T,
        options: SendOptions,
    ) -> Result<usize>
    where
        T: Serialize + Sync + ?Sized,
    {
        block_on(self.bridge.send_topic(key, message, options))
    }

    /// See [`QueueExt::send_batch_topic`].
    pub fn send_batch_topic<T>(
        &self,
        key: &RoutingKey,
        messages: &[T],
        options: SendOptions,
    ) -> Result<Vec<TopicDelivery>>
    where
        T: Serialize + Sync,
    {
        block_on(self.bridge.send_batch_topic(key, messages, options))
    }
}
