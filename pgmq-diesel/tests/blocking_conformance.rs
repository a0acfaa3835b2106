//! The shared conformance suite on the blocking twin: a synchronous `diesel::PgConnection`
//! per case, driven through `spawn_blocking`, and transactions opened on a connection of their
//! own.

use async_trait::async_trait;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::{Connection, PgConnection};
use pgmq_conformance::{SpawnBlocking, TransactionalBackend, TxBody, TxEnd};
use pgmq_core::{Error, Queue};
use pgmq_diesel::blocking::DieselSync;
use pgmq_diesel::DieselSyncConnQueue;

/// Runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> pgmq_core::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(Error::driver)
}

/// Connects through the crate's own `DieselSyncConnQueue::connect`, so connection failures
/// are mapped by the adapter.
async fn queue(url: String) -> pgmq_core::Result<SpawnBlocking<DieselSync<PgConnection>>> {
    let queue = blocking(move || DieselSyncConnQueue::connect(&url)).await??;
    Ok(SpawnBlocking::new(queue.into()))
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

#[async_trait]
impl TransactionalBackend for Backend {
    fn queue(&self) -> &dyn Queue {
        &self.queue
    }

    async fn transaction(&self, body: TxBody<'_>) -> pgmq_core::Result<()> {
        let url = self.url.clone();
        let conn = blocking(move || {
            let mut conn = PgConnection::establish(&url).map_err(Error::driver)?;
            AnsiTransactionManager::begin_transaction(&mut conn).map_err(Error::driver)?;
            Ok::<_, Error>(conn)
        })
        .await??;
        let queue = SpawnBlocking::new(DieselSyncConnQueue::new(conn).into());
        let end = body(&queue, &self.queue).await;
        let mut conn = queue
            .into_inner()
            .ok_or_else(|| Error::driver("the queue was still shared after the body ended"))?
            .into_inner()
            .into_inner();
        blocking(move || match end {
            TxEnd::Commit => AnsiTransactionManager::commit_transaction(&mut conn),
            TxEnd::Rollback => AnsiTransactionManager::rollback_transaction(&mut conn),
        })
        .await?
        .map_err(Error::driver)
    }
}

pgmq_conformance::conformance_tests! {
    queue: queue,
    pool: unsupported("the blocking twin runs on one connection of its own, not a pool"),
    transactions: transactional,
}
