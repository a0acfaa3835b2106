//! The shared conformance suite on diesel-async: a deadpool pool, and transactions opened on
//! pooled connections.

use async_trait::async_trait;
use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, TransactionManager};
use pgmq_conformance::{TransactionQueue, TransactionalBackend};
use pgmq_core::{Error, Queue};
use pgmq_diesel::{DieselConnQueue, DieselQueue};

async fn pool(url: String) -> pgmq_core::Result<DieselQueue> {
    DieselQueue::connect(&url).await
}

struct Backend(DieselQueue);

async fn transactional(url: String) -> pgmq_core::Result<Backend> {
    Ok(Backend(pool(url).await?))
}

struct Tx(DieselConnQueue<Object<AsyncPgConnection>>);

#[async_trait]
impl TransactionalBackend for Backend {
    fn queue(&self) -> &dyn Queue {
        &self.0
    }

    async fn begin(&self) -> pgmq_core::Result<Box<dyn TransactionQueue + '_>> {
        let mut conn = self.0.pool().get().await.map_err(driver)?;
        AnsiTransactionManager::begin_transaction(&mut *conn)
            .await
            .map_err(driver)?;
        Ok(Box::new(Tx(DieselConnQueue::new(conn))))
    }
}

#[async_trait]
impl TransactionQueue for Tx {
    fn queue(&self) -> &dyn Queue {
        &self.0
    }

    async fn commit(self: Box<Self>) -> pgmq_core::Result<()> {
        let mut conn = self.0.into_inner();
        AnsiTransactionManager::commit_transaction(&mut *conn)
            .await
            .map_err(driver)
    }

    async fn rollback(self: Box<Self>) -> pgmq_core::Result<()> {
        let mut conn = self.0.into_inner();
        AnsiTransactionManager::rollback_transaction(&mut *conn)
            .await
            .map_err(driver)
    }
}

fn driver(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Driver { source: e.into() }
}

pgmq_conformance::conformance_tests! {
    queue: pool,
    transactions: transactional,
}
