//! pgmq-rs on every backend, each on its own pool.

use std::sync::Arc;

use diesel_async::pooled_connection::deadpool::Pool as DieselPool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::AsyncPgConnection;
use pgmq_core::Queue;
use pgmq_tokio_postgres::deadpool_postgres::{self, PoolConfig, QueueMode, Runtime};
use pgmq_tokio_postgres::tokio_postgres::NoTls;

use crate::system::Res;

/// Every backend, by the name the results use.
pub(crate) const NAMES: [&str; 3] = ["sqlx", "tokio-postgres", "diesel"];

/// `backend` on a pool of `size` connections. Every pool hands out connections without a
/// check query (sqlx pings and diesel-async verifies by default; deadpool-postgres doesn't).
/// The two deadpool pools hand out the connection used most recently, as the adapters'
/// own `connect` builds them (sqlx's pool cannot: it hands out the least recently used).
/// Waiting readers park on a listening connection to `url` on every backend (sqlx's pool
/// says how to open one; the other two are told).
pub(crate) async fn connect(backend: &str, url: &str, size: u32) -> Res<Arc<dyn Queue>> {
    Ok(match backend {
        "sqlx" => Arc::new(pgmq_sqlx::SqlxQueue::new(
            crate::pool_options(size).connect(url).await?,
        )),
        "tokio-postgres" => {
            let pool = deadpool_postgres::Config {
                url: Some(url.to_owned()),
                pool: Some(PoolConfig {
                    queue_mode: QueueMode::Lifo,
                    ..PoolConfig::new(size as usize)
                }),
                ..Default::default()
            }
            .create_pool(Some(Runtime::Tokio1), NoTls)?;
            let listen: pgmq_tokio_postgres::tokio_postgres::Config = url.parse()?;
            Arc::new(pgmq_tokio_postgres::TokioPostgresQueue::new(pool).with_listener(listen))
        }
        "diesel" => {
            let mut config = ManagerConfig::default();
            config.recycling_method = RecyclingMethod::Fast;
            let manager =
                AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
            let pool = DieselPool::builder(manager)
                .max_size(size as usize)
                .queue_mode(QueueMode::Lifo)
                .build()?;
            Arc::new(pgmq_diesel::DieselQueue::new(pool).with_listener(url))
        }
        other => return Err(format!("unknown backend {other:?}").into()),
    })
}
