//! `pgmq redrive`: dead letters back to their sources (or to `--to`), chunk by chunk, with a
//! progress bar; Ctrl-C stops between chunks.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use pgmq_core::serde_json::json;
use pgmq_core::{Error, Queue, RedriveOptions};

use super::{queue_name, Ctx};
use crate::cli::RedriveArgs;
use crate::error::CliError;
use crate::output::count;
use crate::signal::Interrupt;

/// The exit code of a command stopped by Ctrl-C, as a shell reports SIGINT.
const INTERRUPTED: u8 = 130;

/// `pgmq redrive`.
///
/// Each call to `Queue::redrive` moves one chunk (`max` = `chunk`), one statement and so one
/// transaction: the flag Ctrl-C sets is checked between them, so a stop never leaves a chunk
/// half moved. The rate is kept here, between chunks, so Ctrl-C also cuts a wait short.
pub(crate) async fn redrive(ctx: &Ctx, args: RedriveArgs) -> Result<ExitCode, CliError> {
    let dlq = queue_name(&args.dead_letter_queue)?;
    let to = args.to.as_deref().map(queue_name).transpose()?;
    if args.rate == Some(0) {
        return Err(CliError::usage(
            "--rate must be at least 1 message per second",
        ));
    }
    // A rate below the chunk size moves smaller chunks, so the pace is even.
    let chunk = args
        .rate
        .map_or(args.chunk, |rate| args.chunk.min(rate as usize));
    let queue = ctx.connect().await?;
    // For the bar's length; an unknown dead-letter queue fails here.
    let waiting = match queue.metrics(&dlq).await {
        Ok(m) => Some(u64::try_from(m.queue_visible_length).unwrap_or_default()),
        Err(e @ Error::QueueNotFound { .. }) => return Err(e.into()),
        Err(_) => None,
    };
    let expected = match (waiting, args.max) {
        (Some(w), Some(max)) => Some(w.min(max)),
        (w, _) => w,
    };
    let bar = ctx.out.progress(expected, "moved");
    let interrupt = Interrupt::on_ctrl_c();
    let started = Instant::now();
    let mut moved: u64 = 0;
    while !interrupt.pressed() {
        let left = args.max.map_or(u64::MAX, |max| max.saturating_sub(moved));
        let this_chunk = u64::try_from(chunk).unwrap_or(u64::MAX).min(left);
        if this_chunk == 0 {
            break;
        }
        let base = moved;
        let progress = bar.clone();
        let mut options = RedriveOptions::new()
            .chunk(usize::try_from(this_chunk).unwrap_or(chunk))
            .max(this_chunk)
            .progress(move |n| progress.set_position(base + n));
        if let Some(to) = &to {
            options = options.to(to.clone());
        }
        let n = match queue.redrive(&dlq, options).await {
            Ok(n) => n,
            Err(e) => {
                bar.abandon();
                let before = count(moved, "message");
                return Err(CliError::from(e).and(format!(
                    "moved before the error: {before}; run it again to move the rest"
                )));
            }
        };
        moved += n;
        if n < this_chunk {
            break; // nothing more to move (dead letters without a source stay)
        }
        if let Some(rate) = args.rate {
            let due = Duration::from_secs_f64(moved as f64 / f64::from(rate));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = interrupt.wait() => {}
                }
            }
        }
    }
    bar.finish_and_clear();
    let interrupted = interrupt.pressed();
    let target = to.as_ref().map_or_else(
        || "back to their source queues".to_owned(),
        |to| format!("to queue {:?}", to.as_str()),
    );
    if ctx.out.json {
        ctx.out.json(&json!({
            "dead_letter_queue": dlq.as_str(),
            "to": to.as_ref().map(|q| q.as_str()),
            "moved": moved,
            "interrupted": interrupted,
        }))?;
    } else {
        let (n, from) = (count(moved, "message"), dlq.as_str());
        ctx.out
            .line(format!("moved {n} from queue {from:?} {target}"))?;
    }
    if interrupted {
        let n = count(moved, "message");
        eprintln!("interrupted by Ctrl-C after {n}; run it again to move the rest");
        return Ok(ExitCode::from(INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}
