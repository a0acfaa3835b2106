//! Decoding what sends, claims and attribute statements answer (beyond plain rows of
//! messages or ids).

use std::time::Duration;

use crate::attributes::{DeadLetter, QueueAttributes};
use crate::decode::Rows;
use crate::error::{Error, Result};
use crate::name::QueueName;

/// A non-negative count from the database as `u64`, `usize` or a span.
fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or_default()
}

/// The messages a claim left out for the dead-letter queue ([`sql::dead_letters`]): the
/// queue and the ids, or `None` when there are none.
///
/// [`sql::dead_letters`]: crate::sql::dead_letters
/// Messages to move: the dead-letter queue and the ids.
pub(crate) type Dead = (QueueName, Vec<i64>);

/// The outer `None` means the queue has no dead-letter policy at all.
pub(crate) fn dead_letters(rows: Rows) -> Result<Option<Option<Dead>>> {
    let mut policy = false;
    let mut dead: Option<Dead> = None;
    for mut c in rows.each() {
        policy = true;
        let dlq = c.text("dead_letter_queue")?;
        let Some(id) = c.opt_int8("msg_id")? else {
            continue;
        };
        match &mut dead {
            Some((_, ids)) => ids.push(id),
            None => dead = Some((QueueName::new(dlq)?, vec![id])),
        }
    }
    Ok(policy.then_some(dead))
}

/// A queue's attributes; no row means the queue does not exist.
pub(crate) fn attributes(rows: Rows, queue: &QueueName) -> Result<QueueAttributes> {
    let Some(mut c) = rows.each().next() else {
        return Err(Error::not_found(queue));
    };
    let millis = |v: Option<i64>| v.map(|ms| Duration::from_millis(unsigned(ms)));
    let default_vt = millis(c.opt_int8("default_vt_ms")?);
    let default_delay = millis(c.opt_int8("default_delay_ms")?);
    let max_message_bytes = c.opt_int8("max_message_bytes")?.map(unsigned);
    let archive_retention = millis(c.opt_int8("archive_retention_ms")?);
    let max_receive_count = c.opt_int4("max_receive_count")?;
    let dead_letter = match (c.opt_text("dead_letter_queue")?, max_receive_count) {
        (Some(queue), Some(max)) => Some(DeadLetter {
            queue: QueueName::new(queue)?,
            max_receive_count: u32::try_from(max).unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(QueueAttributes {
        default_vt,
        default_delay,
        max_message_bytes,
        archive_retention,
        dead_letter,
    })
}

/// Whether [`set_attributes`](crate::sql::set_attributes) wrote, or why not.
pub(crate) fn attributes_set(rows: Rows, queue: &QueueName, dlq: Option<&QueueName>) -> Result<()> {
    let mut c = rows.single()?;
    let invalid = |reason: String| Error::InvalidAttributes {
        queue: queue.to_string(),
        reason,
    };
    if !c.boolean("queue_exists")? {
        return Err(Error::not_found(queue));
    }
    let dlq = dlq.map(QueueName::as_str).unwrap_or_default();
    if !c.boolean("dead_letter_exists")? {
        return Err(invalid(format!(
            "its dead-letter queue {dlq} does not exist"
        )));
    }
    if c.boolean("cycle")? {
        return Err(invalid(format!(
            "dead-lettering into {dlq} would lead back to {queue}: dead-letter queues must not form a cycle"
        )));
    }
    Ok(())
}
