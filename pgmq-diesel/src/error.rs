//! diesel errors into core's error enum.
//!
//! Diesel 2.3 does not hand out a failed statement's SQLSTATE: its `DatabaseErrorInformation`
//! has the message, detail, hint and names, and its `DatabaseErrorKind` names only a few
//! states. So the code is recovered here from what diesel does give: the kind where it is
//! precise, and otherwise Postgres' primary message for the states whose class matters to
//! callers (missing table or schema, cancellation, lock timeout, deadlock, aborted
//! transaction, common data exceptions, storage parameter values out of range, `VACUUM` inside
//! a transaction, server shutdown). Every recovered code then goes through
//! [`Error::from_database`](pgmq_core::Error::from_database), like on every other backend. A
//! database error that matches nothing becomes [`Error::Driver`], as sqlx's code-less ones do.
//! The messages are Postgres' English ones: with a server `lc_messages` in another language
//! only the kind-based states are recognised.

use diesel::result::{ConnectionError, DatabaseErrorInformation, DatabaseErrorKind};
use diesel_async::pooled_connection::deadpool::PoolError;
use diesel_async::pooled_connection::PoolError as ManagerError;
use pgmq_core::Error;

/// What an atomic run that failed with `failed` reports once the rollback returned `rollback`.
/// Mirrors diesel's own `transaction`: a broken transaction manager means the connection is
/// gone and the statement's error says why; any other rollback failure is the news.
pub(crate) fn after_rollback(failed: Error, rollback: diesel::QueryResult<()>) -> Error {
    match rollback {
        Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => failed,
        Err(rollback) => map(rollback),
    }
}

/// Classifies a diesel error.
pub(crate) fn map(err: diesel::result::Error) -> Error {
    use diesel::result::Error as E;
    match err {
        E::DatabaseError(kind, info) => database(kind, info),
        E::DeserializationError(source) => Error::Decode {
            reason: "diesel could not decode a column".into(),
            source: Some(source),
        },
        // Diesel gives up on a connection whose transaction state it can no longer trust
        // (typically after the connection broke mid-transaction); it is unusable from now on.
        E::BrokenTransactionManager => Error::Connection {
            source: Box::new(err),
        },
        // The commit's own failure (e.g. a serialization failure at commit) is what the
        // caller needs to classify; the failed rollback after it leaves the connection broken,
        // which diesel's transaction manager already records.
        E::RollbackErrorOnCommit { commit_error, .. } => map(*commit_error),
        other => Error::Driver {
            source: Box::new(other),
        },
    }
}

fn database(
    kind: DatabaseErrorKind,
    info: Box<dyn DatabaseErrorInformation + Send + Sync>,
) -> Error {
    let code = match kind {
        DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
            return Error::Connection {
                source: Box::new(diesel::result::Error::DatabaseError(kind, info)),
            }
        }
        DatabaseErrorKind::SerializationFailure => Some("40001"),
        DatabaseErrorKind::UniqueViolation => Some("23505"),
        DatabaseErrorKind::ForeignKeyViolation => Some("23503"),
        DatabaseErrorKind::NotNullViolation => Some("23502"),
        DatabaseErrorKind::CheckViolation => Some("23514"),
        DatabaseErrorKind::RestrictViolation => Some("23001"),
        DatabaseErrorKind::ExclusionViolation => Some("23P01"),
        DatabaseErrorKind::ReadOnlyTransaction => Some("25006"),
        _ => sqlstate_of_message(info.message()),
    };
    let source = diesel::result::Error::DatabaseError(kind, info);
    match code {
        Some(code) => Error::from_database(code, source),
        None => Error::Driver {
            source: Box::new(source),
        },
    }
}

/// Postgres' primary messages (as `prefix`, `suffix`) for the SQLSTATEs callers branch on.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("relation \"", "\" does not exist", "42P01"),
    ("table \"", "\" does not exist", "42P01"),
    ("missing FROM-clause entry for table \"", "\"", "42P01"),
    ("schema \"", "\" does not exist", "3F000"),
    ("canceling statement due to statement timeout", "", "57014"),
    ("canceling statement due to user request", "", "57014"),
    ("deadlock detected", "", "40P01"),
    ("could not serialize access due to ", "", "40001"),
    (
        "current transaction is aborted, commands ignored until end of transaction block",
        "",
        "25P02",
    ),
    ("canceling statement due to lock timeout", "", "55P03"),
    ("could not obtain lock on ", "", "55P03"),
    ("unsupported Unicode escape sequence", "", "22P05"),
    ("invalid input syntax for type ", "", "22P02"),
    ("division by zero", "", "22012"),
    ("integer out of range", "", "22003"),
    ("bigint out of range", "", "22003"),
    ("timestamp out of range", "", "22008"),
    (
        "terminating connection due to administrator command",
        "",
        "57P01",
    ),
    (
        "terminating connection due to crash of another server process",
        "",
        "57P02",
    ),
    ("the database system is shutting down", "", "57P03"),
    ("the database system is starting up", "", "57P03"),
    // `VACUUM` (Queue::vacuum) inside the caller's transaction.
    ("", " cannot run inside a transaction block", "25001"),
];

/// Postgres' primary messages (as `prefix`, then `infix` somewhere after it) for states whose
/// message ends in a name: a storage parameter out of range or of the wrong type
/// (`Queue::set_storage`).
const CONTAINING: &[(&str, &str, &str)] = &[
    ("value ", " out of bounds for option \"", "22023"),
    ("invalid value for ", " option \"", "22023"),
];

fn sqlstate_of_message(message: &str) -> Option<&'static str> {
    let whole = MESSAGES.iter().find(|(prefix, suffix, _)| {
        message.len() >= prefix.len() + suffix.len()
            && message.starts_with(prefix)
            && message.ends_with(suffix)
    });
    let part = || {
        CONTAINING.iter().find(|(prefix, infix, _)| {
            message
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.contains(infix))
        })
    };
    whole.or_else(part).map(|(_, _, code)| *code)
}

/// Classifies a failure to connect: always [`Error::Connection`].
pub(crate) fn connection(err: ConnectionError) -> Error {
    Error::Connection {
        source: Box::new(err),
    }
}

/// Classifies a failure to get a connection from a deadpool pool.
pub(crate) fn pool(err: PoolError) -> Error {
    match err {
        PoolError::Timeout(_) => Error::PoolTimeout {
            source: Box::new(err),
        },
        PoolError::Backend(ManagerError::ConnectionError(e)) => connection(e),
        // The pool's health check on a recycled connection failed.
        PoolError::Backend(ManagerError::QueryError(e)) => map(e),
        PoolError::Closed => Error::Connection {
            source: Box::new(err),
        },
        other => Error::Driver {
            source: Box::new(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_give_their_sqlstate() {
        let cases = [
            ("relation \"pgmq.q_x\" does not exist", Some("42P01")),
            ("schema \"pgmq\" does not exist", Some("3F000")),
            (
                "canceling statement due to statement timeout",
                Some("57014"),
            ),
            ("canceling statement due to lock timeout", Some("55P03")),
            ("deadlock detected", Some("40P01")),
            (
                "value 5 out of bounds for option \"fillfactor\"",
                Some("22023"),
            ),
            (
                "invalid value for boolean option \"autovacuum_enabled\": 3",
                Some("22023"),
            ),
            (
                "VACUUM cannot run inside a transaction block",
                Some("25001"),
            ),
            ("value too long for type character varying(3)", None),
            ("relation \"pgmq.q_x\" already exists", None),
            ("syntax error at or near \"x\"", None),
        ];
        for (message, code) in cases {
            assert_eq!(sqlstate_of_message(message), code, "{message}");
        }
    }

    #[test]
    fn a_missing_table_is_undefined_table() {
        let err = diesel::result::Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("relation \"pgmq.q_gone\" does not exist".to_owned()),
        );
        match map(err) {
            Error::Database { kind, code, .. } => {
                assert_eq!(kind, pgmq_core::DbErrorKind::UndefinedTable);
                assert_eq!(code, "42P01");
            }
            other => panic!("expected Database, got {other:?}"),
        }
    }

    #[test]
    fn a_closed_connection_is_connection() {
        let err = diesel::result::Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new("server closed the connection unexpectedly".to_owned()),
        );
        assert!(matches!(map(err), Error::Connection { .. }));
    }
}
