//! pgmq-rs on every backend, each on its own pool of `size` connections.

use std::sync::Arc;

use pgmq_core::Queue;
use pgmq_tokio_postgres::deadpool_postgres::{self, PoolConfig, Runtime};
use pgmq_tokio_postgres::tokio_postgres::NoTls;

use crate::system::Res;

pub(crate) async fn all(url: &str, size: u32) -> Res<Vec<(&'static str, Arc<dyn Queue>)>> {
    let sqlx_pool = crate::pool_options(size).connect(url).await?;
    let deadpool = deadpool_postgres::Config {
        url: Some(url.to_owned()),
        pool: Some(PoolConfig::new(size as usize)),
        ..Default::default()
    }
    .create_pool(Some(Runtime::Tokio1), NoTls)?;
    Ok(vec![
        ("sqlx", Arc::new(pgmq_sqlx::SqlxQueue::new(sqlx_pool))),
        (
            "tokio-postgres",
            Arc::new(pgmq_tokio_postgres::TokioPostgresQueue::new(deadpool)),
        ),
    ])
}
