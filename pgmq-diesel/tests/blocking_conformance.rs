//! The shared conformance suite on the blocking twin: a synchronous `diesel::PgConnection`
//! per case, driven through `spawn_blocking`, and transactions opened on a connection of their
//! own.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::{Connection, PgConnection};
use pgmq_conformance::{SpawnBlocking, TransactionQueue, TransactionalBackend};
use pgmq_core::blocking::BlockingExecutor;
use pgmq_core::{Error, Queue, Row, Statement};
use pgmq_diesel::blocking::{self, BlockingQueue, DieselSync};

async fn establish(url: String) -> pgmq_core::Result<PgConnection> {
    tokio::task::spawn_blocking(move || PgConnection::establish(&url))
        .await
        .map_err(driver)?
        .map_err(driver)
}

/// Connects through the crate's own `blocking::connect`, so connection failures are mapped
/// by the adapter.
async fn queue(url: String) -> pgmq_core::Result<SpawnBlocking<DieselSync<PgConnection>>> {
    let queue = tokio::task::spawn_blocking(move || blocking::connect(&url))
        .await
        .map_err(driver)??;
    Ok(SpawnBlocking::new(queue))
}

struct Backend {
    queue: SpawnBlocking<DieselSync<PgConnection>>,
    url: String,
}

async fn transactional(url: String) -> pgmq_core::Result<Backend> {
    Ok(Backend {
        queue: queue(url.clone()).await?,
        url,
    })
}

/// A connection the test keeps a handle on, to commit or roll back after the queue used it.
/// Each statement runs through the crate's own [`DieselSync`] on the borrowed connection.
#[derive(Clone)]
struct Shared(Arc<Mutex<PgConnection>>);

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut PgConnection) -> T) -> T {
        f(&mut self.0.lock().expect("connection lock"))
    }
}

impl BlockingExecutor for Shared {
    fn query(&mut self, statement: Statement) -> pgmq_core::Result<Vec<Row>> {
        self.with(|conn| DieselSync::new(conn).query(statement))
    }

    fn query_atomic(&mut self, statements: Vec<Statement>) -> pgmq_core::Result<Vec<Vec<Row>>> {
        self.with(|conn| DieselSync::new(conn).query_atomic(statements))
    }
}

struct Tx {
    queue: SpawnBlocking<Shared>,
    conn: Shared,
}

impl Tx {
    async fn finish(
        self,
        end: fn(&mut PgConnection) -> diesel::QueryResult<()>,
    ) -> pgmq_core::Result<()> {
        let conn = self.conn;
        tokio::task::spawn_blocking(move || conn.with(end))
            .await
            .map_err(driver)?
            .map_err(driver)
    }
}

#[async_trait]
impl TransactionalBackend for Backend {
    fn queue(&self) -> &dyn Queue {
        &self.queue
    }

    async fn begin(&self) -> pgmq_core::Result<Box<dyn TransactionQueue + '_>> {
        let mut conn = establish(self.url.clone()).await?;
        AnsiTransactionManager::begin_transaction(&mut conn).map_err(driver)?;
        let conn = Shared(Arc::new(Mutex::new(conn)));
        Ok(Box::new(Tx {
            queue: SpawnBlocking::new(BlockingQueue::new(conn.clone())),
            conn,
        }))
    }
}

#[async_trait]
impl TransactionQueue for Tx {
    fn queue(&self) -> &dyn Queue {
        &self.queue
    }

    async fn commit(self: Box<Self>) -> pgmq_core::Result<()> {
        self.finish(AnsiTransactionManager::commit_transaction)
            .await
    }

    async fn rollback(self: Box<Self>) -> pgmq_core::Result<()> {
        self.finish(AnsiTransactionManager::rollback_transaction)
            .await
    }
}

fn driver(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Driver { source: e.into() }
}

pgmq_conformance::conformance_tests! {
    queue: queue,
    transactions: transactional,
}
