#![doc = include_str!("../README.md")]

pub mod adapter;
pub mod blocking;
mod checks;
mod decode;
mod error;
mod ext;
mod name;
mod ops;
mod options;
mod poll;
mod queue;
/// Statement builders, public only with the `unstable-sql` feature for the benchmark harness
/// (its pgbench runs execute exactly these statements). Not a stable API.
#[cfg(feature = "unstable-sql")]
#[doc(hidden)]
pub mod sql;
#[cfg(not(feature = "unstable-sql"))]
#[allow(unreachable_pub)]
mod sql;
mod types;

pub use error::{BoxError, DbErrorKind, Error, Result};
pub use ext::{QueueExt, POP_CLAIM};
pub use name::QueueName;
pub use options::{CreateOptions, ReadOptions, SendOptions, VisibleAt, MAX_BATCH, MAX_DELAY};
pub use queue::Queue;
pub use types::{ArchivedMessage, Message, QueueInfo, QueueMetrics};

/// Re-exported so users name the same `chrono` and `serde_json` types the API uses.
pub use chrono;
pub use serde_json;

/// Everything most programs need: `use pgmq_core::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CreateOptions, Error, Message, Queue, QueueExt, QueueName, ReadOptions, Result,
        SendOptions, VisibleAt,
    };
}
