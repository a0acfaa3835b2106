//! What a driver adapter works with: the [`Executor`] it implements, the [`Statement`]s core
//! hands it, and the [`Cell`]s it hands back. Applications never need this module.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::Result;

/// Runs statements that core built. This is all an adapter crate implements; every
/// [`Executor`] is a [`Queue`](crate::Queue) through a blanket implementation.
///
/// An implementation binds [`Statement::params`] in order, runs [`Statement::sql`] (prepared
/// and cached per connection when [`Statement::persistent`] is set), decodes each column by
/// the [`SqlType`] of its [`Statement::columns`] entry into a [`Cell`], and maps driver
/// failures with [`Error::from_database`](crate::Error::from_database),
/// [`Error::Connection`](crate::Error::Connection) or
/// [`Error::PoolTimeout`](crate::Error::PoolTimeout). Nothing else: no SQL, no retries, no
/// validation.
#[async_trait]
pub trait Executor: Send + Sync {
    /// Runs one statement and returns its rows.
    async fn query(&self, statement: Statement) -> Result<Vec<Row>>;

    /// Runs `statements` in order on one connection, all or nothing: in a new transaction, or
    /// in a savepoint when the connection is already inside the caller's transaction.
    /// Returns each statement's rows.
    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>>;

    /// Pauses between the polls of a read with a wait. The default sleeps on the tokio
    /// timer; the blocking bridge sleeps the thread.
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    /// Opens listening connections for readers that wait, if this executor can: one on a
    /// pool opens a dedicated connection from the pool's configuration (a pool's own
    /// connections do not surface notifications). The default, for an executor on the
    /// caller's connection or transaction, is `None`: its waiting readers poll.
    fn listener(&self) -> Option<Arc<dyn Listener>> {
        None
    }
}

/// Opens dedicated connections that `LISTEN`, for waiting readers. Core keeps one such
/// connection per process and database (named by [`database`](Self::database)), shared by
/// every waiting reader. It opens a new one when it lost the last, or when it needs another
/// channel and [`Notifications::listen`] cannot add it to the one it has.
#[async_trait]
pub trait Listener: Send + Sync + 'static {
    /// Opens a new connection, runs `LISTEN` on each of `channels` (quoted: they contain
    /// dots), and returns it once every `LISTEN` has completed.
    async fn listen(&self, channels: &[String]) -> Result<Box<dyn Notifications>>;

    /// Names the database this listener connects to (host, port, database, user). Listeners
    /// that name the same database share one connection.
    fn database(&self) -> String;

    /// When core checks that a quiet connection of this listener still answers
    /// ([`Notifications::check`]). The default, [`Liveness::default`], suits adapters; a
    /// wrapper may change it.
    fn liveness(&self) -> Liveness {
        Liveness::default()
    }
}

/// When core checks a listening connection: after [`quiet`](Self::quiet) with nothing
/// received on it, with [`Notifications::check`], which must answer within
/// [`timeout`](Self::timeout).
///
/// A connection that stays quiet can be gone without a sign: a NAT gateway or load balancer
/// drops idle connections without telling either end, and a host that vanished sends
/// nothing. Its readers would then wait for notifications that never come; a failed or late
/// check makes core drop it, wake every reader to read again, and connect anew. The checks
/// also keep such a middlebox from counting the connection as idle.
///
/// The process's listening connection to a database (one per tokio runtime) takes these
/// times from the listener that opened it first: queues of the same database made with
/// other times share it as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    /// How long a connection may receive nothing before it is checked (and between checks).
    pub quiet: Duration,
    /// How long a check may take before the connection counts as lost; also how long
    /// opening a listening connection and a `LISTEN` or `UNLISTEN` on one may take.
    pub timeout: Duration,
    /// How long a queue no reader of the process waits on any more stays listened on: after
    /// between one and two of these, core runs `UNLISTEN` on its channel
    /// ([`Notifications::unlisten`]), and closes the connection once it listens on nothing.
    /// A reader that waits on the queue again listens anew first (a `LISTEN` round trip, or
    /// a new connection), which its first read waits for. Without it, a process would keep
    /// every queue it ever waited on, and its connection, for its whole life. At least
    /// 10 ms; a year or more never comes.
    pub unlisten_after: Duration,
}

impl Default for Liveness {
    /// Checked after 60 s of quiet (below the idle limits of common NAT gateways and load
    /// balancers), lost after 10 s without an answer; a queue nobody waits on any more is
    /// let go of after 60 to 120 s.
    fn default() -> Self {
        Self {
            quiet: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            unlisten_after: Duration::from_secs(60),
        }
    }
}

/// A listening connection: the notifications it receives, until it fails.
#[async_trait]
pub trait Notifications: Send {
    /// Waits for the next notification and returns its channel. An error means the
    /// connection is lost; core then drops it and opens another.
    ///
    /// Core may drop the future before it completes. With an adapter that implements
    /// [`listen`](Self::listen), it then listens on more channels and calls `next` again on
    /// the same connection, so dropping the future must lose no notification; otherwise it
    /// drops the connection too.
    async fn next(&mut self) -> Result<String>;

    /// Runs `LISTEN` on each of `channels` on this connection ([`listen_sql`] builds the
    /// statement) and returns `true` once it has completed. A notification the connection
    /// receives meanwhile, on a channel it already listened on, must still come out of
    /// [`next`](Self::next). An error means the connection is lost.
    ///
    /// `false` when the adapter cannot: core then opens a new connection listening on every
    /// channel and drops this one, which is what this default does. Readers of the other
    /// channels then read again, in case a notification came while neither connection
    /// listened.
    async fn listen(&mut self, channels: &[String]) -> Result<bool> {
        let _ = channels;
        Ok(false)
    }

    /// One round trip on this connection, as cheap as the driver allows (best: no
    /// transaction, which a waiting process's idle statistics would count), returning `true`
    /// once the server has answered; core calls it when the connection has been quiet for a
    /// while ([`Listener::liveness`]). An error, or no answer in time, means the connection
    /// is lost. As with [`listen`](Self::listen), a notification received meanwhile must
    /// still come out of [`next`](Self::next).
    ///
    /// `false` when the adapter cannot: core then never checks this connection again, and
    /// wakes its readers once, in case the dropped `next` future lost a notification. That
    /// is this default.
    async fn check(&mut self) -> Result<bool> {
        Ok(false)
    }

    /// Runs `UNLISTEN` on each of `channels` on this connection ([`unlisten_sql`] builds the
    /// statement) and returns `true` once it has completed; core calls it for the channels no
    /// reader has waited on for a while ([`Liveness::unlisten_after`]). As with
    /// [`listen`](Self::listen), a notification received meanwhile must still come out of
    /// [`next`](Self::next). An error means the connection is lost.
    ///
    /// `false` when the adapter cannot, which is what this default does: core then opens a
    /// new connection listening on the channels still waited on and drops this one (readers
    /// of those channels read again once), and from then on lets go of channels only when it
    /// can let go of all of them, by closing the connection.
    async fn unlisten(&mut self, channels: &[String]) -> Result<bool> {
        let _ = channels;
        Ok(false)
    }
}

/// One batch of `LISTEN` statements, one per channel, each quoted (channels contain dots),
/// for [`Listener::listen`] and [`Notifications::listen`]. In one batch, the server shows
/// every channel in the connection's last query.
pub fn listen_sql(channels: &[String]) -> String {
    each_channel("LISTEN", channels)
}

/// One batch of `UNLISTEN` statements, one per channel, quoted as [`listen_sql`] quotes
/// them, for [`Notifications::unlisten`].
pub fn unlisten_sql(channels: &[String]) -> String {
    each_channel("UNLISTEN", channels)
}

/// `command` on each of `channels`, quoted, as one batch.
fn each_channel(command: &str, channels: &[String]) -> String {
    channels
        .iter()
        .map(|c| format!("{command} \"{}\";", c.replace('"', "\"\"")))
        .collect()
}

/// One SQL statement built by core: its text, its bind parameters and the columns it returns.
///
/// Adapters bind [`params`](Self::params) in order as `$1, $2, …`, run
/// [`sql`](Self::sql), and decode each result column by its [`SqlType`] into a [`Cell`].
/// Every parameter placeholder in the text carries a cast, so the server can infer its type
/// when preparing.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Statement {
    /// The SQL text.
    pub sql: String,
    /// Bind parameters, `$1` first.
    pub params: Vec<Param>,
    /// The result columns, in order; empty for a statement whose rows are not read.
    pub columns: &'static [Column],
    /// Whether the driver should prepare and cache this statement on its connection.
    /// `false` for one-off DDL.
    pub persistent: bool,
}

/// A bind parameter.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Param {
    /// `bigint`
    Int8(i64),
    /// `bigint`, possibly `NULL`
    NullableInt8(Option<i64>),
    /// `text`
    Text(String),
    /// `timestamptz`, possibly `NULL`
    Timestamptz(Option<DateTime<Utc>>),
    /// `jsonb`, possibly `NULL`
    Jsonb(Option<Value>),
    /// `jsonb[]`
    JsonbArray(Vec<Value>),
    /// `bigint[]`
    Int8Array(Vec<i64>),
}

impl Param {
    /// The Postgres type name, as core casts the placeholder (`$1::bigint`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Int8(_) | Self::NullableInt8(_) => "bigint",
            Self::Text(_) => "text",
            Self::Timestamptz(_) => "timestamptz",
            Self::Jsonb(_) => "jsonb",
            Self::JsonbArray(_) => "jsonb[]",
            Self::Int8Array(_) => "bigint[]",
        }
    }
}

/// The Postgres type of a result column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlType {
    /// `boolean`
    Bool,
    /// `integer`
    Int4,
    /// `bigint`
    Int8,
    /// `text`
    Text,
    /// `timestamptz`
    Timestamptz,
    /// `jsonb`
    Jsonb,
}

/// A result column: its name (for core's decoder and for error messages) and its type (for
/// the adapter's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The column's name in the statement's result.
    pub name: &'static str,
    /// What the adapter decodes it as.
    pub ty: SqlType,
}

impl Column {
    pub(crate) const fn new(name: &'static str, ty: SqlType) -> Self {
        Self { name, ty }
    }
}

/// One decoded result value. Any column may be `NULL`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Cell {
    /// SQL `NULL`
    Null,
    /// `boolean`
    Bool(bool),
    /// `integer`
    Int4(i32),
    /// `bigint`
    Int8(i64),
    /// `text`
    Text(String),
    /// `timestamptz`
    Timestamptz(DateTime<Utc>),
    /// `jsonb`
    Jsonb(Value),
}

/// One result row: a cell per entry of [`Statement::columns`].
pub type Row = Vec<Cell>;
