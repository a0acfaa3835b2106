//! Acknowledging: `ack` (delete or archive) and `nack` (visible again), by receipt or id.

use std::process::ExitCode;

use pgmq_core::serde_json::{json, Value};
use pgmq_core::{Queue, Receipt, VisibleAt};

use super::{queue_name, Ctx};
use crate::cli::{AckArgs, NackArgs};
use crate::error::CliError;
use crate::output::count;
use crate::values::MessageRef;

/// What `ack` or `nack` did for one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Acted,
    Stale,
    NotFound,
}

/// `pgmq ack`.
pub(crate) async fn ack(ctx: &Ctx, args: AckArgs) -> Result<ExitCode, CliError> {
    let name = queue_name(&args.queue)?;
    let queue = ctx.connect().await?;
    let (receipts, ids) = split(&args.messages);
    let (fences, done) = if args.archive {
        let fences = queue.archive_receipts(&name, &receipts).await?;
        (fences, queue.archive_batch(&name, &ids).await?)
    } else {
        let fences = queue.delete_receipts(&name, &receipts).await?;
        (fences, queue.delete_batch(&name, &ids).await?)
    };
    let acted: Vec<bool> = fences.iter().map(|f| f.acted()).collect();
    let verb = if args.archive { "archived" } else { "deleted" };
    report(ctx, &args.messages, &acted, &done, verb)
}

/// `pgmq nack`.
pub(crate) async fn nack(ctx: &Ctx, args: NackArgs) -> Result<ExitCode, CliError> {
    let name = queue_name(&args.queue)?;
    let vt = args.delay.map_or_else(VisibleAt::now, VisibleAt::After);
    let queue = ctx.connect().await?;
    let (receipts, ids) = split(&args.messages);
    let updated = queue.set_vt_receipts(&name, &receipts, vt).await?;
    let acted: Vec<bool> = updated.iter().map(Option::is_some).collect();
    let found: Vec<i64> = (queue.set_vt_batch(&name, &ids, vt).await?.iter())
        .map(|m| m.msg_id)
        .collect();
    report(ctx, &args.messages, &acted, &found, "visible")
}

/// The receipts and the bare ids among `refs`, each in input order.
fn split(refs: &[MessageRef]) -> (Vec<Receipt>, Vec<i64>) {
    let mut receipts = Vec::new();
    let mut ids = Vec::new();
    for r in refs {
        match r {
            MessageRef::Receipt(receipt) => receipts.push(*receipt),
            MessageRef::Id(id) => ids.push(*id),
        }
    }
    (receipts, ids)
}

/// Prints one line per message in input order (`acted` answers the receipts in order, `found`
/// holds the ids acted on); fails when any message was not acted on.
fn report(
    ctx: &Ctx,
    refs: &[MessageRef],
    acted: &[bool],
    found: &[i64],
    verb: &str,
) -> Result<ExitCode, CliError> {
    let mut receipts = acted.iter();
    let outcomes: Vec<Outcome> = (refs.iter())
        .map(|r| match r {
            MessageRef::Receipt(_) if receipts.next() == Some(&true) => Outcome::Acted,
            MessageRef::Receipt(_) => Outcome::Stale,
            MessageRef::Id(id) if found.contains(id) => Outcome::Acted,
            MessageRef::Id(_) => Outcome::NotFound,
        })
        .collect();
    let word = |o: Outcome| match o {
        Outcome::Acted => verb,
        Outcome::Stale => "stale",
        Outcome::NotFound => "not found",
    };
    if ctx.out.json {
        let each: Vec<Value> = (refs.iter().zip(&outcomes))
            .map(|(r, o)| json!({"message": r.to_string(), "result": word(*o)}))
            .collect();
        ctx.out.json(&Value::Array(each))?;
    } else {
        for (r, o) in refs.iter().zip(&outcomes) {
            ctx.out.line(format!("{r} {}", word(*o)))?;
        }
    }
    let missed = outcomes.iter().filter(|o| **o != Outcome::Acted).count();
    if missed == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    Err(CliError::new(format!(
        "{missed} of {} not {verb}: a stale receipt (the message was read again since, or is \
         gone) or an unknown id changes nothing",
        count(refs.len() as u64, "message")
    )))
}
