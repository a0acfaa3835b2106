//! A fresh database per check, the backend under test on it, and raw SQL beside it.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pgmq_core::{Queue, QueueName};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// The longest one check may take before it counts as hung (its database is dropped anyway).
const CHECK_LIMIT: Duration = Duration::from_secs(60);

/// The driver the library runs on in a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlx,
    TokioPostgres,
    Diesel,
}

impl Backend {
    fn tag(self) -> &'static str {
        match self {
            Self::Sqlx => "sqlx",
            Self::TokioPostgres => "tp",
            Self::Diesel => "diesel",
        }
    }

    /// A pool-backed queue on `url`, listening for notifications (so reads with a wait park).
    async fn connect(self, url: &str) -> Arc<dyn Queue> {
        match self {
            Self::Sqlx => Arc::new(pgmq_sqlx::SqlxQueue::connect(url).await.expect("sqlx")),
            Self::TokioPostgres => Arc::new(
                pgmq_tokio_postgres::TokioPostgresQueue::connect(url)
                    .await
                    .expect("tokio-postgres"),
            ),
            Self::Diesel => Arc::new(
                pgmq_diesel::DieselQueue::connect(url)
                    .await
                    .expect("diesel-async"),
            ),
        }
    }
}

/// One check's database: nothing installed in it yet.
pub(crate) struct Db {
    /// `postgres://…/<the fresh database>`.
    pub(crate) url: String,
    /// Plain SQL on the database: how the checks call the extension's functions.
    pub(crate) sql: PgPool,
    /// This library, on the backend under test.
    pub(crate) queue: Arc<dyn Queue>,
}

impl Db {
    /// Installs the pgmq extension 1.13 as plain SQL (its `pgmq.sql`, embedded in the `pgmq`
    /// crate), the way that crate's users install it.
    pub(crate) async fn install_extension(&self) -> Result<(), pgmq::PgmqError> {
        pgmq::install::install_sql_from_embedded(&self.sql).await
    }

    /// The extension first, then this library: the order of a database that used the
    /// extension before adopting this library.
    pub(crate) async fn install_both(&self) {
        self.install_extension()
            .await
            .expect("install the extension's SQL");
        self.queue.install().await.expect("install this library");
    }
}

/// A queue name.
pub(crate) fn name(text: &str) -> QueueName {
    QueueName::new(text).expect("a valid queue name")
}

/// Runs `check` on `backend` in a database of its own, created first and dropped after, also
/// when the check panics or hangs.
pub(crate) async fn run<C, F>(backend: Backend, check: C)
where
    C: FnOnce(Db) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = pgmq_conformance::harness::database_url().expect("a Postgres to test against");
    let db = format!(
        "pgmq_interop_{}_{}_{}",
        backend.tag(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&server)
        .await
        .expect("connect to the server");
    execute(&admin, &format!("CREATE DATABASE {db}")).await;
    let url = with_database(&server, &db);
    let body = {
        let url = url.clone();
        tokio::spawn(async move {
            let sql = PgPoolOptions::new()
                .max_connections(4)
                .connect(&url)
                .await
                .expect("connect to the fresh database");
            let queue = backend.connect(&url).await;
            check(Db { url, sql, queue }).await;
        })
    };
    let abort = body.abort_handle();
    let outcome = tokio::time::timeout(CHECK_LIMIT, body).await;
    abort.abort();
    // FORCE: the backend's pools and its listening connection may still be open.
    execute(
        &admin,
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    )
    .await;
    admin.close().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Ok(Err(e)) => panic!("the check did not finish: {e}"),
        Err(_) => panic!("the check took longer than {CHECK_LIMIT:?}"),
    }
}

async fn execute(pool: &PgPool, text: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(text.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"));
}

/// `url` with its database replaced by `db`, keeping user, host and parameters.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
