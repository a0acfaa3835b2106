#![doc = include_str!("../README.md")]

mod bind;
mod decode;
mod error;
mod listen;
mod queue;

pub use queue::{SqlxConnQueue, SqlxQueue};

/// The core crate, re-exported: the `Queue` trait, options, types and errors.
pub use pgmq_core as core;
pub use pgmq_core::{Error, Result};

/// Everything most programs need: `use pgmq_sqlx::prelude::*;`.
pub mod prelude {
    pub use crate::{SqlxConnQueue, SqlxQueue};
    pub use pgmq_core::prelude::*;
}
