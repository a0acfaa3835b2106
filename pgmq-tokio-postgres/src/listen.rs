//! Listening for insert notifications on a dedicated tokio-postgres connection.

use std::future::poll_fn;

use async_trait::async_trait;
use pgmq_core::adapter::{listen_sql, unlisten_sql, Listener, Liveness, Notifications};
use pgmq_core::{Error, Result};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

use crate::error;

/// Opens listening connections (without TLS) with `config`.
pub(crate) struct TokioPostgresListener {
    pub(crate) config: Config,
    pub(crate) liveness: Liveness,
}

#[async_trait]
impl Listener for TokioPostgresListener {
    async fn listen(&self, channels: &[String]) -> Result<Box<dyn Notifications>> {
        let (client, mut connection) = self.config.connect(NoTls).await.map_err(error::map)?;
        let (tx, rx) = mpsc::unbounded_channel();
        // The connection's messages, notifications among them, surface only while it is
        // polled: a task drives it and forwards each notification's channel.
        let driver = tokio::spawn(async move {
            while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(Ok(n.channel().to_owned())).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = tx.send(Err(error::map(e)));
                        return;
                    }
                }
            }
        });
        let notifications = TokioPostgresNotifications { client, rx, driver };
        notifications
            .client
            .batch_execute(&listen_sql(channels))
            .await
            .map_err(error::map)?;
        Ok(Box::new(notifications))
    }

    fn database(&self) -> String {
        let c = &self.config;
        format!(
            "{:?}:{:?}/{} as {}",
            c.get_hosts(),
            c.get_ports(),
            c.get_dbname().unwrap_or_default(),
            c.get_user().unwrap_or_default()
        )
    }

    fn liveness(&self) -> Liveness {
        self.liveness
    }
}

struct TokioPostgresNotifications {
    /// Keeps the connection open, and runs `LISTEN` on it.
    client: Client,
    rx: mpsc::UnboundedReceiver<Result<String>>,
    driver: JoinHandle<()>,
}

impl Drop for TokioPostgresNotifications {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

#[async_trait]
impl Notifications for TokioPostgresNotifications {
    async fn next(&mut self) -> Result<String> {
        match self.rx.recv().await {
            Some(notification) => notification,
            None => Err(Error::Connection {
                source: "the listening connection was closed".into(),
            }),
        }
    }

    async fn listen(&mut self, channels: &[String]) -> Result<bool> {
        // The driver task forwards notifications received meanwhile to `rx`.
        self.client
            .batch_execute(&listen_sql(channels))
            .await
            .map_err(error::map)?;
        Ok(true)
    }

    async fn unlisten(&mut self, channels: &[String]) -> Result<bool> {
        // Notifications received meanwhile go to the same channel `next` reads.
        self.client
            .batch_execute(&unlisten_sql(channels))
            .await
            .map_err(error::map)?;
        Ok(true)
    }

    async fn check(&mut self) -> Result<bool> {
        // An empty query: the least tokio-postgres sends (the server counts it as a
        // transaction, with no transaction id and nothing written).
        self.client.batch_execute("").await.map_err(error::map)?;
        Ok(true)
    }
}
