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
        } => Error::not_found(queue),
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

/// The deepest nesting of arrays and objects a message may have: every adapter reads `jsonb`
/// back with serde_json, whose parser refuses a value nested 128 levels deep. Checking it
/// also keeps the recursion of cloning and serializing a message bounded.
pub(crate) const MAX_DEPTH: usize = 127;

/// A message `jsonb` can store and a read can decode: no U+0000 in any string or key, and
/// at most [`MAX_DEPTH`] levels of nesting. `index` names the message in the error.
pub(crate) fn storable(index: usize, value: &Value) -> Result<()> {
    unstorable(value, 0).map_or(Ok(()), |reason| {
        Err(Error::InvalidMessage { index, reason })
    })
}

/// Why `value`, found `depth` levels down, cannot be stored and read back, if it cannot.
/// Recurses at most [`MAX_DEPTH`] + 1 levels, however deep `value` is.
fn unstorable(value: &Value, depth: usize) -> Option<String> {
    const NUL: &str = "it contains the character U+0000, which Postgres jsonb cannot store";
    match value {
        Value::String(s) if s.contains('\0') => Some(NUL.into()),
        Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => Some(format!(
            "it nests arrays and objects more than {MAX_DEPTH} levels deep, \
             more than a read can decode"
        )),
        Value::Array(items) => items.iter().find_map(|v| unstorable(v, depth + 1)),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some(NUL.into());
            }
            unstorable(v, depth + 1)
        }),
        _ => None,
    }
}

/// Headers `jsonb` can store and a read can decode, by the rules of [`storable`]: checked
/// before any SQL, so a bad header fails as bad input and never aborts the caller's
/// transaction.
pub(crate) fn headers(headers: Option<&Value>) -> Result<()> {
    if let Some(reason) = headers.and_then(|h| unstorable(h, 0)) {
        return Err(Error::invalid("headers", reason));
    }
    let group = headers.and_then(|h| h.get(crate::grouped::GROUP_HEADER));
    let kind = match group {
        None | Some(Value::String(_) | Value::Null) => return Ok(()),
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::Array(_)) => "an array",
        Some(Value::Object(_)) => "an object",
    };
    Err(Error::invalid(
        "headers",
        format!(
            "the {} header names the message's group and must be a string, not {kind}",
            crate::grouped::GROUP_HEADER
        ),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn arrays(depth: usize) -> Value {
        (1..depth).fold(json!([]), |v, _| Value::Array(vec![v]))
    }

    /// Takes `v` apart a level at a time: serde_json's own drop recurses once per level.
    fn dismantle(mut v: Value) {
        while let Value::Array(mut items) = v {
            match items.pop() {
                Some(inner) => v = inner,
                None => break,
            }
        }
    }

    #[test]
    fn nesting_is_accepted_exactly_as_deep_as_serde_json_reads() {
        for depth in [MAX_DEPTH, MAX_DEPTH + 1] {
            let deep = arrays(depth);
            let text = serde_json::to_string(&deep).unwrap();
            let reads = serde_json::from_str::<Value>(&text).is_ok();
            assert_eq!(storable(0, &deep).is_ok(), reads, "depth {depth}");
        }
        assert!(storable(0, &arrays(MAX_DEPTH)).is_ok());
    }

    #[test]
    fn the_check_recurses_no_deeper_than_the_limit() {
        let deep = arrays(100_000);
        let checked = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn_scoped(s, || storable(3, &deep))
                .unwrap()
                .join()
                .unwrap()
        });
        assert!(matches!(
            checked,
            Err(Error::InvalidMessage { index: 3, .. })
        ));
        dismantle(deep);
    }

    #[test]
    fn a_group_key_must_be_a_string() {
        let group = crate::grouped::GROUP_HEADER;
        for ok in [
            json!({ group: "a" }),
            json!({ group: null }),
            json!({"other": 5}),
        ] {
            assert!(headers(Some(&ok)).is_ok(), "{ok}");
        }
        for bad in [
            json!({ group: 5 }),
            json!({ group: true }),
            json!({ group: ["a"] }),
        ] {
            assert!(
                matches!(
                    headers(Some(&bad)),
                    Err(Error::InvalidArgument {
                        argument: "headers",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn headers_are_checked_as_messages_are() {
        assert!(headers(None).is_ok());
        assert!(headers(Some(&arrays(MAX_DEPTH))).is_ok());
        for bad in [
            json!({"k": "\u{0}"}),
            json!({"\u{0}": 1}),
            arrays(MAX_DEPTH + 1),
        ] {
            let checked = headers(Some(&bad));
            assert!(
                matches!(
                    checked,
                    Err(Error::InvalidArgument {
                        argument: "headers",
                        ..
                    })
                ),
                "{bad}: {checked:?}"
            );
        }
    }
}
