//! [`Executor`]: the whole of what a driver adapter implements.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::statement::{Row, Statement};

/// Runs statements that core built. This is all an adapter crate implements; every
/// [`Executor`] is a [`Queue`](crate::Queue) through a blanket implementation.
///
/// An implementation binds [`Statement::params`] in order, runs [`Statement::sql`] (prepared
/// and cached per connection when [`Statement::persistent`] is set), decodes each column by
/// [`Statement::columns`] into a [`Cell`](crate::Cell), and maps driver failures with
/// [`Error::from_database`](crate::Error::from_database),
/// [`Error::Connection`](crate::Error::Connection) or
/// [`Error::PoolTimeout`](crate::Error::PoolTimeout). Nothing else: no SQL, no retries, no
/// validation.
#[async_trait]
pub trait Executor: Send + Sync {
    /// Runs one statement and returns its rows.
    async fn query(&self, statement: Statement) -> Result<Vec<Row>>;

    /// Runs `statements` in order on one connection, all or nothing: in a new transaction, or
    /// in a savepoint when the connection is already inside the caller's transaction.
    /// Returns each statement's rows.
    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>>;

    /// Pauses between the polls of a read with a wait. The default sleeps on the tokio
    /// timer; the blocking bridge sleeps the thread.
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
