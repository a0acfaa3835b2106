//! Input checks that run before any SQL, and the mapping of "table missing" to the
//! queue-level error.

use serde_json::Value;

use crate::error::{DbErrorKind, Error, Result};
use crate::name::QueueName;
use crate::options::MAX_BATCH;

/// Turns "table missing" into the queue-level answer.
pub(crate) fn on_queue(queue: &QueueName) -> impl FnOnce(Error) -> Error + '_ {
    move |e| match e {
        Error::Database {
            kind: DbErrorKind::UndefinedTable,
            ..
        } => Error::QueueNotFound {
            queue: queue.to_string(),
        },
        other => other,
    }
}

/// At most [`MAX_BATCH`] ids in one call.
pub(crate) fn ids(ids: &[i64]) -> Result<()> {
    if ids.len() > MAX_BATCH {
        return Err(Error::invalid(
            "message id list",
            format!("{} ids is more than the limit of {MAX_BATCH}", ids.len()),
        ));
    }
    Ok(())
}

/// At most [`MAX_BATCH`] messages in one send.
pub(crate) fn batch(messages: &[Value]) -> Result<()> {
    if messages.len() > MAX_BATCH {
        return Err(Error::invalid(
            "batch size",
            format!(
                "{} messages is more than the limit of {MAX_BATCH}",
                messages.len()
            ),
        ));
    }
    Ok(())
}

/// A message `jsonb` can store: no U+0000 in any string or key. `index` names the message
/// in the error.
pub(crate) fn storable(index: usize, value: &Value) -> Result<()> {
    let nul = || Error::InvalidMessage {
        index,
        reason: "it contains the character U+0000, which Postgres jsonb cannot store".into(),
    };
    match value {
        Value::String(s) if s.contains('\0') => Err(nul()),
        Value::Array(items) => items.iter().try_for_each(|v| storable(index, v)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            if k.contains('\0') {
                return Err(nul());
            }
            storable(index, v)
        }),
        _ => Ok(()),
    }
}
