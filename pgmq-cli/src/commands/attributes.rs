//! `pgmq attributes`: show a queue's attributes, or change some of them.

use std::process::ExitCode;
use std::time::Duration;

use pgmq_core::serde_json::{Map, Value};
use pgmq_core::{DeadLetter, Queue, QueueAttributes, QueueName};

use super::{queue_name, Ctx};
use crate::cli::AttributesArgs;
use crate::error::CliError;
use crate::output::{Align, Table};
use crate::values::{json_secs, secs, show_secs};

/// The keys `--set` takes, in the order they are shown.
const KEYS: [&str; 6] = [
    "default_vt",
    "default_delay",
    "max_message_bytes",
    "archive_retention",
    "dead_letter_queue",
    "max_receive_count",
];

/// `pgmq attributes QUEUE [--set KEY=VALUE…]`.
///
/// Setting reads the current attributes, changes the keys named and writes them all back, so
/// it is not atomic with another change made at the same moment.
pub(crate) async fn attributes(ctx: &Ctx, args: AttributesArgs) -> Result<ExitCode, CliError> {
    let name = queue_name(&args.queue)?;
    let queue = ctx.connect().await?;
    let mut attributes = queue.attributes(&name).await?;
    if !args.set.is_empty() {
        apply(&mut attributes, &args.set)?;
        queue.set_attributes(&name, attributes.clone()).await?;
    }
    let shown = shown(&attributes);
    if ctx.out.json {
        let fields: Map<String, Value> = (shown.into_iter())
            .map(|(key, value, _)| (key.to_owned(), value))
            .collect();
        ctx.out.json(&Value::Object(fields))?;
    } else {
        let mut table = Table::new(&[("ATTRIBUTE", Align::Left), ("VALUE", Align::Left)]);
        for (key, _, text) in shown {
            table.row(vec![key.to_owned(), text]);
        }
        ctx.out.line(table.render())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Every key with its value as JSON and as text (`-` when unset).
fn shown(a: &QueueAttributes) -> Vec<(&'static str, Value, String)> {
    let span = |d: Option<Duration>| (d.map_or(Value::Null, json_secs), d.map(show_secs));
    let dl = a.dead_letter.as_ref();
    let values = [
        span(a.default_vt),
        span(a.default_delay),
        (
            a.max_message_bytes.into(),
            a.max_message_bytes.map(|n| n.to_string()),
        ),
        span(a.archive_retention),
        (
            dl.map(|d| d.queue.as_str()).into(),
            dl.map(|d| d.queue.to_string()),
        ),
        (
            dl.map(|d| d.max_receive_count).into(),
            dl.map(|d| d.max_receive_count.to_string()),
        ),
    ];
    (KEYS.into_iter().zip(values))
        .map(|(key, (json, text))| (key, json, text.unwrap_or_else(|| "-".into())))
        .collect()
}

/// Applies `KEY=VALUE` changes (an empty value unsets) to `a`.
fn apply(a: &mut QueueAttributes, changes: &[(String, String)]) -> Result<(), CliError> {
    // The dead-letter policy is one value of two parts: collect both, then decide.
    let mut dlq: Option<Option<QueueName>> = None;
    let mut max_receives: Option<Option<u32>> = None;
    for (key, value) in changes {
        let value = value.trim();
        let bad = |why: String| CliError::new(format!("invalid value for {key}: {why}"));
        let span = || {
            (!value.is_empty())
                .then(|| secs(value))
                .transpose()
                .map_err(bad)
        };
        match key.as_str() {
            "default_vt" => a.default_vt = span()?,
            "default_delay" => a.default_delay = span()?,
            "archive_retention" => a.archive_retention = span()?,
            "max_message_bytes" => {
                a.max_message_bytes = number(value).map_err(bad)?;
            }
            "dead_letter_queue" => {
                dlq = Some((!value.is_empty()).then(|| queue_name(value)).transpose()?);
            }
            "max_receive_count" => max_receives = Some(number(value).map_err(bad)?),
            _ => {
                return Err(CliError::new(format!(
                    "unknown attribute {key:?}; the attributes are {}",
                    KEYS.join(", ")
                )))
            }
        }
    }
    if dlq.is_none() && max_receives.is_none() {
        return Ok(());
    }
    let unset = matches!(dlq, Some(None)) || matches!(max_receives, Some(None));
    let set = matches!(dlq, Some(Some(_))) || matches!(max_receives, Some(Some(_)));
    if unset && set {
        return Err(CliError::new(
            "dead_letter_queue and max_receive_count are one policy: set both, or unset both",
        ));
    }
    if unset {
        a.dead_letter = None;
        return Ok(());
    }
    let current = a.dead_letter.take();
    let queue = dlq
        .flatten()
        .or_else(|| current.as_ref().map(|d| d.queue.clone()));
    let count = max_receives
        .flatten()
        .or_else(|| current.as_ref().map(|d| d.max_receive_count));
    match (queue, count) {
        (Some(queue), Some(max_receive_count)) => {
            a.dead_letter = Some(DeadLetter {
                queue,
                max_receive_count,
            });
            Ok(())
        }
        _ => Err(CliError::new(
            "a dead-letter policy needs both dead_letter_queue and max_receive_count",
        )),
    }
}

/// A whole number, or `None` for an empty value.
fn number<T: std::str::FromStr>(value: &str) -> Result<Option<T>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| format!("{value:?} is not a whole number ≥ 0 in range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(a: &mut QueueAttributes, pairs: &[(&str, &str)]) -> Result<(), CliError> {
        let pairs: Vec<(String, String)> = (pairs.iter())
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        apply(a, &pairs)
    }

    #[test]
    fn keys_set_and_unset_one_at_a_time() {
        let mut a = QueueAttributes::new().default_delay(Duration::from_secs(5));
        set(&mut a, &[("default_vt", "30"), ("default_delay", "")]).expect("applies");
        assert_eq!(a.default_vt, Some(Duration::from_secs(30)));
        assert_eq!(a.default_delay, None);
        assert!(set(&mut a, &[("colour", "red")]).is_err());
        assert!(set(&mut a, &[("max_message_bytes", "-1")]).is_err());
    }

    #[test]
    fn the_dead_letter_policy_takes_both_parts() {
        let mut a = QueueAttributes::new();
        assert!(set(&mut a, &[("max_receive_count", "3")]).is_err());
        set(
            &mut a,
            &[("dead_letter_queue", "dlq"), ("max_receive_count", "3")],
        )
        .expect("set");
        set(&mut a, &[("max_receive_count", "5")]).expect("one part of an existing policy");
        let dl = a.dead_letter.clone().expect("policy");
        assert_eq!((dl.queue.as_str(), dl.max_receive_count), ("dlq", 5));
        assert!(set(
            &mut a,
            &[("dead_letter_queue", ""), ("max_receive_count", "2")]
        )
        .is_err());
        set(&mut a, &[("dead_letter_queue", "")]).expect("unset");
        assert_eq!(a.dead_letter, None);
    }
}
