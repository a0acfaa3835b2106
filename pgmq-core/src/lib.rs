#![doc = include_str!("../README.md")]

pub mod blocking;
mod error;
mod executor;
mod ext;
mod name;
mod options;
mod poll;
mod queue;
#[doc(hidden)]
/// Statement builders, exposed for the benchmark harness (its pgbench runs execute exactly
/// these statements). Not a stable API.
pub mod sql;
mod statement;
mod types;

pub use error::{BoxError, DbErrorKind, Error, Result};
pub use executor::Executor;
pub use ext::{QueueExt, POP_CLAIM};
pub use name::QueueName;
pub use options::{CreateOptions, ReadOptions, SendOptions, VisibleAt, MAX_BATCH, MAX_DELAY};
pub use queue::Queue;
pub use statement::{Cell, Param, Row, SqlType, Statement};
pub use types::{ArchivedMessage, Message, QueueInfo, QueueMetrics};

/// Re-exported so users name the same `chrono` and `serde_json` types the API uses.
pub use chrono;
pub use serde_json;

/// Everything most programs need: `use pgmq_core::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CreateOptions, Message, Queue, QueueExt, QueueName, ReadOptions, SendOptions, VisibleAt,
    };
}
