//! sqlx errors into core's error enum.

use pgmq_core::Error;

/// Classifies an sqlx error. Database errors go through
/// [`Error::from_database`](pgmq_core::Error::from_database), so every backend reports the
/// same failure as the same variant.
pub(crate) fn map(err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => {
                let code = code.into_owned();
                Error::from_database(&code, sqlx::Error::Database(db))
            }
            None => Error::Driver {
                source: Box::new(sqlx::Error::Database(db)),
            },
        },
        sqlx::Error::PoolTimedOut => Error::PoolTimeout {
            source: Box::new(err),
        },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Configuration(_) => Error::Connection {
            source: Box::new(err),
        },
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. } => Error::Decode {
            reason: "sqlx could not decode a column".into(),
            source: Some(Box::new(err)),
        },
        other => Error::Driver {
            source: Box::new(other),
        },
    }
}
