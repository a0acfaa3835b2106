//! Decoding what sends, claims and attribute statements answer (beyond plain rows of
//! messages or ids).

use std::time::Duration;

use crate::attributes::{DeadLetter, QueueAttributes};
use crate::decode::{take_message, Rows};
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::types::Message;

/// A non-negative count from the database as `u64`, `usize` or a span.
fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or_default()
}

/// The ids of a send, in input order, or the first message over the size limit.
pub(crate) fn sent(rows: Rows) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for mut c in rows.each() {
        let id = c.opt_int8("msg_id")?;
        let index = c.opt_int8("too_large_index")?;
        let size = c.opt_int8("too_large_size")?;
        let limit = c.opt_int8("max_message_bytes")?;
        match (id, index) {
            (Some(id), _) => ids.push(id),
            (None, Some(index)) => {
                return Err(Error::MessageTooLarge {
                    index: usize::try_from(index).unwrap_or_default(),
                    size: size.map(unsigned).unwrap_or_default(),
                    limit: limit.map(unsigned).unwrap_or_default(),
                })
            }
            (None, None) => {
                return Err(Error::Decode {
                    reason: "a send answered a row with neither an id nor a size error".into(),
                    source: None,
                })
            }
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// What a claim (read, pop) answered: the messages handed out, in `msg_id` order, and the
/// ids of the messages to dead-letter instead, with their dead-letter queue.
pub(crate) struct Claimed {
    pub(crate) handed: Vec<Message>,
    pub(crate) dead: Option<(QueueName, Vec<i64>)>,
}

pub(crate) fn claimed(rows: Rows) -> Result<Claimed> {
    let mut handed = Vec::new();
    let mut dead: Option<(QueueName, Vec<i64>)> = None;
    for mut c in rows.each() {
        let message = take_message(&mut c)?;
        match c.opt_text("dead_letter_queue")? {
            None => handed.push(message),
            Some(dlq) => {
                let dlq = QueueName::new(dlq)?;
                dead.get_or_insert_with(|| (dlq, Vec::new()))
                    .1
                    .push(message.msg_id);
            }
        }
    }
    handed.sort_by_key(|m| m.msg_id);
    Ok(Claimed { handed, dead })
}

/// A queue's attributes; no row means the queue does not exist.
pub(crate) fn attributes(rows: Rows, queue: &QueueName) -> Result<QueueAttributes> {
    let Some(mut c) = rows.each().next() else {
        return Err(Error::QueueNotFound {
            queue: queue.to_string(),
        });
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
        return Err(Error::QueueNotFound {
            queue: queue.to_string(),
        });
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
