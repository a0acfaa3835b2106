//! Messages: `send`, `peek`, `read`.

use std::io::BufRead;
use std::process::ExitCode;

use indicatif::ProgressBar;
use pgmq_core::serde_json::{self, json, to_value, Map, Value};
use pgmq_core::{Error, Message, Queue, QueueName, ReadOptions, SendOptions, MAX_BATCH};
use pgmq_sqlx::SqlxQueue;

use super::{queue_name, Ctx};
use crate::cli::{PeekArgs, ReadArgs, SendArgs};
use crate::error::{one_line, CliError};
use crate::output::{count, snippet, when, Align, Table};
use crate::values::receipt;

/// How much of a message's JSON a table shows (`--json` shows it all).
const CELL: usize = 60;

/// `pgmq send`.
pub(crate) async fn send(ctx: &Ctx, args: SendArgs) -> Result<ExitCode, CliError> {
    let name = queue_name(&args.queue)?;
    if args.batch_size == 0 || args.batch_size > MAX_BATCH {
        return Err(CliError::usage(format!(
            "--batch-size must be 1 to {MAX_BATCH}"
        )));
    }
    let one = match args.message.as_deref() {
        None | Some("-") => None,
        Some(text) => Some(
            serde_json::from_str::<Value>(text)
                .map_err(|e| CliError::new(format!("invalid JSON message: {e}")))?,
        ),
    };
    let mut options = SendOptions::new();
    if let Some(delay) = args.delay {
        options = options.delay(delay);
    }
    if !args.headers.is_empty() {
        let headers: Map<String, Value> = (args.headers.into_iter())
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        options = options.headers(Value::Object(headers));
    }
    let queue = ctx.connect().await?;
    if let Some(message) = one {
        let id = queue.send_json(&name, message, options).await?;
        if ctx.out.json {
            ctx.out
                .json(&json!({"queue": name.as_str(), "msg_id": id}))?;
        } else {
            ctx.out
                .line(format!("sent message {id} to queue {:?}", name.as_str()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let ids = send_lines(ctx, &queue, &name, &options, args.batch_size).await?;
    if ctx.out.json {
        let sent = json!({"queue": name.as_str(), "sent": ids.len(), "msg_ids": ids});
        ctx.out.json(&sent)?;
    } else {
        let n = count(ids.len() as u64, "message");
        ctx.out
            .line(format!("sent {n} to queue {:?}", name.as_str()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends stdin's JSON lines (blank lines skipped) in batches of `batch`, with a progress
/// spinner. A bad line stops it after sending every line before it.
async fn send_lines(
    ctx: &Ctx,
    queue: &SqlxQueue,
    name: &QueueName,
    options: &SendOptions,
    batch: usize,
) -> Result<Vec<i64>, CliError> {
    let mut batcher = Batcher {
        queue,
        name,
        options,
        bar: ctx.out.progress(None, "messages sent"),
        pending: Vec::with_capacity(batch),
        ids: Vec::new(),
    };
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| CliError::new(format!("reading stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(message) => batcher.pending.push((i + 1, message)),
            Err(e) => {
                batcher.flush().await?;
                batcher.bar.finish_and_clear();
                return Err(
                    CliError::new(format!("invalid JSON on line {}: {e}", i + 1))
                        .and(format!("sent before it: {}", batcher.sent())),
                );
            }
        }
        if batcher.pending.len() == batch {
            batcher.flush().await?;
        }
    }
    batcher.flush().await?;
    batcher.bar.finish_and_clear();
    Ok(batcher.ids)
}

/// Lines read and not yet sent, and the ids of those sent.
struct Batcher<'a> {
    queue: &'a SqlxQueue,
    name: &'a QueueName,
    options: &'a SendOptions,
    bar: ProgressBar,
    /// Each with its line number, for errors.
    pending: Vec<(usize, Value)>,
    ids: Vec<i64>,
}

impl Batcher<'_> {
    /// How many were sent so far, as words.
    fn sent(&self) -> String {
        count(self.ids.len() as u64, "message")
    }

    /// Sends the pending lines as one batch (all or nothing).
    async fn flush(&mut self) -> Result<(), CliError> {
        let Some(&(first, _)) = self.pending.first() else {
            return Ok(());
        };
        let (lines, messages): (Vec<usize>, Vec<Value>) = self.pending.drain(..).unzip();
        let options = self.options.clone();
        match self
            .queue
            .send_batch_json(self.name, messages, options)
            .await
        {
            Ok(sent) => {
                self.ids.extend(sent);
                self.bar.set_position(self.ids.len() as u64);
                Ok(())
            }
            Err(e) => {
                let line = match &e {
                    Error::MessageTooLarge { index, .. } | Error::InvalidMessage { index, .. } => {
                        lines.get(*index).copied()
                    }
                    _ => None,
                };
                let at = line.map_or_else(
                    || format!("batch from line {first}"),
                    |l| format!("line {l}"),
                );
                self.bar.finish_and_clear();
                Err(
                    CliError::new(format!("{at}: {}", one_line(&e))).and(format!(
                        "sent before its batch: {}, none after",
                        self.sent()
                    )),
                )
            }
        }
    }
}

/// `pgmq peek`.
pub(crate) async fn peek(ctx: &Ctx, args: PeekArgs) -> Result<ExitCode, CliError> {
    let name = queue_name(&args.queue)?;
    let messages = ctx.connect().await?.peek(&name, args.count).await?;
    if ctx.out.json {
        ctx.out.json(&to_value(&messages).unwrap_or_default())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        ("MSG_ID", Align::Right),
        ("READ_CT", Align::Right),
        ("ENQUEUED", Align::Left),
        ("VISIBLE SINCE", Align::Left),
        ("MESSAGE", Align::Left),
        ("HEADERS", Align::Left),
    ]);
    for m in &messages {
        table.row(vec![
            m.msg_id.to_string(),
            m.read_ct.to_string(),
            when(m.enqueued_at),
            when(m.vt),
            snippet(Some(&m.message), CELL),
            snippet(m.headers.as_ref(), CELL),
        ]);
    }
    print_messages(ctx, &name, &table)
}

/// `pgmq read`.
pub(crate) async fn read(ctx: &Ctx, args: ReadArgs) -> Result<ExitCode, CliError> {
    let name = queue_name(&args.queue)?;
    let options = ReadOptions::new().vt(args.vt).qty(args.count);
    let messages = ctx.connect().await?.read_json(&name, options).await?;
    if ctx.out.json {
        let with_receipts: Vec<Value> = messages.iter().map(with_receipt).collect();
        ctx.out.json(&Value::Array(with_receipts))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        ("RECEIPT", Align::Left),
        ("ENQUEUED", Align::Left),
        ("HIDDEN UNTIL", Align::Left),
        ("MESSAGE", Align::Left),
        ("HEADERS", Align::Left),
    ]);
    for m in &messages {
        table.row(vec![
            receipt(m.receipt()),
            when(m.enqueued_at),
            when(m.vt),
            snippet(Some(&m.message), CELL),
            snippet(m.headers.as_ref(), CELL),
        ]);
    }
    print_messages(ctx, &name, &table)
}

fn print_messages(ctx: &Ctx, name: &QueueName, table: &Table) -> Result<ExitCode, CliError> {
    ctx.out.line(if table.is_empty() {
        format!("no visible messages in queue {:?}", name.as_str())
    } else {
        table.render()
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A read message as JSON, with its receipt as the CLI takes it back (`ID:READ_CT`).
fn with_receipt(m: &Message) -> Value {
    let mut value = to_value(m).unwrap_or_default();
    if let Value::Object(fields) = &mut value {
        fields.insert("receipt".into(), receipt(m.receipt()).into());
    }
    value
}
