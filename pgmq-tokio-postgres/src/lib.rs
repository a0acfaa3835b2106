#![doc = include_str!("../README.md")]

mod bind;
mod decode;
mod error;
mod listen;
mod queue;

pub use queue::{AsClient, TokioPostgresConnQueue, TokioPostgresQueue};

/// The core crate, re-exported: the `Queue` trait, options, types and errors.
pub use pgmq_core as core;
pub use pgmq_core::{Error, Result};

/// The driver and pool this crate runs on, re-exported so their versions match.
pub use deadpool_postgres;
pub use tokio_postgres;

/// Everything most programs need: `use pgmq_tokio_postgres::prelude::*;`.
pub mod prelude {
    pub use crate::{TokioPostgresConnQueue, TokioPostgresQueue};
    pub use pgmq_core::prelude::*;
}
