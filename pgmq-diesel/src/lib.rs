#![doc = include_str!("../README.md")]

mod bind;
pub mod blocking;
mod decode;
mod error;
mod listen;
mod queue;

pub use blocking::DieselSyncConnQueue;
pub use queue::{DieselConnQueue, DieselQueue};

/// The core crate, re-exported: the `Queue` trait, options, types and errors.
pub use pgmq_core as core;
pub use pgmq_core::{Error, Result};

/// Everything most programs need: `use pgmq_diesel::prelude::*;`.
pub mod prelude {
    pub use crate::{DieselConnQueue, DieselQueue, DieselSyncConnQueue};
    pub use pgmq_core::prelude::*;
}
