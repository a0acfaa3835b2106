//! Queue lifecycle and inspection: `list`, `metrics`, `create`, `drop`, `purge`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use pgmq_core::serde_json::{json, to_value, Value};
use pgmq_core::{CreateOptions, Error, Queue, QueueExt, QueueMetrics, QueueName};
use pgmq_sqlx::SqlxQueue;

use super::{queue_name, Ctx};
use crate::cli::{ConfirmArgs, CreateArgs, MetricsArgs};
use crate::error::CliError;
use crate::output::{age, count, when, Align, Table};
use crate::signal::Interrupt;

/// `pgmq list`.
pub(crate) async fn list(ctx: &Ctx) -> Result<ExitCode, CliError> {
    let queues = ctx.connect().await?.list_queues().await?;
    if ctx.out.json {
        ctx.out.json(&to_value(&queues).unwrap_or_default())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        ("QUEUE", Align::Left),
        ("CREATED", Align::Left),
        ("UNLOGGED", Align::Left),
        ("PARTITIONED", Align::Left),
    ]);
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    for q in &queues {
        table.row(vec![
            q.queue_name.clone(),
            when(q.created_at),
            yes_no(q.is_unlogged),
            yes_no(q.is_partitioned),
        ]);
    }
    ctx.out.line(if table.is_empty() {
        "no queues".into()
    } else {
        table.render()
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `pgmq metrics [QUEUE] [--watch SECS]`.
pub(crate) async fn metrics(ctx: &Ctx, args: MetricsArgs) -> Result<ExitCode, CliError> {
    let name = args.queue.as_deref().map(queue_name).transpose()?;
    let queue = ctx.connect().await?;
    let Some(every) = args.watch else {
        let snapshot = snapshot(&queue, name.as_ref()).await?;
        if ctx.out.json {
            ctx.out.json(&as_json(&snapshot, name.is_some()))?;
        } else {
            ctx.out.line(metrics_table(&snapshot))?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let interrupt = Interrupt::on_ctrl_c();
    while !interrupt.pressed() {
        let snapshot = snapshot(&queue, name.as_ref()).await?;
        if ctx.out.json {
            ctx.out.json_line(&as_json(&snapshot, name.is_some()))?;
        } else {
            let at = snapshot
                .first()
                .map_or_else(String::new, |m| when(m.scrape_time));
            ctx.out.clear_screen()?;
            ctx.out.line(format!(
                "every {}s, at {at} (Ctrl-C to stop)\n\n{}\n",
                every.as_secs_f64(),
                metrics_table(&snapshot)
            ))?;
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = interrupt.wait() => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One queue's metrics, or every queue's.
async fn snapshot(queue: &SqlxQueue, name: Option<&QueueName>) -> Result<Vec<QueueMetrics>, Error> {
    match name {
        Some(name) => Ok(vec![queue.metrics(name).await?]),
        None => queue.metrics_all().await,
    }
}

/// One queue: its object; every queue: an array.
fn as_json(snapshot: &[QueueMetrics], one: bool) -> Value {
    match (one, snapshot) {
        (true, [m]) => to_value(m).unwrap_or_default(),
        _ => to_value(snapshot).unwrap_or_default(),
    }
}

fn metrics_table(snapshot: &[QueueMetrics]) -> String {
    let mut table = Table::new(&[
        ("QUEUE", Align::Left),
        ("LENGTH", Align::Right),
        ("VISIBLE", Align::Right),
        ("IN FLIGHT", Align::Right),
        ("DELAYED", Align::Right),
        ("OLDEST VISIBLE", Align::Right),
        ("TOTAL SENT", Align::Right),
        ("DEAD-LETTER QUEUE", Align::Left),
        ("DLQ LENGTH", Align::Right),
    ]);
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for m in snapshot {
        table.row(vec![
            m.queue_name.clone(),
            m.queue_length.to_string(),
            m.queue_visible_length.to_string(),
            m.queue_in_flight_length.to_string(),
            m.queue_delayed_length.to_string(),
            age(m.oldest_visible_msg_age_sec),
            m.total_messages.to_string(),
            or_dash(m.dead_letter_queue.clone()),
            or_dash(m.dead_letter_queue_length.map(|n| n.to_string())),
        ]);
    }
    if table.is_empty() {
        "no queues".into()
    } else {
        table.render()
    }
}

/// `pgmq create`.
pub(crate) async fn create(ctx: &Ctx, args: CreateArgs) -> Result<ExitCode, CliError> {
    let name = queue_name(&args.queue)?;
    let queue = ctx.connect().await?;
    if args.unlogged {
        queue.create_unlogged(&name).await?;
    } else {
        queue.create(&name, CreateOptions::new()).await?;
    }
    if ctx.out.json {
        ctx.out
            .json(&json!({"queue": name.as_str(), "unlogged": args.unlogged}))?;
    } else {
        ctx.out.line(format!("created queue {:?}", name.as_str()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `pgmq drop`.
pub(crate) async fn drop(ctx: &Ctx, args: ConfirmArgs) -> Result<ExitCode, CliError> {
    let name = queue_name(&args.queue)?;
    let queue = ctx.connect().await?;
    if !args.yes {
        let q = name.as_str();
        let question = |n: &str| format!("Drop queue {q:?}, its archive and {n}?");
        ask(&queue, &name, question, "dropped").await?;
    }
    let existed = match queue.drop_queue(&name).await {
        Ok(existed) => existed,
        // Foreign key violation: a queue's dead-letter policy names this one.
        Err(e) if e.sqlstate() == Some("23503") => {
            return Err(CliError::new(format!(
                "queue {:?} is the dead-letter queue of another queue; unset that policy first \
                 (pgmq attributes QUEUE --set dead_letter_queue= max_receive_count=)",
                name.as_str()
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if !existed {
        return Err(Error::QueueNotFound {
            queue: name.to_string(),
        }
        .into());
    }
    if ctx.out.json {
        ctx.out
            .json(&json!({"queue": name.as_str(), "dropped": true}))?;
    } else {
        ctx.out.line(format!("dropped queue {:?}", name.as_str()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `pgmq purge`.
pub(crate) async fn purge(ctx: &Ctx, args: ConfirmArgs) -> Result<ExitCode, CliError> {
    let name = queue_name(&args.queue)?;
    let queue = ctx.connect().await?;
    if !args.yes {
        let q = name.as_str();
        let question = |n: &str| format!("Delete {n} from queue {q:?}?");
        ask(&queue, &name, question, "purged").await?;
    }
    let n = queue.purge(&name).await?;
    if ctx.out.json {
        ctx.out
            .json(&json!({"queue": name.as_str(), "purged": n}))?;
    } else {
        let n = count(n, "message");
        ctx.out
            .line(format!("purged {n} from queue {:?}", name.as_str()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks `question` (given what the queue holds) on stderr and reads the answer from stdin:
/// only `y` or `yes` goes on. An unknown queue fails here, before the question.
async fn ask(
    queue: &SqlxQueue,
    name: &QueueName,
    question: impl Fn(&str) -> String,
    done: &str,
) -> Result<(), CliError> {
    let held = match queue.metrics(name).await {
        Ok(m) => format!("its {}", count(m.queue_length.unsigned_abs(), "message")),
        Err(e @ Error::QueueNotFound { .. }) => return Err(e.into()),
        Err(_) => "all its messages".into(),
    };
    let mut stderr = std::io::stderr().lock();
    // Best effort: the answer is what counts.
    let _ = write!(stderr, "{} [y/N] ", question(&held));
    let _ = stderr.flush();
    let mut answer = String::new();
    let stdin = std::io::stdin();
    let _ = stdin.read_line(&mut answer);
    if !stdin.is_terminal() {
        // Nobody typed a line break after the question: end its line.
        let _ = writeln!(stderr);
    }
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        return Ok(());
    }
    Err(CliError::new(format!(
        "not confirmed: queue {:?} was not {done} (--yes skips the question)",
        name.as_str()
    )))
}
