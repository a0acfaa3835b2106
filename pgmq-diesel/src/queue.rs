//! The async queue types: one on a deadpool pool, one on a connection or transaction.

use std::sync::Arc;

use async_trait::async_trait;
use diesel::pg::Pg;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, TransactionManager};
use pgmq_core::adapter::{Executor, Listener, Liveness, Row, Statement};
use pgmq_core::{Error, Result};
use tokio::sync::Mutex;

use crate::decode::AnyRow;
use crate::listen::DieselListener;
use crate::{bind, decode, error};

async fn run<Conn>(conn: &mut Conn, statement: Statement) -> Result<Vec<Row>>
where
    Conn: AsyncConnection<Backend = Pg> + Send,
{
    let columns = statement.columns;
    let query = bind::query(statement)?;
    if columns.is_empty() {
        // Rows nobody reads: count them (a `SELECT`'s count is its row count) and skip decoding.
        let n = query.execute(conn).await.map_err(error::map)?;
        return Ok(vec![Vec::new(); n]);
    }
    let rows = query.load::<AnyRow>(conn).await.map_err(error::map)?;
    decode::rows(rows, columns)
}

/// Runs `statements` all or nothing: what `AsyncConnection::transaction` does, spelled out
/// (its closure form cannot be proven `Send` for a generic connection type). Inside the
/// caller's transaction, diesel's transaction manager makes this a savepoint.
async fn run_all<Conn>(conn: &mut Conn, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>>
where
    Conn: AsyncConnection<Backend = Pg> + Send,
{
    Conn::TransactionManager::begin_transaction(conn)
        .await
        .map_err(error::map)?;
    let mut results = Vec::with_capacity(statements.len());
    for statement in statements {
        match run(conn, statement).await {
            Ok(rows) => results.push(rows),
            Err(failed) => {
                let rollback = Conn::TransactionManager::rollback_transaction(conn).await;
                return Err(error::after_rollback(failed, rollback));
            }
        }
    }
    Conn::TransactionManager::commit_transaction(conn)
        .await
        .map_err(error::map)?;
    Ok(results)
}

/// A queue on a diesel-async deadpool [`Pool`]: each operation takes a connection from the
/// pool.
///
/// Cheap to clone. Every [`Queue`](pgmq_core::Queue) and [`QueueExt`](pgmq_core::QueueExt)
/// method is available (import them, or `pgmq_diesel::prelude::*`).
#[derive(Clone)]
pub struct DieselQueue {
    pool: Pool<AsyncPgConnection>,
    /// Where waiting readers' listening connection goes; `None`: they poll.
    listen: Option<Arc<str>>,
    liveness: Liveness,
}

impl DieselQueue {
    /// A queue on an existing pool.
    ///
    /// diesel-async's pool manager verifies each connection with a query every time it hands
    /// one out, unless its `ManagerConfig` uses `RecyclingMethod::Fast`; that check is an extra
    /// round trip per queue operation. Queue operations report a broken connection as
    /// [`Error::Connection`] either way.
    ///
    /// Its reads with a wait poll, since the pool does not say how to open a connection of
    /// its own: give that with [`with_listener`](Self::with_listener).
    pub fn new(pool: Pool<AsyncPgConnection>) -> Self {
        Self {
            pool,
            listen: None,
            liveness: Liveness::default(),
        }
    }

    /// Lets waiting readers (reads with a wait, the worker) park on notifications received
    /// on one dedicated connection per process, opened to `url`, instead of polling.
    /// [`connect`](Self::connect) does this itself.
    pub fn with_listener(mut self, url: &str) -> Self {
        self.listen = Some(Arc::from(url));
        self
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

    /// Builds a pool with deadpool's default settings for `url`
    /// (`postgres://user:password@host:port/database`), recycling connections without a
    /// check query (see [`DieselQueue::new`]) and handing out the one used most recently,
    /// and checks that it can connect.
    ///
    /// Most recently used first (deadpool's `QueueMode::Lifo`; its default is the least
    /// recently used): a few busy server processes then serve most statements, with their
    /// caches warm, instead of every connection in turn. With 64 waiting consumers in one
    /// process that took W5-wait from 73-83% to 84-100% of the best consumer count
    /// (BENCHMARKS.md, eleventh session). The connections used least then sit idle longest:
    /// behind something that closes idle connections, see `README.md`, Pools.
    ///
    /// # Errors
    /// [`Error::Connection`] if Postgres cannot be reached.
    pub async fn connect(url: &str) -> Result<Self> {
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Fast;
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .queue_mode(deadpool::managed::QueueMode::Lifo)
            .build()
            .map_err(|e| Error::Driver {
                source: Box::new(e),
            })?;
        drop(pool.get().await.map_err(error::pool)?);
        Ok(Self::new(pool).with_listener(url))
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &Pool<AsyncPgConnection> {
        &self.pool
    }
}

impl From<Pool<AsyncPgConnection>> for DieselQueue {
    fn from(pool: Pool<AsyncPgConnection>) -> Self {
        Self::new(pool)
    }
}

impl std::fmt::Debug for DieselQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselQueue")
            .field("pool", &self.pool.status())
            .field("listens", &self.listen.is_some())
            .finish()
    }
}

#[async_trait]
impl Executor for DieselQueue {
    fn listener(&self) -> Option<Arc<dyn Listener>> {
        let url = Arc::clone(self.listen.as_ref()?);
        Some(Arc::new(DieselListener {
            url,
            liveness: self.liveness,
        }))
    }

    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        let mut conn = self.pool.get().await.map_err(error::pool)?;
        run(&mut conn, statement).await
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        let mut conn = self.pool.get().await.map_err(error::pool)?;
        run_all(&mut conn, statements).await
    }
}

/// A queue on one diesel-async Postgres connection, owned or borrowed: an
/// `AsyncPgConnection`, a `&mut AsyncPgConnection`, a pooled connection, or the `&mut` one
/// that [`AsyncConnection::transaction`] hands its closure.
///
/// Inside a transaction every operation joins it: a message sent here appears only if the
/// transaction commits, and an acknowledgement made here is undone by a rollback. Operations
/// on one `DieselConnQueue` run one at a time.
///
/// ```no_run
/// use diesel_async::{AsyncConnection, AsyncPgConnection};
/// use pgmq_diesel::prelude::*;
///
/// # async fn demo(conn: &mut AsyncPgConnection) -> Result<(), pgmq_diesel::core::BoxError> {
/// let orders = QueueName::new("orders")?;
/// conn.transaction::<_, pgmq_diesel::core::BoxError, _>(async |conn| {
///     // ... the application's own writes on `conn` ...
///     DieselConnQueue::new(conn)
///         .send(&orders, &serde_json::json!({"order": 42}), SendOptions::new())
///         .await?;
///     Ok(())
/// })
/// .await?;
/// # Ok(())
/// # }
/// ```
pub struct DieselConnQueue<C> {
    conn: Mutex<C>,
}

impl<C> DieselConnQueue<C>
where
    C: AsyncConnection<Backend = Pg> + Send,
{
    /// A queue on `conn`.
    pub fn new(conn: C) -> Self {
        Self {
            conn: Mutex::new(conn),
        }
    }

    /// Gives the connection back.
    pub fn into_inner(self) -> C {
        self.conn.into_inner()
    }
}

impl<C> std::fmt::Debug for DieselConnQueue<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselConnQueue").finish_non_exhaustive()
    }
}

#[async_trait]
impl<C> Executor for DieselConnQueue<C>
where
    C: AsyncConnection<Backend = Pg> + Send,
{
    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        let mut conn = self.conn.lock().await;
        run(&mut conn, statement).await
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        let mut conn = self.conn.lock().await;
        run_all(&mut conn, statements).await
    }
}
