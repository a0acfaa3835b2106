//! The queue types: one on a deadpool pool, one on a client or transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, Object, Pool, QueueMode, Runtime, StatementCache};
use pgmq_core::adapter::{Executor, Listener, Liveness, Row, Statement};
use pgmq_core::Result;
use tokio::sync::Mutex;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, GenericClient, NoTls, Transaction};

use crate::listen::TokioPostgresListener;
use crate::{bind, decode, error};

/// How long [`TokioPostgresQueue::connect`]'s pool waits for a free or new connection; the
/// same as sqlx's default acquire timeout.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Prepared statements by SQL text, for a connection that has no cache of its own.
type Statements = HashMap<String, tokio_postgres::Statement>;

/// Where a persistent statement is prepared once and found again.
enum Prepared<'a> {
    /// deadpool's cache, which lives as long as the pooled connection.
    Pool(&'a StatementCache),
    /// A [`TokioPostgresConnQueue`]'s own cache, which lives as long as the queue.
    Own(&'a mut Statements),
}

impl<'a> Prepared<'a> {
    /// The connection's own cache when it has one, else `own`.
    fn new(shared: Option<&'a StatementCache>, own: &'a mut Statements) -> Self {
        shared.map_or(Self::Own(own), Self::Pool)
    }

    async fn get<G>(
        &mut self,
        client: &G,
        sql: &str,
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error>
    where
        G: GenericClient + Sync,
    {
        match self {
            Self::Pool(cache) => cache.prepare(client.client(), sql).await,
            Self::Own(cache) => {
                if let Some(statement) = cache.get(sql) {
                    return Ok(statement.clone());
                }
                let statement = client.prepare(sql).await?;
                cache.insert(sql.to_owned(), statement.clone());
                Ok(statement)
            }
        }
    }
}

async fn run<G>(client: &G, prepared: &mut Prepared<'_>, statement: Statement) -> Result<Vec<Row>>
where
    G: GenericClient + Sync,
{
    let Statement {
        sql,
        params,
        columns,
        persistent,
        ..
    } = statement;
    let bound = bind::params(params)?;
    let rows = if persistent {
        let values: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|(v, _)| v.as_ref() as _).collect();
        let statement = prepared.get(client, &sql).await.map_err(error::map)?;
        client.query(&statement, &values).await
    } else {
        // Parsed, bound and run in one round trip as the unnamed statement: nothing stays
        // prepared on the server.
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = bound
            .iter()
            .map(|(v, ty)| (v.as_ref() as _, ty.clone()))
            .collect();
        client.query_typed(&sql, &typed).await
    }
    .map_err(error::map)?;
    decode::rows(&rows, columns)
}

async fn run_all<G>(
    client: &mut G,
    prepared: &mut Prepared<'_>,
    statements: Vec<Statement>,
) -> Result<Vec<Vec<Row>>>
where
    G: GenericClient + Send + Sync,
{
    // On a `Transaction` this is a savepoint. Dropped on error, it rolls back.
    let tx = client.transaction().await.map_err(error::map)?;
    let mut results = Vec::with_capacity(statements.len());
    for statement in statements {
        results.push(run(&tx, prepared, statement).await?);
    }
    tx.commit().await.map_err(error::map)?;
    Ok(results)
}

/// A queue on a deadpool-postgres [`Pool`]: each operation takes a connection from the pool,
/// and statements are prepared once per pooled connection (deadpool's statement cache).
///
/// Cheap to clone. Every [`Queue`](pgmq_core::Queue) and [`QueueExt`](pgmq_core::QueueExt)
/// method is available (import them, or `pgmq_tokio_postgres::prelude::*`).
#[derive(Clone, Debug)]
pub struct TokioPostgresQueue {
    pool: Pool,
    /// Where waiting readers' listening connection goes; `None`: they poll.
    listen: Option<tokio_postgres::Config>,
    liveness: Liveness,
}

impl TokioPostgresQueue {
    /// A queue on an existing pool (built with whatever TLS and settings the application
    /// uses). Its reads with a wait poll, since a deadpool pool does not say how to open a
    /// connection of its own: give that with [`with_listener`](Self::with_listener).
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            listen: None,
            liveness: Liveness::default(),
        }
    }

    /// Lets waiting readers (reads with a wait, the worker) park on notifications received
    /// on one dedicated connection per process, opened with `config` (without TLS), instead
    /// of polling. [`connect`](Self::connect) does this itself.
    pub fn with_listener(mut self, config: tokio_postgres::Config) -> Self {
        self.listen = Some(config);
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

    /// Builds a pool for `url` (`postgres://user:password@host:port/database`, without TLS)
    /// and checks that it can connect. Taking a connection waits at most 30 seconds.
    ///
    /// The pool hands out the connection used most recently (deadpool's [`QueueMode::Lifo`];
    /// its default is the least recently used): a few busy server processes then serve most
    /// statements, with their caches warm, instead of every connection in turn. With 64
    /// waiting consumers in one process that took W5-wait from 73-83% to 84-100% of
    /// the best consumer count (BENCHMARKS.md, eleventh session). The connections used least
    /// then sit idle longest: behind something that closes idle connections, see
    /// `README.md`, Pools.
    ///
    /// # Errors
    /// [`Error::Connection`](pgmq_core::Error::Connection) if the URL is invalid or Postgres
    /// cannot be reached; [`Error::Database`](pgmq_core::Error::Database) if Postgres refuses
    /// the login.
    pub async fn connect(url: &str) -> Result<Self> {
        let config: tokio_postgres::Config = url.parse().map_err(error::map)?;
        let pool = Pool::builder(Manager::new(config.clone(), NoTls))
            .queue_mode(QueueMode::Lifo)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(ACQUIRE_TIMEOUT))
            .create_timeout(Some(ACQUIRE_TIMEOUT))
            .build()
            .map_err(error::build)?;
        drop(pool.get().await.map_err(error::pool)?);
        Ok(Self::new(pool).with_listener(config))
    }

    /// The pool, for the application's own queries and transactions.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

impl From<Pool> for TokioPostgresQueue {
    fn from(pool: Pool) -> Self {
        Self::new(pool)
    }
}

#[async_trait]
impl Executor for TokioPostgresQueue {
    fn listener(&self) -> Option<Arc<dyn Listener>> {
        let config = self.listen.clone()?;
        Some(Arc::new(TokioPostgresListener {
            config,
            liveness: self.liveness,
        }))
    }

    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        let conn = self.pool.get().await.map_err(error::pool)?;
        let client: &Client = &conn;
        run(
            client,
            &mut Prepared::Pool(&conn.statement_cache),
            statement,
        )
        .await
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        let mut conn = self.pool.get().await.map_err(error::pool)?;
        let cache = Arc::clone(&conn.statement_cache);
        let client: &mut Client = &mut conn;
        run_all(client, &mut Prepared::Pool(&cache), statements).await
    }
}

/// A connection a [`TokioPostgresConnQueue`] runs on: a tokio-postgres [`Client`] or [`Transaction`],
/// or a deadpool [`Object`] or [`deadpool_postgres::Transaction`], owned or as `&mut`.
pub trait AsClient: Send {
    /// The tokio-postgres client or transaction that statements run on.
    type Client: GenericClient + Send + Sync;

    /// The client or transaction that statements run on.
    fn as_client(&mut self) -> &mut Self::Client;

    /// The connection's own statement cache, when it has one (deadpool's, which outlives
    /// any queue). Without one, each [`TokioPostgresConnQueue`] keeps a cache of its own.
    fn statement_cache(&self) -> Option<Arc<StatementCache>> {
        None
    }
}

impl AsClient for Client {
    type Client = Client;

    fn as_client(&mut self) -> &mut Client {
        self
    }
}

impl<'a> AsClient for Transaction<'a> {
    type Client = Transaction<'a>;

    fn as_client(&mut self) -> &mut Transaction<'a> {
        self
    }
}

impl AsClient for Object {
    type Client = Client;

    fn as_client(&mut self) -> &mut Client {
        self
    }

    fn statement_cache(&self) -> Option<Arc<StatementCache>> {
        Some(Arc::clone(&self.statement_cache))
    }
}

impl<'a> AsClient for deadpool_postgres::Transaction<'a> {
    type Client = Transaction<'a>;

    fn as_client(&mut self) -> &mut Transaction<'a> {
        self
    }

    fn statement_cache(&self) -> Option<Arc<StatementCache>> {
        Some(Arc::clone(&self.statement_cache))
    }
}

impl<C: AsClient + ?Sized> AsClient for &mut C {
    type Client = C::Client;

    fn as_client(&mut self) -> &mut C::Client {
        (**self).as_client()
    }

    fn statement_cache(&self) -> Option<Arc<StatementCache>> {
        (**self).statement_cache()
    }
}

/// A queue on one connection: a tokio-postgres [`Client`] or [`Transaction`], or a deadpool
/// [`Object`] or [`deadpool_postgres::Transaction`], owned or as `&mut` (see [`AsClient`]).
///
/// On a transaction, every operation joins it: a message sent here appears only if the
/// transaction commits, and an acknowledgement made here is undone by a rollback. Operations
/// on one `TokioPostgresConnQueue` run one at a time. Statements are prepared once: in deadpool's
/// cache for a deadpool connection, otherwise in this queue's own cache, kept until the
/// queue is dropped.
///
/// ```no_run
/// use pgmq_tokio_postgres::prelude::*;
///
/// # async fn demo(queue: TokioPostgresQueue) -> Result<(), Box<dyn std::error::Error>> {
/// let orders = QueueName::new("orders")?;
/// let mut client = queue.pool().get().await?;
/// let mut tx = client.transaction().await?;
/// // ... the application's own writes on `tx` ...
/// TokioPostgresConnQueue::new(&mut tx)
///     .send(&orders, &serde_json::json!({"order": 42}), SendOptions::new())
///     .await?;
/// tx.commit().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TokioPostgresConnQueue<C> {
    state: Mutex<ClientState<C>>,
}

#[derive(Debug)]
struct ClientState<C> {
    conn: C,
    statements: Statements,
}

impl<C: AsClient> ClientState<C> {
    async fn query(&mut self, statement: Statement) -> Result<Vec<Row>> {
        let shared = self.conn.statement_cache();
        let mut prepared = Prepared::new(shared.as_deref(), &mut self.statements);
        run(self.conn.as_client(), &mut prepared, statement).await
    }

    async fn query_atomic(&mut self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        let shared = self.conn.statement_cache();
        let mut prepared = Prepared::new(shared.as_deref(), &mut self.statements);
        run_all(self.conn.as_client(), &mut prepared, statements).await
    }
}

impl<C: AsClient> TokioPostgresConnQueue<C> {
    /// A queue on `conn`.
    pub fn new(conn: C) -> Self {
        Self {
            state: Mutex::new(ClientState {
                conn,
                statements: Statements::new(),
            }),
        }
    }

    /// Gives the connection (or transaction) back, e.g. to commit it. Statements in this
    /// queue's own cache are closed.
    pub fn into_inner(self) -> C {
        self.state.into_inner().conn
    }
}

#[async_trait]
impl<C: AsClient> Executor for TokioPostgresConnQueue<C> {
    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        self.state.lock().await.query(statement).await
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        self.state.lock().await.query_atomic(statements).await
    }
}

#[cfg(test)]
mod tests {
    use pgmq_core::{CreateOptions, Queue, QueueExt, ReadOptions, SendOptions};

    use super::*;

    #[tokio::test]
    async fn a_client_queue_prepares_each_statement_once_and_ddl_never() {
        let url = pgmq_conformance::harness::database_url().expect("a Postgres to test against");
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        let queue = TokioPostgresConnQueue::new(client);
        let name = pgmq_conformance::unique_queue_name("tp_own_cache");
        queue
            .create(&name, CreateOptions::new())
            .await
            .expect("create");
        assert!(
            queue.state.lock().await.statements.is_empty(),
            "DDL was cached"
        );
        for n in 0..3 {
            queue
                .send(&name, &n, SendOptions::new())
                .await
                .expect("send");
            queue
                .read_json(&name, ReadOptions::new())
                .await
                .expect("read");
        }
        assert_eq!(
            queue.state.lock().await.statements.len(),
            2,
            "send and read, once each"
        );
        assert!(queue.drop_queue(&name).await.expect("drop"));
    }
}
