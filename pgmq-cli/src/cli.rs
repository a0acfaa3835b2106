//! The command line, as clap types. Queue names stay strings here: they are validated by
//! `QueueName` in the command, so a bad name fails with core's one-line message.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::values::{key_value, positive_secs, secs, MessageRef};

/// Operate pgmq-rs queues in Postgres: inspect, send, peek, read, acknowledge, purge,
/// redrive, watch.
#[derive(Debug, Parser)]
#[command(name = "pgmq", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Postgres to connect to, as postgres://user:password@host:port/database.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub(crate) database_url: Option<String>,

    /// Print JSON for programs instead of tables for people.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// Give up connecting after this many seconds.
    #[arg(long, global = true, value_name = "SECS", default_value = "10", value_parser = positive_secs)]
    pub(crate) connect_timeout: Duration,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// One subcommand per operator task.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the queues.
    List,
    /// Show one queue's metrics, or every queue's; with --watch, redraw until Ctrl-C.
    Metrics(MetricsArgs),
    /// Create a queue (nothing happens if it exists).
    Create(CreateArgs),
    /// Drop a queue, its messages and its archive (asks first unless --yes).
    Drop(ConfirmArgs),
    /// Delete every message in a queue (asks first unless --yes).
    Purge(ConfirmArgs),
    /// Send one JSON message, or JSON lines from stdin in batches.
    Send(SendArgs),
    /// Show visible messages without claiming them (no read counted, nothing hidden).
    Peek(PeekArgs),
    /// Claim visible messages for a visibility timeout and print them with their receipts.
    Read(ReadArgs),
    /// Acknowledge (delete) messages by receipt (ID:READ_CT, fenced) or by bare id.
    Ack(AckArgs),
    /// Give messages back (visible again now) by receipt (ID:READ_CT, fenced) or by bare id.
    Nack(NackArgs),
    /// Move messages out of a dead-letter queue, back to their sources or to --to.
    Redrive(RedriveArgs),
    /// Show a queue's attributes, or change some with --set KEY=VALUE (KEY= unsets).
    Attributes(AttributesArgs),
}

/// `pgmq metrics`.
#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// The queue; every queue when left out.
    pub(crate) queue: Option<String>,
    /// Refresh every SECS seconds until Ctrl-C (with --json: one JSON document per line).
    #[arg(long, value_name = "SECS", value_parser = positive_secs)]
    pub(crate) watch: Option<Duration>,
}

/// `pgmq create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The queue.
    pub(crate) queue: String,
    /// Create the queue table UNLOGGED: faster, but emptied by a crash.
    #[arg(long)]
    pub(crate) unlogged: bool,
}

/// `pgmq drop` and `pgmq purge`.
#[derive(Debug, Args)]
pub(crate) struct ConfirmArgs {
    /// The queue.
    pub(crate) queue: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

/// `pgmq send`.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The queue.
    pub(crate) queue: String,
    /// The message, as JSON; left out or `-`: one message per line of stdin.
    pub(crate) message: Option<String>,
    /// Make the messages visible only after SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = secs)]
    pub(crate) delay: Option<Duration>,
    /// A header for every message (repeatable); the value is a string.
    #[arg(long = "header", value_name = "KEY=VALUE", value_parser = key_value)]
    pub(crate) headers: Vec<(String, String)>,
    /// Messages per batch when reading stdin (each batch one statement, all or nothing).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) batch_size: usize,
}

/// `pgmq peek`.
#[derive(Debug, Args)]
pub(crate) struct PeekArgs {
    /// The queue.
    pub(crate) queue: String,
    /// How many messages to show, at most (1 to 1000).
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 10)]
    pub(crate) count: usize,
}

/// `pgmq read`.
#[derive(Debug, Args)]
pub(crate) struct ReadArgs {
    /// The queue.
    pub(crate) queue: String,
    /// Hide the messages read for SECS seconds (their visibility timeout).
    #[arg(long, value_name = "SECS", value_parser = secs)]
    pub(crate) vt: Duration,
    /// How many messages to claim, at most (1 to 1000).
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 1)]
    pub(crate) count: usize,
}

/// `pgmq ack`.
#[derive(Debug, Args)]
pub(crate) struct AckArgs {
    /// The queue.
    pub(crate) queue: String,
    /// Receipts as ID:READ_CT (act only if nobody has read the message since), or bare ids.
    #[arg(required = true, value_name = "RECEIPT|ID")]
    pub(crate) messages: Vec<MessageRef>,
    /// Archive the messages (keep them in the archive table) instead of deleting them.
    #[arg(long)]
    pub(crate) archive: bool,
}

/// `pgmq nack`.
#[derive(Debug, Args)]
pub(crate) struct NackArgs {
    /// The queue.
    pub(crate) queue: String,
    /// Receipts as ID:READ_CT (act only if nobody has read the message since), or bare ids.
    #[arg(required = true, value_name = "RECEIPT|ID")]
    pub(crate) messages: Vec<MessageRef>,
    /// Make the messages visible after SECS seconds instead of now.
    #[arg(long, value_name = "SECS", value_parser = secs)]
    pub(crate) delay: Option<Duration>,
}

/// `pgmq redrive`.
#[derive(Debug, Args)]
pub(crate) struct RedriveArgs {
    /// The dead-letter queue to empty.
    pub(crate) dead_letter_queue: String,
    /// Move every message to this queue instead of the queue each came from.
    #[arg(long, value_name = "QUEUE")]
    pub(crate) to: Option<String>,
    /// Move at most N messages.
    #[arg(long, value_name = "N")]
    pub(crate) max: Option<u64>,
    /// Move at most R messages per second.
    #[arg(long, value_name = "R")]
    pub(crate) rate: Option<u32>,
    /// Messages per chunk, each chunk its own transaction (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) chunk: usize,
}

/// `pgmq attributes`.
#[derive(Debug, Args)]
pub(crate) struct AttributesArgs {
    /// The queue.
    pub(crate) queue: String,
    /// Change attributes: default_vt, default_delay, archive_retention (seconds),
    /// max_message_bytes, dead_letter_queue and max_receive_count (a policy: both together);
    /// KEY= unsets one.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value, num_args = 1..)]
    pub(crate) set: Vec<(String, String)>,
}
