//! Setting and reading a queue's storage parameters, and vacuuming its table: the
//! [`Queue`](crate::Queue) operations behind [`StorageParams`] for every executor, and what
//! they answer.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::adapter::Executor;
use crate::checks::on_queue;
use crate::decode::Rows;
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::run::{on, run};
use crate::sql;
use crate::storage::StorageParams;

/// A queue's storage as [`Queue::storage`](crate::Queue::storage) reads it: the storage
/// parameters set on its tables (`pg_class.reloptions`), and the vacuum statistics of its
/// queue table.
///
/// A partitioned queue's parent tables hold no parameters (Postgres refuses them there), each
/// partition has its own: its lists are the parameters every partition of the table has
/// (with the same value), so one partition without them takes them off the list. Its
/// statistics are the sums over its partitions (the latest time for the `last_` fields).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStorage {
    /// The queue table's parameters, as Postgres stores them (`pg_class.reloptions`):
    /// `(name, value)`, e.g. `("autovacuum_vacuum_threshold", "1000")`, in the table's
    /// order.
    pub queue_table: Vec<(String, String)>,
    /// The archive's parameters, likewise.
    pub archive: Vec<(String, String)>,
    /// How many times the queue table was vacuumed by hand (`VACUUM`, e.g.
    /// [`Queue::vacuum`](crate::Queue::vacuum)), from `pg_stat_all_tables`.
    ///
    /// The server's cumulative statistics: they survive no crash nor
    /// `pg_stat_reset()`, and before Postgres 15 they may lag by about half a second.
    pub vacuum_count: u64,
    /// How many times autovacuum vacuumed the queue table.
    pub autovacuum_count: u64,
    /// When the queue table was last vacuumed by hand.
    pub last_vacuum: Option<DateTime<Utc>>,
    /// When autovacuum last vacuumed the queue table.
    pub last_autovacuum: Option<DateTime<Utc>>,
    /// The statistics' estimate of dead rows in the queue table (`n_dead_tup`): what a
    /// vacuum would remove. Updated as transactions end, so it may trail a little.
    pub dead_rows: u64,
}

/// What [`Queue::vacuum`](crate::Queue::vacuum) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VacuumOutcome {
    /// `VACUUM` ran on the queue table.
    Vacuumed,
    /// Another session held a lock that conflicts with `VACUUM` on the queue table (another
    /// vacuum or autovacuum, an `ALTER TABLE`, an index build), so nothing ran: a vacuum
    /// never waits. Try again later.
    Skipped,
    /// The role may not vacuum the queue table: only its owner, the database's owner or a
    /// superuser may (and from Postgres 17, a role with the `MAINTAIN` privilege). Nothing
    /// ran: Postgres would only have warned.
    NotPermitted,
}

pub(crate) async fn set_storage<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
    params: &StorageParams,
) -> Result<()> {
    let actions = params.actions()?;
    on(executor, queue, || sql::set_storage(queue, &actions))
        .await
        .map(drop)
}

pub(crate) async fn storage<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
) -> Result<QueueStorage> {
    decode(run(executor, sql::storage(queue)).await?, queue)
}

pub(crate) async fn vacuum<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
) -> Result<VacuumOutcome> {
    let mut check = run(executor, sql::vacuum_check(queue)).await?.single()?;
    if !check.boolean("queue")? {
        return Err(Error::not_found(queue));
    }
    if !check.boolean("permitted")? {
        return Ok(VacuumOutcome::NotPermitted);
    }
    if check.boolean("busy")? {
        return Ok(VacuumOutcome::Skipped);
    }
    executor
        .query(sql::vacuum(queue))
        .await
        .map_err(on_queue(queue))?;
    Ok(VacuumOutcome::Vacuumed)
}

fn decode(rows: Rows, queue: &QueueName) -> Result<QueueStorage> {
    let mut c = rows.single()?;
    if !c.boolean("queue")? {
        return Err(Error::not_found(queue));
    }
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    Ok(QueueStorage {
        queue_table: options(c.opt_json("queue_options")?)?,
        archive: options(c.opt_json("archive_options")?)?,
        vacuum_count: count(c.int8("vacuum_count")?),
        autovacuum_count: count(c.int8("autovacuum_count")?),
        last_vacuum: c.opt_timestamp("last_vacuum")?,
        last_autovacuum: c.opt_timestamp("last_autovacuum")?,
        dead_rows: count(c.int8("dead_rows")?),
    })
}

/// `reloptions` (`["name=value", …]`, or `NULL` for none) as pairs.
fn options(reloptions: Option<Value>) -> Result<Vec<(String, String)>> {
    let bad = |what: &Value| Error::Decode {
        reason: format!("a storage parameter that is not name=value: {what}"),
        source: None,
    };
    match reloptions {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let (name, value) = item
                    .as_str()
                    .and_then(|s| s.split_once('='))
                    .ok_or_else(|| bad(item))?;
                Ok((name.to_owned(), value.to_owned()))
            })
            .collect(),
        Some(other) => Err(bad(&other)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reloptions_split_at_the_first_equals_sign() {
        assert_eq!(options(None).expect("none"), Vec::new());
        assert_eq!(
            options(Some(json!(["fillfactor=90", "odd=a=b"]))).expect("pairs"),
            vec![
                ("fillfactor".to_owned(), "90".to_owned()),
                ("odd".to_owned(), "a=b".to_owned()),
            ]
        );
        assert!(options(Some(json!(["no_equals"]))).is_err());
        assert!(options(Some(json!({"a": 1}))).is_err());
    }
}
