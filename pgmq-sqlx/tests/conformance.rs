//! The shared conformance suite on sqlx: a pool, and transactions opened on it.

use async_trait::async_trait;
use pgmq_conformance::{TransactionQueue, TransactionalBackend};
use pgmq_core::{Error, Queue};
use pgmq_sqlx::{SqlxConnQueue, SqlxQueue};
use sqlx::{PgPool, Postgres, Transaction};

async fn pool(url: String) -> pgmq_core::Result<SqlxQueue> {
    SqlxQueue::connect(&url).await
}

struct Backend(SqlxQueue);

async fn transactional(url: String) -> pgmq_core::Result<Backend> {
    Ok(Backend(pool(url).await?))
}

struct Tx(SqlxConnQueue<Transaction<'static, Postgres>>);

#[async_trait]
impl TransactionalBackend for Backend {
    fn queue(&self) -> &dyn Queue {
        &self.0
    }

    async fn begin(&self) -> pgmq_core::Result<Box<dyn TransactionQueue + '_>> {
        let tx = PgPool::begin(self.0.pool()).await.map_err(driver)?;
        Ok(Box::new(Tx(SqlxConnQueue::new(tx))))
    }
}

#[async_trait]
impl TransactionQueue for Tx {
    fn queue(&self) -> &dyn Queue {
        &self.0
    }

    async fn commit(self: Box<Self>) -> pgmq_core::Result<()> {
        self.0.into_inner().commit().await.map_err(driver)
    }

    async fn rollback(self: Box<Self>) -> pgmq_core::Result<()> {
        self.0.into_inner().rollback().await.map_err(driver)
    }
}

fn driver(e: sqlx::Error) -> Error {
    Error::Driver { source: e.into() }
}

pgmq_conformance::conformance_tests! {
    queue: pool,
    transactions: transactional,
}
