//! The shared conformance suite on diesel-async: a deadpool pool, a pool of one connection,
//! and transactions opened on pooled connections.

use std::time::Duration;

use async_trait::async_trait;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, TransactionManager};
use pgmq_conformance::{TransactionalBackend, TxBody, TxEnd};
use pgmq_core::{Error, Queue};
use pgmq_diesel::{DieselConnQueue, DieselQueue};

async fn pool(url: String) -> pgmq_core::Result<DieselQueue> {
    DieselQueue::connect(&url).await
}

async fn small_pool(url: String, wait: Duration) -> pgmq_core::Result<DieselQueue> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
    let pool = Pool::builder(manager)
        .max_size(1)
        .wait_timeout(Some(wait))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(Error::driver)?;
    Ok(DieselQueue::new(pool))
}

struct Backend(DieselQueue);

async fn transactional(url: String) -> pgmq_core::Result<Backend> {
    Ok(Backend(pool(url).await?))
}

#[async_trait]
impl TransactionalBackend for Backend {
    fn queue(&self) -> &dyn Queue {
        &self.0
    }

    async fn transaction(&self, body: TxBody<'_>) -> pgmq_core::Result<()> {
        let mut conn = self.0.pool().get().await.map_err(Error::driver)?;
        AnsiTransactionManager::begin_transaction(&mut *conn)
            .await
            .map_err(Error::driver)?;
        let queue = DieselConnQueue::new(conn);
        let end = body(&queue, &self.0).await;
        let mut conn = queue.into_inner();
        match end {
            TxEnd::Commit => AnsiTransactionManager::commit_transaction(&mut *conn).await,
            TxEnd::Rollback => AnsiTransactionManager::rollback_transaction(&mut *conn).await,
        }
        .map_err(Error::driver)
    }
}

pgmq_conformance::conformance_tests! {
    queue: pool,
    pool: small_pool,
    transactions: transactional,
}
