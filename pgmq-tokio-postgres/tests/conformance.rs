//! The shared conformance suite on tokio-postgres: a deadpool pool, and transactions opened on
//! its connections.

use async_trait::async_trait;
use pgmq_conformance::{TransactionQueue, TransactionalBackend};
use pgmq_core::{Error, Executor, Queue, Result, Row, Statement};
use pgmq_tokio_postgres::deadpool_postgres::Object;
use pgmq_tokio_postgres::tokio_postgres::Client;
use pgmq_tokio_postgres::{PgClientQueue, TokioPostgresQueue};
use tokio::sync::{mpsc, oneshot};

async fn pool(url: String) -> pgmq_core::Result<TokioPostgresQueue> {
    TokioPostgresQueue::connect(&url).await
}

struct Backend(TokioPostgresQueue);

async fn transactional(url: String) -> pgmq_core::Result<Backend> {
    Ok(Backend(pool(url).await?))
}

/// A `tokio_postgres::Transaction` borrows its client, so the suite's boxed transaction lives
/// in a task that owns the pooled connection and runs a [`PgClientQueue`] on the transaction;
/// `Tx` forwards each statement to it.
struct Tx(mpsc::UnboundedSender<Op>);

enum Op {
    Query(Statement, oneshot::Sender<Result<Vec<Row>>>),
    Atomic(Vec<Statement>, oneshot::Sender<Result<Vec<Vec<Row>>>>),
    End {
        commit: bool,
        done: oneshot::Sender<Result<()>>,
    },
}

async fn serve(
    mut conn: Object,
    began: oneshot::Sender<Result<()>>,
    mut ops: mpsc::UnboundedReceiver<Op>,
) {
    let tx = match Client::transaction(&mut conn).await {
        Ok(tx) => tx,
        Err(e) => return drop(began.send(Err(driver(e)))),
    };
    let _ = began.send(Ok(()));
    let queue = PgClientQueue::new(tx);
    while let Some(op) = ops.recv().await {
        match op {
            Op::Query(statement, reply) => drop(reply.send(queue.query(statement).await)),
            Op::Atomic(statements, reply) => {
                drop(reply.send(queue.query_atomic(statements).await));
            }
            Op::End { commit, done } => {
                let tx = queue.into_inner();
                let ended = if commit {
                    tx.commit().await
                } else {
                    tx.rollback().await
                };
                let _ = done.send(ended.map_err(driver));
                return;
            }
        }
    }
}

impl Tx {
    async fn ask<T>(&self, op: impl FnOnce(oneshot::Sender<Result<T>>) -> Op) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.0.send(op(reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    async fn end(self: Box<Self>, commit: bool) -> Result<()> {
        self.ask(|done| Op::End { commit, done }).await
    }
}

#[async_trait]
impl Executor for Tx {
    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        self.ask(|reply| Op::Query(statement, reply)).await
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        self.ask(|reply| Op::Atomic(statements, reply)).await
    }
}

#[async_trait]
impl TransactionalBackend for Backend {
    fn queue(&self) -> &dyn Queue {
        &self.0
    }

    async fn begin(&self) -> Result<Box<dyn TransactionQueue + '_>> {
        let conn = self.0.pool().get().await.map_err(driver)?;
        let (began, ready) = oneshot::channel();
        let (ops, receiver) = mpsc::unbounded_channel();
        tokio::spawn(serve(conn, began, receiver));
        ready.await.map_err(|_| gone())??;
        Ok(Box::new(Tx(ops)))
    }
}

#[async_trait]
impl TransactionQueue for Tx {
    fn queue(&self) -> &dyn Queue {
        self
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.end(true).await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.end(false).await
    }
}

fn driver(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Driver { source: e.into() }
}

fn gone() -> Error {
    Error::Driver {
        source: "the transaction's task ended".into(),
    }
}

pgmq_conformance::conformance_tests! {
    queue: pool,
    transactions: transactional,
}
