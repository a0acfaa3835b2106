//! Queue attributes: reading, replacing (also at create time) and the archive trim they drive.

use crate::adapter::Executor;
use crate::attributes::QueueAttributes;
use crate::decode::Rows;
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::options::{checked_millis, CreateOptions, MAX_BATCH};
use crate::run::on;
use crate::sql::{self, StoredAttributes};
use crate::storage::StorageParams;
use crate::{outcomes, Queue};

/// Milliseconds of an optional span checked by [`QueueAttributes::check`].
fn millis(span: Option<std::time::Duration>, argument: &'static str) -> Result<Option<i64>> {
    span.map(|s| {
        i64::try_from(s.as_millis()).map_err(|_| Error::invalid(argument, format!("{s:?}")))
    })
    .transpose()
}

/// The milliseconds of a notification throttle, at most `i32::MAX` (the extension's column
/// type).
pub(crate) fn throttle_millis(throttle: std::time::Duration) -> Result<i32> {
    i32::try_from(throttle.as_millis())
        .map_err(|_| Error::invalid("notification throttle", format!("{throttle:?}")))
}

/// Checks `attributes` and turns them into what the table stores.
fn stored(queue: &QueueName, attributes: &QueueAttributes) -> Result<StoredAttributes> {
    attributes.check(queue)?;
    Ok(StoredAttributes {
        default_vt_ms: millis(attributes.default_vt, "default visibility timeout")?,
        default_delay_ms: attributes
            .default_delay
            .map(|d| checked_millis(d, "default delay"))
            .transpose()?,
        max_message_bytes: attributes
            .max_message_bytes
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        archive_retention_ms: millis(attributes.archive_retention, "archive retention")?,
        dead_letter: attributes
            .dead_letter
            .as_ref()
            .map(|d| (i64::from(d.max_receive_count), d.queue.clone())),
    })
}

/// Creates the queue and, when given, sets its attributes, all or nothing.
pub(crate) async fn create<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
    options: CreateOptions,
) -> Result<()> {
    crate::dead_letters::no_policy::forget(queue);
    let throttle = options.notify_insert.map(throttle_millis).transpose()?;
    let storage = options
        .storage
        .as_ref()
        .map(StorageParams::actions)
        .transpose()?;
    let storage = storage.as_ref();
    let create = match &options.partitioned {
        None => sql::create(
            queue,
            options.unlogged,
            throttle,
            options.fifo_index,
            storage,
        ),
        Some(_) if options.unlogged => {
            return Err(Error::invalid(
                "unlogged",
                "a partitioned queue cannot be unlogged",
            ))
        }
        Some(p) => sql::create_partitioned(queue, &p.spec()?, throttle, storage),
    };
    let Some(attributes) = options.attributes else {
        return executor
            .query(create)
            .await
            .map(drop)
            .map_err(crate::partitions::typed);
    };
    let values = stored(queue, &attributes)?;
    let [lock, set] = sql::set_attributes(queue, values);
    let columns = set.columns;
    let results = executor
        .query_atomic(vec![create, lock, set])
        .await
        .map_err(crate::partitions::typed)?;
    let Some(rows) = results.into_iter().nth(2) else {
        return Err(Error::Decode {
            reason: "create: 3 statements gave fewer results".into(),
            source: None,
        });
    };
    let dlq = attributes.dead_letter.as_ref().map(|d| &d.queue);
    outcomes::attributes_set(Rows { rows, columns }, queue, dlq)
}

pub(crate) async fn attributes<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
) -> Result<QueueAttributes> {
    outcomes::attributes(on(executor, queue, || sql::attributes(queue)).await?, queue)
}

pub(crate) async fn set_attributes<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
    attributes: QueueAttributes,
) -> Result<()> {
    crate::dead_letters::no_policy::forget(queue);
    let values = stored(queue, &attributes)?;
    let [lock, set] = sql::set_attributes(queue, values);
    let columns = set.columns;
    let results = executor.query_atomic(vec![lock, set]).await?;
    let [_locked, rows]: [_; 2] = results.try_into().map_err(|r: Vec<_>| Error::Decode {
        reason: format!("set_attributes: 2 statements gave {} results", r.len()),
        source: None,
    })?;
    let dlq = attributes.dead_letter.as_ref().map(|d| &d.queue);
    outcomes::attributes_set(Rows { rows, columns }, queue, dlq)
}

/// Deletes expired archive rows a chunk at a time until a chunk comes back short.
pub(crate) async fn trim_archive<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
) -> Result<u64> {
    // QueueNotFound for a queue that does not exist, before touching its archive.
    executor.attributes(queue).await?;
    let chunk = i64::try_from(MAX_BATCH).unwrap_or(1000);
    let mut total: u64 = 0;
    loop {
        let st = || sql::trim_archive(queue, chunk);
        let n = on(executor, queue, st).await?.single()?.int8("count")?;
        total = total.saturating_add(u64::try_from(n).unwrap_or_default());
        if n < chunk {
            return Ok(total);
        }
    }
}
