//! Sending, one message or a batch: one `INSERT` on the way that succeeds, and one more
//! statement only to say which message was too large when the queue's limit stopped it.

use serde_json::Value;

use crate::adapter::Executor;
use crate::decode;
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::options::{delay_params, SendOptions};
use crate::run::on;
use crate::sql;

/// Sends `messages` (already checked) with `options`: with the single-message statement
/// when `single`, else as a batch. Returns the ids in input order.
pub(crate) async fn send<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
    messages: Vec<Value>,
    options: SendOptions,
    single: bool,
) -> Result<Vec<i64>> {
    let delay = delay_params(options.delay)?;
    let expected = messages.len();
    let build = || match (single, messages.first()) {
        (true, Some(message)) => sql::send(queue, message.clone(), delay, options.headers.clone()),
        _ => sql::send_batch(queue, messages.clone(), delay, options.headers.clone()),
    };
    let ids = decode::ids(on(executor, queue, build).await?)?;
    if ids.len() == expected {
        return Ok(ids);
    }
    if ids.is_empty() {
        // Nothing written: a message was over the queue's limit. Say which.
        let rows = on(executor, queue, || sql::oversized(queue, messages.clone())).await?;
        if let Some(mut c) = rows.each().next() {
            let count = |v: i64| u64::try_from(v).unwrap_or_default();
            return Err(Error::MessageTooLarge {
                index: usize::try_from(c.int8("index")?).unwrap_or_default(),
                size: count(c.int8("size")?),
                limit: count(c.int8("max_message_bytes")?),
            });
        }
    }
    Err(Error::Decode {
        reason: format!("sent {expected} messages but got {} ids", ids.len()),
        source: None,
    })
}
