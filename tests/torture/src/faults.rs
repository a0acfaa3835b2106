//! The faults: backends terminated at random, stale receipts thrown at the queue.

use std::sync::Arc;
use std::time::Duration;

use pgmq_core::{Queue, QueueName, VisibleAt};
use tokio::sync::watch;
use tokio_postgres::NoTls;

use crate::ledger::{lock, Shared};
use crate::Rng;

/// What the killer did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Kills {
    /// Backends terminated.
    pub(crate) backends: u64,
    /// Of those, listening connections (the waiting readers' hub).
    pub(crate) listeners: u64,
}

/// Every `every` (with ±50% jitter), terminates one random client backend of the run's
/// database other than its own, until `stop`. Pauses while `paused` is true (a restart).
pub(crate) async fn kill_backends(
    url: String,
    every: Duration,
    seed: u64,
    paused: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) -> Kills {
    let mut rng = Rng::new(seed);
    let mut kills = Kills::default();
    let mut client = None;
    loop {
        let jitter = every.mul_f64(0.5 + rng.unit());
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return kills,
            () = tokio::time::sleep(jitter) => {}
        }
        if *paused.borrow() {
            client = None;
            continue;
        }
        if client.is_none() {
            client = connect(&url).await;
        }
        let Some(c) = &client else { continue };
        match kill_one(c, &mut rng).await {
            Ok(Some(listener)) => {
                kills.backends += 1;
                kills.listeners += u64::from(listener);
            }
            Ok(None) => {}
            Err(_) => client = None,
        }
    }
}

/// A plain connection, its driver spawned; `None` if it cannot connect.
pub(crate) async fn connect(url: &str) -> Option<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.ok()?;
    tokio::spawn(connection);
    Some(client)
}

/// Terminates one random backend; `Some(true)` if it was listening.
async fn kill_one(
    client: &tokio_postgres::Client,
    rng: &mut Rng,
) -> Result<Option<bool>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT pid, coalesce(query ILIKE 'LISTEN%', false) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
               AND backend_type = 'client backend'",
            &[],
        )
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let row = &rows[rng.below(rows.len())];
    let (pid, listening): (i32, bool) = (row.get(0), row.get(1));
    let killed: bool = client
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await?
        .get(0);
    Ok(killed.then_some(listening))
}

/// What the saboteur did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Forgeries {
    /// Stale receipts (superseded by a later read) presented to `archive_receipts` and
    /// `set_vt_receipts`, and refused.
    pub(crate) refused: u64,
    /// Stale receipts that acted: each one is a broken fence.
    pub(crate) accepted: u64,
}

/// Every `every`, presents a random superseded receipt to `archive_receipts` and to
/// `set_vt_receipts` (straight to the backend, not through the ledger), until `stop`.
pub(crate) async fn forge_receipts(
    queue: Arc<dyn Queue>,
    name: QueueName,
    book: Shared,
    every: Duration,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) -> Forgeries {
    let mut rng = Rng::new(seed);
    let mut done = Forgeries::default();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return done,
            () = tokio::time::sleep(every) => {}
        }
        let receipt = {
            let book = lock(&book);
            if book.superseded.is_empty() {
                continue;
            }
            book.superseded[rng.below(book.superseded.len())]
        };
        if let Ok(fences) = queue.archive_receipts(&name, &[receipt]).await {
            match fences.first() {
                Some(f) if f.acted() => done.accepted += 1,
                Some(_) => done.refused += 1,
                None => {}
            }
        }
        if let Ok(answers) = queue
            .set_vt_receipts(&name, &[receipt], VisibleAt::now())
            .await
        {
            match answers.first() {
                Some(Some(_)) => done.accepted += 1,
                Some(None) => done.refused += 1,
                None => {}
            }
        }
    }
}
