//! The queue types: one on a pool, one on a connection or transaction.

use std::ops::DerefMut;
use std::sync::Arc;

use async_trait::async_trait;
use pgmq_core::adapter::{Executor, Listener, Liveness, Row, Statement};
use pgmq_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, PgExecutor};
use tokio::sync::Mutex;

use crate::listen::SqlxListener;
use crate::{bind, decode, error};

async fn run<'e>(executor: impl PgExecutor<'e>, statement: Statement) -> Result<Vec<Row>> {
    let columns = statement.columns;
    let rows = bind::query(statement)?
        .fetch_all(executor)
        .await
        .map_err(error::map)?;
    decode::rows(rows, columns)
}

async fn run_all(conn: &mut PgConnection, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
    // On a connection already inside a transaction, sqlx makes this a savepoint.
    let mut tx = conn.begin().await.map_err(error::map)?;
    let mut results = Vec::with_capacity(statements.len());
    for statement in statements {
        results.push(run(&mut *tx, statement).await?);
    }
    tx.commit().await.map_err(error::map)?;
    Ok(results)
}

/// A queue on an sqlx [`PgPool`]: each operation takes a connection from the pool.
///
/// Reads with a wait (and the worker) park on one listening connection per process,
/// opened with the pool's connect options outside the pool, instead of polling.
///
/// Cheap to clone. Every [`Queue`](pgmq_core::Queue) and [`QueueExt`](pgmq_core::QueueExt)
/// method is available (import them, or `pgmq_sqlx::prelude::*`).
#[derive(Clone, Debug)]
pub struct SqlxQueue {
    pool: PgPool,
    liveness: Liveness,
}

impl SqlxQueue {
    /// A queue on an existing pool.
    ///
    /// sqlx pools ping each connection before handing it out unless built with
    /// `PgPoolOptions::test_before_acquire(false)`; that ping is an extra round trip per queue
    /// operation. Queue operations report a broken connection as
    /// [`Error::Connection`](pgmq_core::Error::Connection) either way.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            liveness: Liveness::default(),
        }
    }

    /// Checks the process's listening connection for this database as `liveness` says
    /// instead of [`Liveness::default`] (60 s of quiet, 10 s to answer): shorter behind a
    /// NAT gateway or load balancer that forgets connections idle for less than a minute.
    /// The connection is shared by every queue of the process on the same database (and
    /// tokio runtime); the first one that waits sets it.
    #[must_use]
    pub fn with_liveness(mut self, liveness: Liveness) -> Self {
        self.liveness = liveness;
        self
    }

    /// Connects a new pool to `url` (`postgres://user:password@host:port/database`), with
    /// sqlx's defaults except that connections are not pinged before each use (see
    /// [`SqlxQueue::new`]).
    ///
    /// # Errors
    /// [`Error::Connection`](pgmq_core::Error::Connection) if Postgres cannot be reached.
    pub async fn connect(url: &str) -> Result<Self> {
        let options: PgConnectOptions = url.parse().map_err(error::map)?;
        // sqlx's pool retries a refused connection until its acquire timeout and then reports
        // only the timeout; one direct connection reports an unreachable server at once.
        PgConnection::connect_with(&options)
            .await
            .map_err(error::map)?
            .close()
            .await
            .map_err(error::map)?;
        let pool = PgPoolOptions::new()
            .test_before_acquire(false)
            .connect_lazy_with(options);
        Ok(Self::new(pool))
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl From<PgPool> for SqlxQueue {
    fn from(pool: PgPool) -> Self {
        Self::new(pool)
    }
}

#[async_trait]
impl Executor for SqlxQueue {
    fn listener(&self) -> Option<Arc<dyn Listener>> {
        let options = (*self.pool.connect_options()).clone();
        Some(Arc::new(SqlxListener {
            options,
            liveness: self.liveness,
        }))
    }

    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        match run(&self.pool, statement).await {
            Err(Error::PoolTimeout { .. }) => Err(error::pool_timeout(&self.pool).await),
            other => other,
        }
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        let mut conn = match self.pool.acquire().await {
            Ok(conn) => conn,
            Err(sqlx::Error::PoolTimedOut) => return Err(error::pool_timeout(&self.pool).await),
            Err(e) => return Err(error::map(e)),
        };
        run_all(&mut conn, statements).await
    }
}

/// A queue on one connection: a `&mut PgConnection`, a pooled connection, or a
/// [`sqlx::Transaction`], borrowed or owned.
///
/// On a transaction, every operation joins it: a message sent here appears only if the
/// transaction commits, and an acknowledgement made here is undone by a rollback. Operations
/// on one `SqlxConnQueue` run one at a time. Its reads with a wait poll (it has no listening
/// connection of its own).
///
/// ```no_run
/// use pgmq_sqlx::prelude::*;
///
/// # async fn demo(pool: sqlx::PgPool) -> pgmq_sqlx::Result<()> {
/// let orders = QueueName::new("orders")?;
/// let mut tx = pool.begin().await.map_err(|e| pgmq_sqlx::Error::Driver { source: e.into() })?;
/// // ... the application's own writes on `&mut *tx` ...
/// SqlxConnQueue::new(&mut *tx)
///     .send(&orders, &serde_json::json!({"order": 42}), SendOptions::new())
///     .await?;
/// tx.commit().await.map_err(|e| pgmq_sqlx::Error::Driver { source: e.into() })?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SqlxConnQueue<C> {
    conn: Mutex<C>,
}

impl<C> SqlxConnQueue<C>
where
    C: DerefMut<Target = PgConnection> + Send,
{
    /// A queue on `conn`.
    pub fn new(conn: C) -> Self {
        Self {
            conn: Mutex::new(conn),
        }
    }

    /// Gives the connection (or transaction) back, e.g. to commit it.
    pub fn into_inner(self) -> C {
        self.conn.into_inner()
    }
}

#[async_trait]
impl<C> Executor for SqlxConnQueue<C>
where
    C: DerefMut<Target = PgConnection> + Send,
{
    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        let mut conn = self.conn.lock().await;
        run(&mut **conn, statement).await
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        let mut conn = self.conn.lock().await;
        run_all(&mut conn, statements).await
    }
}
