//! The checks, one `pub async fn` per behaviour. Each takes the backend under test, works on
//! its own uniquely named queue, and panics with a message saying what broke.

mod ack;
mod attributes;
mod dead_letters;
mod errors;
mod forged;
mod grouped;
mod grouped_readers;
mod hostile;
mod hostile_names;
mod lifecycle;
mod metrics;
mod partitions;
mod peek;
mod producer;
mod read;
mod receipts;
mod send;
mod storage;
mod topic_checks;
mod topics;
mod transactions;
mod waiting;
mod worker;

pub use ack::*;
pub use attributes::*;
pub use dead_letters::*;
pub use errors::*;
pub use forged::*;
pub use grouped::*;
pub use grouped_readers::*;
pub use hostile::*;
pub use hostile_names::*;
pub use lifecycle::*;
pub use metrics::*;
pub use partitions::*;
pub use peek::*;
pub use producer::*;
pub use read::*;
pub use receipts::*;
pub use send::*;
pub use storage::*;
pub use topic_checks::*;
pub use topics::*;
pub use transactions::*;
pub use waiting::*;
pub use worker::*;

use pgmq_core::{Error, Queue, QueueName};

pub(crate) use crate::fresh_queue as fresh;

/// Drops a queue at the end of a case.
pub(crate) async fn cleanup(q: &dyn Queue, name: &QueueName) {
    q.drop_queue(name)
        .await
        .unwrap_or_else(|e| panic!("drop {name}: {e:?}"));
}

/// A queue name that was never created.
pub(crate) fn missing(tag: &str) -> QueueName {
    crate::unique_queue_name(tag)
}

pub(crate) fn assert_not_found<T: std::fmt::Debug>(
    result: pgmq_core::Result<T>,
    queue: &QueueName,
) {
    match result {
        Err(Error::QueueNotFound { queue: q }) => assert_eq!(q, queue.as_str()),
        other => panic!("expected QueueNotFound for {queue}, got {other:?}"),
    }
}

pub(crate) fn assert_invalid<T: std::fmt::Debug>(result: pgmq_core::Result<T>, argument: &str) {
    match result {
        Err(Error::InvalidArgument { argument: a, .. }) => assert_eq!(a, argument),
        other => panic!("expected InvalidArgument({argument}), got {other:?}"),
    }
}

pub(crate) async fn length(q: &dyn Queue, name: &QueueName) -> i64 {
    q.metrics(name).await.expect("metrics").queue_length
}
