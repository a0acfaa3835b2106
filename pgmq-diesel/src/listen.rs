//! Listening for insert notifications on a dedicated diesel-async connection.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_core::Stream;
use pgmq_core::adapter::{listen_sql, unlisten_sql, Listener, Liveness, Notifications};
use pgmq_core::{Error, Result};

use crate::error;

/// Opens listening connections to `url`.
pub(crate) struct DieselListener {
    pub(crate) url: Arc<str>,
    pub(crate) liveness: Liveness,
}

#[async_trait]
impl Listener for DieselListener {
    async fn listen(&self, channels: &[String]) -> Result<Box<dyn Notifications>> {
        let mut conn =
            AsyncPgConnection::establish(&self.url)
                .await
                .map_err(|e| Error::Connection {
                    source: Box::new(e),
                })?;
        conn.batch_execute(&listen_sql(channels))
            .await
            .map_err(error::map)?;
        Ok(Box::new(DieselNotifications(conn)))
    }

    fn database(&self) -> String {
        self.url.to_string()
    }

    fn liveness(&self) -> Liveness {
        self.liveness
    }
}

struct DieselNotifications(AsyncPgConnection);

#[async_trait]
impl Notifications for DieselNotifications {
    async fn next(&mut self) -> Result<String> {
        // diesel-async queues notifications on a channel its connection task fills; the
        // stream only reads that channel, so making it again for each call loses nothing.
        let mut stream = Box::pin(self.0.notifications_stream());
        let next = poll_fn(|cx| Pin::as_mut(&mut stream).poll_next(cx)).await;
        match next {
            Some(Ok(notification)) => Ok(notification.channel),
            Some(Err(e)) => Err(error::map(e)),
            None => Err(Error::Connection {
                source: "the listening connection was closed".into(),
            }),
        }
    }

    async fn listen(&mut self, channels: &[String]) -> Result<bool> {
        // Notifications received meanwhile go to the same channel `next` reads.
        self.0
            .batch_execute(&listen_sql(channels))
            .await
            .map_err(error::map)?;
        Ok(true)
    }

    async fn unlisten(&mut self, channels: &[String]) -> Result<bool> {
        // Notifications received meanwhile go to the same channel `next` reads.
        self.0
            .batch_execute(&unlisten_sql(channels))
            .await
            .map_err(error::map)?;
        Ok(true)
    }

    async fn check(&mut self) -> Result<bool> {
        // An empty query: the least diesel-async sends (the server counts it as a
        // transaction, with no transaction id and nothing written).
        self.0.batch_execute("").await.map_err(error::map)?;
        Ok(true)
    }
}
