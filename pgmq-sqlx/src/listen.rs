//! Listening for insert notifications on a dedicated connection (sqlx's `PgListener`).

use async_trait::async_trait;
use pgmq_core::adapter::{Listener, Liveness, Notifications};
use pgmq_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Acquire, Connection};

use crate::error;

/// Opens listening connections with the pool's connect options.
pub(crate) struct SqlxListener {
    pub(crate) options: PgConnectOptions,
    pub(crate) liveness: Liveness,
}

#[async_trait]
impl Listener for SqlxListener {
    async fn listen(&self, channels: &[String]) -> Result<Box<dyn Notifications>> {
        // PgListener takes its connection from a pool: a private pool of one, so the
        // application's pool is never short of a connection.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_with(self.options.clone())
            .await
            .map_err(error::map)?;
        let mut listener = PgListener::connect_with(&pool).await.map_err(error::map)?;
        // Core reconnects (and tells waiting readers to read again); sqlx must not do it
        // silently behind its back.
        listener.eager_reconnect(false);
        listener.ignore_pool_close_event(true);
        listener
            .listen_all(channels.iter().map(String::as_str))
            .await
            .map_err(error::map)?;
        Ok(Box::new(SqlxNotifications(listener)))
    }

    fn database(&self) -> String {
        let o = &self.options;
        format!(
            "{}:{}/{} as {}",
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or_default(),
            o.get_username()
        )
    }

    fn liveness(&self) -> Liveness {
        self.liveness
    }
}

struct SqlxNotifications(PgListener);

#[async_trait]
impl Notifications for SqlxNotifications {
    async fn next(&mut self) -> Result<String> {
        match self.0.try_recv().await {
            Ok(Some(notification)) => Ok(notification.channel().to_owned()),
            Ok(None) => Err(Error::Connection {
                source: "the listening connection was lost".into(),
            }),
            Err(e) => Err(error::map(e)),
        }
    }

    async fn listen(&mut self, channels: &[String]) -> Result<bool> {
        // `PgListener` buffers notifications received meanwhile for `try_recv`, which loses
        // none when its future is dropped (sqlx 0.8.1 and later).
        self.0
            .listen_all(channels.iter().map(String::as_str))
            .await
            .map_err(error::map)?;
        Ok(true)
    }

    async fn unlisten(&mut self, channels: &[String]) -> Result<bool> {
        // Through `PgListener`, so that it forgets them too (it listens on its channels again
        // when it reconnects). Buffered as for `listen`.
        for channel in channels {
            self.0.unlisten(channel).await.map_err(error::map)?;
        }
        Ok(true)
    }

    async fn check(&mut self) -> Result<bool> {
        // A bare `Sync` and its `ReadyForQuery`: no statement, no transaction. The
        // connection buffers notifications received meanwhile for `try_recv`.
        let conn = (&mut self.0).acquire().await.map_err(error::map)?;
        conn.ping().await.map_err(error::map)?;
        Ok(true)
    }
}
