//! Partitioned queues: the queue table and archive split into pg_partman-managed partitions,
//! as the pgmq extension's `pgmq.create_partitioned` makes them (see
//! [`CreateOptions::partitioned`](crate::CreateOptions::partitioned)).
//!
//! Needs the pg_partman extension created in the database (`CREATE EXTENSION pg_partman`,
//! in any schema; pgmq-rs finds it). pgmq-rs does not create it: like the pgmq extension,
//! it fails instead, with [`Error::PartmanUnavailable`] saying what to install. pg_partman's
//! background worker is not needed: call
//! [`Queue::partition_maintenance`](crate::Queue::partition_maintenance) on a schedule.

use std::time::Duration;

use crate::adapter::Executor;
use crate::decode::Rows;
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::run::{on, run};
use crate::sql::{self, PartitionSpec};

/// A partition's width, or how much a partitioned queue keeps: by message id or by time.
///
/// Partitioning by [`Messages`](Self::Messages) splits on `msg_id` (queue and archive);
/// by [`Time`](Self::Time) on `enqueued_at` (queue) and `archived_at` (archive), as the
/// extension does for an integer or an interval `partition_interval`. A queue's interval and
/// retention must be of the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionInterval {
    /// A number of message ids (the extension's default interval is 10 000, its default
    /// retention 100 000).
    Messages(u64),
    /// A span of time, in whole milliseconds (pg_partman accepts 1 second or more).
    Time(Duration),
}

impl PartitionInterval {
    /// The value pg_partman is given: digits, or a Postgres interval.
    fn to_sql(self, argument: &'static str) -> Result<String> {
        match self {
            Self::Messages(n) => i64::try_from(n)
                .map(|n| n.to_string())
                .map_err(|_| Error::invalid(argument, format!("{n} is above i64::MAX"))),
            Self::Time(span) => Ok(format!("{} milliseconds", span.as_millis())),
        }
    }
}

/// How a partitioned queue is split and how much of it is kept: pg_partman drops whole
/// partitions older than `retention` (by id: whose ids are all more than `retention` below
/// the newest; by time: older than `retention`) from the queue and the archive alike, read
/// or not, as the extension configures it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partitioning {
    /// The width of one partition.
    pub interval: PartitionInterval,
    /// How much pg_partman's maintenance keeps.
    pub retention: PartitionInterval,
}

impl Partitioning {
    /// The statement text, checking that both values are of one kind.
    pub(crate) fn spec(&self) -> Result<PartitionSpec> {
        let (queue_column, archive_column) = match (self.interval, self.retention) {
            (PartitionInterval::Messages(_), PartitionInterval::Messages(_)) => {
                ("msg_id", "msg_id")
            }
            (PartitionInterval::Time(_), PartitionInterval::Time(_)) => {
                ("enqueued_at", "archived_at")
            }
            _ => {
                return Err(Error::invalid(
                    "partition retention",
                    "must be of the same kind as the interval (messages or time)",
                ))
            }
        };
        Ok(PartitionSpec {
            queue_column,
            archive_column,
            interval: self.interval.to_sql("partition interval")?,
            retention: self.retention.to_sql("partition retention")?,
        })
    }
}

/// A queue whose table or archive is partitioned, with how many partitions each has now
/// (pg_partman's default partition included; `0` for a table that is not partitioned).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionInfo {
    /// The queue.
    pub queue_name: String,
    /// Partitions of `pgmq.q_<name>`.
    pub queue_partitions: u64,
    /// Partitions of `pgmq.a_<name>`.
    pub archive_partitions: u64,
}

/// Turns the errors the partitioned DDL raises into their variants: pg_partman missing is
/// [`Error::PartmanUnavailable`], a partitioning it refuses is
/// [`Error::InvalidArgument`] (`"partition interval"`) with its message. Others pass.
pub(crate) fn typed(e: Error) -> Error {
    let (code, source) = match &e {
        Error::Database { code, source, .. } => (code.as_str(), source),
        // A driver that does not report the SQLSTATE (diesel) still carries our words.
        Error::Driver { source } => ("", source),
        _ => return e,
    };
    // Drivers differ in which error of the chain holds the server's message, and in what
    // they put before it; the message starts with our words.
    let mut texts = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
    while let Some(err) = next {
        texts.push(err.to_string());
        next = err.source();
    }
    let find = |start: &str| {
        texts.iter().find_map(|t| {
            let rest = &t[t.find(start)?..];
            Some(rest.lines().next().unwrap_or_default().to_owned())
        })
    };
    let missing = find(sql::MISSING);
    let rejected = find(sql::REJECTED);
    match (code, missing, rejected) {
        (sql::PARTMAN_MISSING | "", Some(reason), _) => Error::PartmanUnavailable { reason },
        (sql::PARTMAN_REJECTED | "", _, Some(reason)) => {
            Error::invalid("partition interval", reason)
        }
        _ => e,
    }
}

/// See [`Queue::partition_maintenance`](crate::Queue::partition_maintenance).
pub(crate) async fn maintenance<E: Executor + ?Sized>(
    executor: &E,
    queue: Option<&QueueName>,
) -> Result<Vec<PartitionInfo>> {
    let maintain = || sql::partition_maintenance(queue);
    match queue {
        Some(q) => on(executor, q, maintain).await,
        None => run(executor, maintain()).await,
    }
    .map_err(typed)?;
    partitions(run(executor, sql::partitions(queue)).await?)
}

/// See [`Queue::convert_archive_partitioned`](crate::Queue::convert_archive_partitioned).
pub(crate) async fn convert_archive<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
    partitioning: Partitioning,
) -> Result<()> {
    let spec = partitioning.spec()?;
    on(executor, queue, || {
        sql::convert_archive_partitioned(queue, &spec)
    })
    .await
    .map(drop)
    .map_err(typed)
}

fn partitions(rows: Rows) -> Result<Vec<PartitionInfo>> {
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    rows.each()
        .map(|mut c| {
            Ok(PartitionInfo {
                queue_name: c.text("queue_name")?,
                queue_partitions: count(c.int8("queue_partitions")?),
                archive_partitions: count(c.int8("archive_partitions")?),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_and_retention_must_be_of_one_kind() {
        let mixed = Partitioning {
            interval: PartitionInterval::Messages(10),
            retention: PartitionInterval::Time(Duration::from_secs(60)),
        };
        assert!(matches!(
            mixed.spec(),
            Err(Error::InvalidArgument {
                argument: "partition retention",
                ..
            })
        ));
        let by_time = Partitioning {
            interval: PartitionInterval::Time(Duration::from_secs(3600)),
            retention: PartitionInterval::Time(Duration::from_secs(86_400)),
        };
        let spec = by_time.spec().expect("one kind");
        assert_eq!(
            (spec.queue_column, spec.archive_column),
            ("enqueued_at", "archived_at")
        );
        assert_eq!(spec.interval, "3600000 milliseconds");
        assert!(PartitionInterval::Messages(u64::MAX).to_sql("x").is_err());
    }

    #[test]
    fn partman_errors_become_their_variants() {
        let missing = Error::from_database("PQ001", "db error: ERROR: pg_partman is not installed");
        let unrelated = typed(Error::driver("pg_partman whatever"));
        assert!(matches!(unrelated, Error::Driver { .. }));
        assert!(
            matches!(missing, Error::Database { .. })
                && {
                    let e = typed(missing);
                    matches!(&e, Error::PartmanUnavailable { reason } if reason == "pg_partman is not installed")
                }
        );
        let rejected = typed(Error::from_database(
            "PQ002",
            "pg_partman rejected the partitioning of queue q: too small",
        ));
        assert!(
            matches!(rejected, Error::InvalidArgument { argument: "partition interval", ref reason } if reason.ends_with("too small"))
        );
    }
}
