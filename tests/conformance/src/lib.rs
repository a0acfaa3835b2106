//! The conformance suite every pgmq-rs backend must pass, run against a real Postgres.
//!
//! Each check in [`cases`] is a plain `pub async fn` named after the behaviour it proves. The
//! [`conformance_tests!`] macro expands all of them into `#[test]` functions for one backend,
//! so a backend's whole `tests/conformance.rs` is one macro call:
//!
//! ```text
//! pgmq_conformance::conformance_tests! {
//!     queue: |url: String| async move { MyQueue::connect(&url).await },
//!     pool: |url: String, wait: Duration| async move { MyQueue::connect_one(&url, wait).await },
//!     transactions: |url: String| async move { MyTxBackend::connect(&url).await },
//! }
//! ```
//!
//! `queue` turns a database URL into a `pgmq_core::Result` of anything `'static` that
//! implements [`Queue`]; `pool` into a `Queue` on a pool of exactly one connection that waits at most
//! `wait` for it; `transactions` into a [`TransactionalBackend`]. A backend without a pool or
//! without transactions says so with `unsupported("why")` in place of the factory: the cases
//! that need it are then ignored tests with that reason, never passes. A generated test checks
//! that the macro runs every case in [`cases`].
//!
//! Connecting must report an unreachable server as `Error::Connection` (a case checks it), and
//! connections made from a URL must honour its `options` parameter (cases set
//! `statement_timeout` through it). The URL comes from [`harness::database_url`]
//! (`DATABASE_URL`, else a throwaway local cluster, else testcontainers). Every case works on
//! its own uniquely named queue, so the suite runs in parallel.

mod blocking;
pub mod cases;
mod cluster;
pub mod harness;
pub mod listening;
mod macros;
pub mod proxy;
mod recording;
mod roles;

pub use blocking::SpawnBlocking;
pub use cluster::LocalCluster;
pub use roles::Roles;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use pgmq_core::{Queue, QueueName};

/// A boxed future, as [`TxBody`] returns it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a [`TxBody`] wants its transaction to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxEnd {
    /// Commit the transaction.
    Commit,
    /// Roll the transaction back.
    Rollback,
}

/// The work done inside a transaction: given the queue bound to the open transaction and the
/// backend's queue outside it, it runs and says how the transaction ends.
pub type TxBody<'a> =
    Box<dyn for<'q> FnOnce(&'q dyn Queue, &'q dyn Queue) -> BoxFuture<'q, TxEnd> + Send + 'a>;

/// A backend that can run queue operations inside the caller's own transaction.
///
/// Scoped, like a driver's own `transaction(|tx| …)`: the backend opens the transaction, lends
/// a queue bound to it to the body, and ends it as the body answers, so a transaction that
/// borrows its connection (tokio-postgres', diesel's) fits without workarounds.
#[async_trait]
pub trait TransactionalBackend: Send + Sync {
    /// A queue outside any transaction (e.g. on a pool), to look at committed state.
    fn queue(&self) -> &dyn Queue;

    /// Begins a transaction, runs `body` with a queue bound to it (and [`queue`](Self::queue)
    /// as its second argument), then commits or rolls back as `body` answers. Errors are the
    /// backend's own: beginning, committing or rolling back.
    async fn transaction(&self, body: TxBody<'_>) -> pgmq_core::Result<()>;
}

/// Runs `body` in a transaction of `backend` and returns what it returned, once the
/// transaction has ended as it asked.
pub async fn in_transaction<T, F>(
    backend: &dyn TransactionalBackend,
    body: F,
) -> pgmq_core::Result<T>
where
    T: Send + 'static,
    F: for<'q> FnOnce(&'q dyn Queue, &'q dyn Queue) -> BoxFuture<'q, (TxEnd, T)> + Send + 'static,
{
    let slot = Arc::new(Mutex::new(None));
    let out = Arc::clone(&slot);
    backend
        .transaction(Box::new(move |tx, outside| {
            Box::pin(async move {
                let (end, value) = body(tx, outside).await;
                *out.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
                end
            })
        }))
        .await?;
    let value = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    value.ok_or_else(|| pgmq_core::Error::Driver {
        source: "the backend's transaction() returned without running its body".into(),
    })
}

/// A queue name no other test in any process is using: `<tag>_<unique suffix>`.
pub fn unique_queue_name(tag: &str) -> QueueName {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let suffix = format!("{:x}{:x}{n:x}", std::process::id(), nanos);
    let room = QueueName::MAX_LEN - suffix.len() - 1;
    let tag: String = tag.chars().take(room).collect();
    QueueName::new(format!("{tag}_{suffix}")).expect("generated names are valid")
}

/// Creates a queue under a fresh [`unique_queue_name`] on `queue` and returns its name; panics
/// (failing the test) if it cannot.
pub async fn fresh_queue(queue: &dyn Queue, tag: &str) -> QueueName {
    let name = unique_queue_name(tag);
    queue
        .create(&name, pgmq_core::CreateOptions::new())
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    name
}

/// Runs a future to completion on a fresh runtime; the macro's tests call this.
#[doc(hidden)]
pub fn __run<F: Future<Output = ()>>(future: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future);
}

/// The database URL for a test, or a panic that explains how to provide one.
#[doc(hidden)]
pub fn __url() -> String {
    match harness::database_url() {
        Ok(url) => url,
        Err(e) => panic!("{e}"),
    }
}

#[doc(hidden)]
pub use tokio as __tokio;

/// The sources of [`cases`], by module, for [`__check_case_list`].
const CASE_SOURCES: &[(&str, &str)] = &[
    ("ack", include_str!("cases/ack.rs")),
    ("attributes", include_str!("cases/attributes.rs")),
    ("dead_letters", include_str!("cases/dead_letters.rs")),
    ("errors", include_str!("cases/errors.rs")),
    ("forged", include_str!("cases/forged.rs")),
    ("grouped", include_str!("cases/grouped.rs")),
    ("grouped_readers", include_str!("cases/grouped_readers.rs")),
    ("hostile", include_str!("cases/hostile.rs")),
    ("hostile_names", include_str!("cases/hostile_names.rs")),
    ("lifecycle", include_str!("cases/lifecycle.rs")),
    ("metrics", include_str!("cases/metrics.rs")),
    ("partitions", include_str!("cases/partitions.rs")),
    ("peek", include_str!("cases/peek.rs")),
    ("producer", include_str!("cases/producer.rs")),
    ("read", include_str!("cases/read.rs")),
    ("receipts", include_str!("cases/receipts.rs")),
    ("send", include_str!("cases/send.rs")),
    ("storage", include_str!("cases/storage.rs")),
    ("topic_checks", include_str!("cases/topic_checks.rs")),
    ("topics", include_str!("cases/topics.rs")),
    ("transactions", include_str!("cases/transactions.rs")),
    ("waiting", include_str!("cases/waiting.rs")),
    ("worker", include_str!("cases/worker.rs")),
];

/// The names of the suite's cases: every `pub async fn` of every module of [`cases`].
///
/// # Panics
/// If `cases/mod.rs` declares a module whose source this crate does not read.
pub fn case_names() -> Vec<&'static str> {
    let declared: Vec<&str> = include_str!("cases/mod.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let read: Vec<&str> = CASE_SOURCES.iter().map(|(m, _)| *m).collect();
    assert_eq!(
        declared, read,
        "CASE_SOURCES must read every module of cases/"
    );
    let mut names: Vec<&str> = CASE_SOURCES
        .iter()
        .flat_map(|(_, src)| src.lines())
        .filter_map(|l| l.strip_prefix("pub async fn ")?.split(['(', '<']).next())
        .collect();
    names.sort_unstable();
    names
}

/// Checks that the macro's lists name every case once and nothing else.
#[doc(hidden)]
pub fn __check_case_list(single: &[&str], lists: &[&[&str]]) {
    let mut run: Vec<&str> = lists.iter().flat_map(|l| l.iter().copied()).collect();
    run.extend_from_slice(single);
    run.sort_unstable();
    assert_eq!(
        run,
        case_names(),
        "conformance_tests! must run every case of pgmq_conformance::cases exactly once"
    );
}
