//! The commands. Each validates its arguments first (a bad name fails before any connection),
//! then connects and works through the `Queue` and `QueueExt` API only: no SQL here.

mod acks;
mod attributes;
mod messages;
mod queues;
mod redrive;

use std::process::ExitCode;
use std::time::Duration;

use pgmq_core::QueueName;
use pgmq_sqlx::SqlxQueue;

use crate::cli::{Cli, Command};
use crate::error::{one_line, CliError};
use crate::output::Out;

/// What every command gets: how to connect, and where to print.
#[derive(Debug)]
pub(crate) struct Ctx {
    url: Option<String>,
    connect_timeout: Duration,
    pub(crate) out: Out,
}

impl Ctx {
    /// Connects to the database, checking once that it answers.
    pub(crate) async fn connect(&self) -> Result<SqlxQueue, CliError> {
        let Some(url) = self.url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Err(CliError::usage(
                "no database to connect to: pass --database-url or set DATABASE_URL",
            ));
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(CliError::new(
                "invalid database URL: expected postgres://user:password@host:port/database",
            ));
        }
        match tokio::time::timeout(self.connect_timeout, SqlxQueue::connect(url)).await {
            Ok(Ok(queue)) => Ok(queue),
            Ok(Err(e)) if is_bad_url(&e) => Err(CliError::new(format!(
                "invalid database URL: {}",
                root_cause(&e)
            ))),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(CliError::new(format!(
                "connection to Postgres failed: no answer within {}s (--connect-timeout)",
                self.connect_timeout.as_secs_f64()
            ))),
        }
    }
}

/// Whether connecting failed on the URL itself rather than on the server.
fn is_bad_url(err: &pgmq_core::Error) -> bool {
    let source = std::error::Error::source(err);
    matches!(
        source.and_then(|s| s.downcast_ref::<sqlx::Error>()),
        Some(sqlx::Error::Configuration(_))
    )
}

/// The last error of `err`'s chain, on one line (sqlx nests its configuration errors, each
/// repeating "error with configuration").
fn root_cause(err: &pgmq_core::Error) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    one_line(cause)
}

/// A queue name from the command line, validated.
pub(crate) fn queue_name(name: &str) -> Result<QueueName, CliError> {
    Ok(QueueName::new(name)?)
}

/// Runs the command `cli` names.
pub(crate) async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let ctx = Ctx {
        url: cli.database_url,
        connect_timeout: cli.connect_timeout,
        out: Out { json: cli.json },
    };
    match cli.command {
        Command::List => queues::list(&ctx).await,
        Command::Metrics(args) => queues::metrics(&ctx, args).await,
        Command::Create(args) => queues::create(&ctx, args).await,
        Command::Drop(args) => queues::drop(&ctx, args).await,
        Command::Purge(args) => queues::purge(&ctx, args).await,
        Command::Send(args) => messages::send(&ctx, args).await,
        Command::Peek(args) => messages::peek(&ctx, args).await,
        Command::Read(args) => messages::read(&ctx, args).await,
        Command::Ack(args) => acks::ack(&ctx, args).await,
        Command::Nack(args) => acks::nack(&ctx, args).await,
        Command::Redrive(args) => redrive::redrive(&ctx, args).await,
        Command::Attributes(args) => attributes::attributes(&ctx, args).await,
    }
}
