//! The blocking twin: every queue operation on a plain synchronous [`diesel::PgConnection`],
//! including inside [`Connection::transaction`].
//!
//! [`DieselSync`] is the [`BlockingExecutor`]; core's [`BlockingQueue`] turns it into the
//! queue API, with the same behaviour as the async [`Queue`](pgmq_core::Queue) (it runs the
//! same code). No async runtime is involved.
//!
//! ```no_run
//! use diesel::{Connection, PgConnection};
//! use pgmq_diesel::prelude::*;
//!
//! # fn demo() -> Result<(), pgmq_diesel::core::BoxError> {
//! let mut conn = PgConnection::establish("postgres://postgres@localhost/postgres")?;
//! let orders = QueueName::new("orders")?;
//! pgmq_diesel::blocking::queue(&mut conn).create(&orders, CreateOptions::new())?;
//! conn.transaction::<_, pgmq_diesel::core::BoxError, _>(|conn| {
//!     // ... the application's own writes on `conn` ...
//!     pgmq_diesel::blocking::queue(conn).send(&orders, &42, SendOptions::new())?;
//!     Ok(())
//! })?;
//! # Ok(())
//! # }
//! ```

use std::borrow::BorrowMut;

use diesel::connection::TransactionManager;
use diesel::{Connection, PgConnection, RunQueryDsl};
pub use pgmq_core::blocking::{BlockingExecutor, BlockingQueue};
use pgmq_core::{Result, Row, Statement};

use crate::decode::AnyRow;
use crate::{bind, decode, error};

fn run(conn: &mut PgConnection, statement: Statement) -> Result<Vec<Row>> {
    let columns = statement.columns;
    let query = bind::query(statement)?;
    if columns.is_empty() {
        // Rows nobody reads: count them (a `SELECT`'s count is its row count) and skip decoding.
        let n = query.execute(conn).map_err(error::map)?;
        return Ok(vec![Vec::new(); n]);
    }
    let rows = query.load::<AnyRow>(conn).map_err(error::map)?;
    decode::rows(rows, columns)
}

/// Runs statements on a synchronous diesel [`PgConnection`], owned or borrowed (`&mut`).
///
/// A [`BlockingExecutor`]: wrap it in a [`BlockingQueue`] (or call [`queue`]) for the queue
/// API. On a connection inside a transaction every operation joins it.
pub struct DieselSync<C> {
    conn: C,
}

impl<C> DieselSync<C>
where
    C: BorrowMut<PgConnection> + Send,
{
    /// Runs statements on `conn`.
    pub fn new(conn: C) -> Self {
        Self { conn }
    }

    /// Gives the connection back.
    pub fn into_inner(self) -> C {
        self.conn
    }
}

impl<C> std::fmt::Debug for DieselSync<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselSync").finish_non_exhaustive()
    }
}

impl<C> BlockingExecutor for DieselSync<C>
where
    C: BorrowMut<PgConnection> + Send,
{
    fn query(&mut self, statement: Statement) -> Result<Vec<Row>> {
        run(self.conn.borrow_mut(), statement)
    }

    fn query_atomic(&mut self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        // The same steps as the async side. Inside the caller's transaction diesel's
        // transaction manager makes this a savepoint.
        type Tm = <PgConnection as Connection>::TransactionManager;
        let conn = self.conn.borrow_mut();
        Tm::begin_transaction(conn).map_err(error::map)?;
        let mut results = Vec::with_capacity(statements.len());
        for statement in statements {
            match run(conn, statement) {
                Ok(rows) => results.push(rows),
                Err(failed) => {
                    let rollback = Tm::rollback_transaction(conn);
                    return Err(error::after_rollback(failed, rollback));
                }
            }
        }
        Tm::commit_transaction(conn).map_err(error::map)?;
        Ok(results)
    }
}

/// The blocking queue on `conn`: a `PgConnection` or a `&mut PgConnection` (such as the one
/// [`Connection::transaction`] hands its closure).
pub fn queue<C>(conn: C) -> BlockingQueue<DieselSync<C>>
where
    C: BorrowMut<PgConnection> + Send,
{
    BlockingQueue::new(DieselSync::new(conn))
}

/// Opens a connection to `url` (`postgres://user:password@host:port/database`) and returns
/// the blocking queue on it.
///
/// # Errors
/// [`Error::Connection`](pgmq_core::Error::Connection) if Postgres cannot be reached.
pub fn connect(url: &str) -> Result<BlockingQueue<DieselSync<PgConnection>>> {
    PgConnection::establish(url)
        .map(queue)
        .map_err(error::connection)
}
