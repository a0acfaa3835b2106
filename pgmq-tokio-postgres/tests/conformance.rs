//! The shared conformance suite on tokio-postgres: a deadpool pool, a pool of one connection,
//! and transactions opened on the pool's connections.

use std::time::Duration;

use async_trait::async_trait;
use pgmq_conformance::{TransactionalBackend, TxBody, TxEnd};
use pgmq_core::{Error, Queue};
use pgmq_tokio_postgres::deadpool_postgres::{Manager, Pool, Runtime};
use pgmq_tokio_postgres::tokio_postgres::NoTls;
use pgmq_tokio_postgres::{TokioPostgresConnQueue, TokioPostgresQueue};

async fn pool(url: String) -> pgmq_core::Result<TokioPostgresQueue> {
    TokioPostgresQueue::connect(&url).await
}

async fn small_pool(url: String, wait: Duration) -> pgmq_core::Result<TokioPostgresQueue> {
    let config = url.parse().map_err(Error::driver)?;
    let pool = Pool::builder(Manager::new(config, NoTls))
        .max_size(1)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .build()
        .map_err(Error::driver)?;
    Ok(TokioPostgresQueue::new(pool))
}

struct Backend(TokioPostgresQueue);

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
        let tx = conn.transaction().await.map_err(Error::driver)?;
        let queue = TokioPostgresConnQueue::new(tx);
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
