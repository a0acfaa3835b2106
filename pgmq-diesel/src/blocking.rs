//! The blocking twin: every queue operation on a plain synchronous [`diesel::PgConnection`],
//! including inside [`Connection::transaction`].
//!
//! [`DieselSyncConnQueue`] is the queue; [`DieselSync`] is the [`BlockingExecutor`] under
//! it, which core's [`BlockingQueue`] turns into the queue API with the same behaviour as the
//! async [`Queue`](pgmq_core::Queue) (it runs the same code). No async runtime is involved.
//!
//! ```no_run
//! use diesel::{Connection, PgConnection};
//! use pgmq_diesel::prelude::*;
//!
//! # fn demo() -> Result<(), pgmq_diesel::core::BoxError> {
//! let mut conn = PgConnection::establish("postgres://postgres@localhost/postgres")?;
//! let orders = QueueName::new("orders")?;
//! DieselSyncConnQueue::new(&mut conn).create(&orders, CreateOptions::new())?;
//! conn.transaction::<_, pgmq_diesel::core::BoxError, _>(|conn| {
//!     // ... the application's own writes on `conn` ...
//!     DieselSyncConnQueue::new(conn).send(&orders, &42, SendOptions::new())?;
//!     Ok(())
//! })?;
//! # Ok(())
//! # }
//! ```

use std::borrow::BorrowMut;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::{Connection, PgConnection, RunQueryDsl};
use pgmq_core::adapter::{Row, Statement};
pub use pgmq_core::blocking::{BlockingExecutor, BlockingQueue};
use pgmq_core::Result;

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
/// A [`BlockingExecutor`]: [`DieselSyncConnQueue`] wraps it in a [`BlockingQueue`] for the
/// queue API. On a connection inside a transaction every operation joins it.
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

    fn listen(&mut self, channel: &str) -> Result<bool> {
        let conn = self.conn.borrow_mut();
        let depth = AnsiTransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()
            .map_err(error::map)?;
        if depth.is_some() {
            // Inside the caller's transaction a LISTEN waits for its commit: poll instead.
            return Ok(false);
        }
        conn.batch_execute(&format!("LISTEN {}", quoted(channel)))
            .map_err(error::map)?;
        Ok(true)
    }

    fn unlisten(&mut self, channel: &str) -> Result<()> {
        let conn = self.conn.borrow_mut();
        conn.batch_execute(&format!("UNLISTEN {}", quoted(channel)))
            .map_err(error::map)?;
        for notification in conn.notifications_iter() {
            notification.map_err(error::map)?;
        }
        Ok(())
    }

    fn notified(&mut self) -> Result<bool> {
        let mut any = false;
        for notification in self.conn.borrow_mut().notifications_iter() {
            notification.map_err(error::map)?;
            any = true;
        }
        Ok(any)
    }
}

/// The blocking queue on a synchronous diesel [`PgConnection`]: a `PgConnection` or a
/// `&mut PgConnection` (such as the one [`Connection::transaction`] hands its closure).
///
/// Every blocking queue operation ([`BlockingQueue`]'s methods: `create`, `send`, `read`,
/// `delete`, …) is called on it directly; on a connection inside a transaction every
/// operation joins it.
pub struct DieselSyncConnQueue<C = PgConnection>(BlockingQueue<DieselSync<C>>);

impl<C> DieselSyncConnQueue<C>
where
    C: BorrowMut<PgConnection> + Send,
{
    /// A queue on `conn`.
    pub fn new(conn: C) -> Self {
        Self(BlockingQueue::new(DieselSync::new(conn)))
    }

    /// Gives the connection back.
    pub fn into_inner(self) -> C {
        self.0.into_inner().into_inner()
    }
}

impl DieselSyncConnQueue<PgConnection> {
    /// Opens a connection to `url` (`postgres://user:password@host:port/database`) and
    /// returns the queue on it.
    ///
    /// # Errors
    /// [`Error::Connection`](pgmq_core::Error::Connection) if Postgres cannot be reached.
    pub fn connect(url: &str) -> Result<Self> {
        PgConnection::establish(url)
            .map(Self::new)
            .map_err(error::connection)
    }
}

impl<C> std::ops::Deref for DieselSyncConnQueue<C> {
    type Target = BlockingQueue<DieselSync<C>>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<C> From<DieselSyncConnQueue<C>> for BlockingQueue<DieselSync<C>> {
    fn from(queue: DieselSyncConnQueue<C>) -> Self {
        queue.0
    }
}

impl<C> std::fmt::Debug for DieselSyncConnQueue<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselSyncConnQueue")
            .finish_non_exhaustive()
    }
}

/// `channel` as a quoted identifier.
fn quoted(channel: &str) -> String {
    format!("\"{}\"", channel.replace('"', "\"\""))
}
