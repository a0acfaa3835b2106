#![doc = include_str!("../README.md")]

pub mod adapter;
mod attributes;
pub mod blocking;
mod checks;
mod dead_letters;
mod decode;
mod error;
mod ext;
mod fenced;
mod fifo_index;
pub mod grouped;
mod listen;
mod name;
mod ops;
mod options;
mod outcomes;
mod partitions;
mod poll;
mod producer;
mod queue;
mod receipt;
mod routing;
mod run;
mod sending;
mod settings;
/// Statement builders, public only with the `unstable-sql` feature for the benchmark harness
/// (its pgbench runs execute exactly these statements). Not a stable API.
#[cfg(feature = "unstable-sql")]
#[doc(hidden)]
// Its docs are for maintainers and link to its private items; `cargo doc --workspace` turns
// this feature on (for the bench), which would make those links errors.
#[allow(rustdoc::private_intra_doc_links)]
pub mod sql;
#[cfg(not(feature = "unstable-sql"))]
#[allow(unreachable_pub)]
mod sql;
mod storage;
pub mod topic;
mod trace;
mod tuning;
mod types;
mod worker;

pub use attributes::{
    DeadLetter, Progress, QueueAttributes, RedriveOptions, DEAD_LETTER_AT,
    DEAD_LETTER_ORIGINAL_HEADERS, DEAD_LETTER_ORIGINAL_ID, DEAD_LETTER_RECEIVE_COUNT,
    DEAD_LETTER_SOURCE, MAX_RETENTION,
};
pub use error::{BoxError, DbErrorKind, Error, Result};
pub use ext::{QueueExt, POP_CLAIM};
pub use grouped::{GroupOrder, GROUP_HEADER};
pub use listen::{channel as notify_channel, Readiness, Subscription};
pub use name::QueueName;
pub use options::{
    CreateOptions, ReadOptions, SendOptions, VisibleAt, DEFAULT_NOTIFY_THROTTLE, MAX_BATCH,
    MAX_DELAY,
};
pub use partitions::{PartitionInfo, PartitionInterval, Partitioning};
pub use producer::{BatchingProducer, ProducerOptions};
pub use queue::Queue;
pub use receipt::{Fence, Receipt};
pub use routing::{TopicBinding, TopicDelivery};
pub use storage::{StorageParams, StorageValue, CHURN_ARCHIVE, CHURN_QUEUE_TABLE};
pub use topic::{RoutingKey, TopicPattern};
pub use tuning::{QueueStorage, VacuumOutcome};
pub use types::{ArchivedMessage, Message, QueueInfo, QueueMetrics};
pub use worker::{AckMode, Messages, Worker, WorkerOptions, WorkerSummary};

/// Re-exported so users name the same `chrono` and `serde_json` types the API uses.
pub use chrono;
pub use serde_json;

/// Everything most programs need: `use pgmq_core::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CreateOptions, Error, Fence, Message, Queue, QueueExt, QueueName, ReadOptions, Receipt,
        Result, SendOptions, VisibleAt,
    };
}
