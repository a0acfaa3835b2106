//! The shared conformance suite on sqlx: a pool, a pool of one connection, and transactions
//! opened on the pool.

use std::time::Duration;

use async_trait::async_trait;
use pgmq_conformance::{TransactionalBackend, TxBody, TxEnd};
use pgmq_core::{Error, Queue};
use pgmq_sqlx::{SqlxConnQueue, SqlxQueue};
use sqlx::postgres::PgPoolOptions;

async fn pool(url: String) -> pgmq_core::Result<SqlxQueue> {
    SqlxQueue::connect(&url).await
}

async fn small_pool(url: String, wait: Duration) -> pgmq_core::Result<SqlxQueue> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(wait)
        .connect_lazy(&url)
        .map_err(Error::driver)?;
    Ok(SqlxQueue::new(pool))
}

struct Backend(SqlxQueue);

async fn transactional(url: String) -> pgmq_core::Result<Backend> {
    Ok(Backend(pool(url).await?))
}

#[async_trait]
impl TransactionalBackend for Backend {
    fn queue(&self) -> &dyn Queue {
        &self.0
    }

    async fn transaction(&self, body: TxBody<'_>) -> pgmq_core::Result<()> {
        let tx = self.0.pool().begin().await.map_err(Error::driver)?;
        let queue = SqlxConnQueue::new(tx);
        let end = body(&queue, &self.0).await;
        let tx = queue.into_inner();
        match end {
            TxEnd::Commit => tx.commit().await,
            TxEnd::Rollback => tx.rollback().await,
        }
        .map_err(Error::driver)
    }
}

pgmq_conformance::conformance_tests! {
    queue: pool,
    pool: small_pool,
    transactions: transactional,
}
