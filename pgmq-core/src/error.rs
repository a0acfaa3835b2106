//! The one error type of pgmq-rs.

use std::error::Error as StdError;

/// A boxed error from a driver or pool, kept as the `source` of an [`Error`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// `Result` with [`Error`] as its default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a queue operation, on every backend alike.
///
/// Bad input is reported before any SQL runs and changes nothing. Driver errors are classified
/// here, in one place, so the same failure gives the same variant whichever driver crate is in
/// use; the driver's own error is kept as [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A queue name broke one of [`QueueName`](crate::QueueName)'s rules.
    #[error("invalid queue name {name:?}: {reason}")]
    InvalidQueueName {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// An argument was out of range: a negative visibility timeout or delay, a quantity of 0 or
    /// above [`MAX_BATCH`](crate::MAX_BATCH), a batch that is too large.
    #[error("invalid {argument}: {reason}")]
    InvalidArgument {
        /// The argument, e.g. `"visibility timeout"`.
        argument: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The queue does not exist (its table is missing).
    #[error("queue {queue:?} does not exist")]
    QueueNotFound {
        /// The queue's name.
        queue: String,
    },

    /// A message could not be turned into JSON. Nothing was written.
    #[error("message could not be serialized to JSON")]
    Serialize {
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// A message's JSON was not valid for the requested type. The message stays in the queue.
    #[error("message {msg_id} does not match the requested type")]
    Deserialize {
        /// The message that failed to deserialize.
        msg_id: i64,
        /// The deserializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// A message that Postgres' `jsonb` cannot store (a string holding `\u0000`). Nothing was
    /// written.
    #[error("message {index} cannot be stored: {reason}")]
    InvalidMessage {
        /// Position of the message in the call (0 for a single send).
        index: usize,
        /// Why it cannot be stored.
        reason: String,
    },

    /// A message is larger than its queue's maximum message size
    /// ([`QueueAttributes::max_message_bytes`](crate::QueueAttributes::max_message_bytes)).
    /// Nothing was written (for a batch, nothing of the batch).
    #[error("message {index} is {size} bytes, more than the queue's maximum of {limit}")]
    MessageTooLarge {
        /// Position of the first such message in the call (0 for a single send).
        index: usize,
        /// Its size: the bytes of its JSON text as Postgres renders `jsonb`.
        size: u64,
        /// The queue's maximum.
        limit: u64,
    },

    /// A queue's settings are not usable: its dead-letter queue does not exist or would
    /// close a cycle of dead-letter queues. Nothing was changed.
    #[error("invalid attributes for queue {queue:?}: {reason}")]
    InvalidAttributes {
        /// The queue whose attributes were being set.
        queue: String,
        /// What is wrong.
        reason: String,
    },

    /// Could not connect, or the connection was lost mid-operation.
    #[error("connection to Postgres failed or was lost")]
    Connection {
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// No pooled connection became free in time.
    #[error("timed out waiting for a connection from the pool")]
    PoolTimeout {
        /// The pool's error.
        #[source]
        source: BoxError,
    },

    /// Postgres rejected a statement.
    #[error("database error ({kind:?}, SQLSTATE {code})")]
    Database {
        /// The class of failure, for matching and retry decisions.
        kind: DbErrorKind,
        /// The five-character SQLSTATE.
        code: String,
        /// The driver's error, with Postgres' message.
        #[source]
        source: BoxError,
    },

    /// The driver failed in a way none of the variants above describes.
    #[error("database driver error")]
    Driver {
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// The backend does not provide this operation. Methods added to
    /// [`Queue`](crate::Queue) after a backend was written answer this by default, so a
    /// hand-written `Queue` keeps compiling; every driver adapter provides them all.
    #[error("this backend does not support {operation}")]
    Unsupported {
        /// The operation, e.g. `"read_grouped"`.
        operation: &'static str,
    },

    /// A partitioned queue was asked for, or partition maintenance, in a database without
    /// the pg_partman extension (see [`PartitionInterval`](crate::PartitionInterval)). The
    /// reason says what to install; pgmq-rs does not create the extension itself.
    #[error("{reason}")]
    PartmanUnavailable {
        /// What is missing and how to install it.
        reason: String,
    },

    /// A row did not have the shape the statement promised (a driver decoding failure).
    #[error("could not decode a result row: {reason}")]
    Decode {
        /// What did not match.
        reason: String,
        /// The driver's error, when it had one.
        #[source]
        source: Option<BoxError>,
    },
}

/// The class of a [`Error::Database`], read from its SQLSTATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DbErrorKind {
    /// `40001`: a serializable transaction could not be committed; retry it.
    SerializationFailure,
    /// `40P01`: the transaction was chosen as a deadlock victim; retry it.
    Deadlock,
    /// `57014`: cancelled, by `statement_timeout` or a cancel request.
    QueryCanceled,
    /// `42P01` or `3F000`: a table or schema is missing.
    UndefinedTable,
    /// `42883`: a function is missing. From [`Queue::metrics`](crate::Queue::metrics) and
    /// [`Queue::metrics_all`](crate::Queue::metrics_all) it means this library's
    /// [`install`](crate::Queue::install) (or any `create`) never ran in the database (only
    /// the pgmq extension did, or an older pgmq-rs): run it once.
    UndefinedFunction,
    /// `25P02`: the caller's transaction already failed; roll it back.
    TransactionAborted,
    /// `42501`: permission denied. The role lacks a privilege the statement needs, or is
    /// not the owner of an object it alters or drops: e.g. an application role set up as in
    /// `docs/least-privilege.md` that tries to create or drop a queue.
    InsufficientPrivilege,
    /// `22P05` and other data exceptions (class `22`).
    DataException,
    /// Any other SQLSTATE.
    Other,
}

impl DbErrorKind {
    /// Classifies a SQLSTATE.
    pub fn from_sqlstate(code: &str) -> Self {
        match code {
            "40001" => Self::SerializationFailure,
            "40P01" => Self::Deadlock,
            "57014" => Self::QueryCanceled,
            "42P01" | "3F000" => Self::UndefinedTable,
            "42883" => Self::UndefinedFunction,
            "25P02" => Self::TransactionAborted,
            "42501" => Self::InsufficientPrivilege,
            c if c.starts_with("22") => Self::DataException,
            _ => Self::Other,
        }
    }
}

impl Error {
    /// Builds the error for a statement Postgres rejected with SQLSTATE `code`.
    ///
    /// Adapters call this for every database error, so classification happens in one place.
    /// Connection-class states (`08…`, and `57P01`–`57P03` for a server shutting down) become
    /// [`Error::Connection`].
    pub fn from_database(code: &str, source: impl Into<BoxError>) -> Self {
        let source = source.into();
        if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") {
            return Self::Connection { source };
        }
        Self::Database {
            kind: DbErrorKind::from_sqlstate(code),
            code: code.to_owned(),
            source,
        }
    }

    /// The SQLSTATE, for database errors.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Self::Database { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether running the same operation again may succeed: a lost connection, a pool
    /// timeout, a serialization failure or a deadlock.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Connection { .. }
                | Self::PoolTimeout { .. }
                | Self::Database {
                    kind: DbErrorKind::SerializationFailure | DbErrorKind::Deadlock,
                    ..
                }
        )
    }

    /// [`Error::Driver`] around `source`: for a driver failure that no other variant
    /// describes (in an adapter, a custom backend or a test harness).
    pub fn driver(source: impl Into<BoxError>) -> Self {
        Self::Driver {
            source: source.into(),
        }
    }

    /// [`QueueNotFound`](Self::QueueNotFound) naming `queue`.
    pub(crate) fn not_found(queue: &crate::QueueName) -> Self {
        Self::QueueNotFound {
            queue: queue.to_string(),
        }
    }

    pub(crate) fn invalid(argument: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            argument,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_denied_is_its_own_kind_and_not_retryable() {
        let e = Error::from_database("42501", "permission denied for table meta");
        assert!(matches!(
            e,
            Error::Database {
                kind: DbErrorKind::InsufficientPrivilege,
                ..
            }
        ));
        assert_eq!(e.sqlstate(), Some("42501"));
        assert!(!e.is_retryable());
    }
}
