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

/// Tells apart the two causes sqlx reports as `PoolTimedOut`: its pool retries a refused
/// connection until the acquire timeout and then reports only the timeout. One direct
/// connection attempt with the pool's own options says which it was: a server that cannot be
/// reached is [`Error::Connection`], as on every other backend; otherwise the pool really was
/// exhausted.
pub(crate) async fn pool_timeout(pool: &sqlx::PgPool) -> Error {
    use sqlx::ConnectOptions as _;

    let probe = tokio::time::timeout(PROBE_TIMEOUT, pool.connect_options().connect()).await;
    match probe {
        Ok(Err(e)) => map(e),
        Ok(Ok(conn)) => {
            let _ = sqlx::Connection::close(conn).await;
            Error::PoolTimeout {
                source: Box::new(sqlx::Error::PoolTimedOut),
            }
        }
        Err(elapsed) => Error::Connection {
            source: Box::new(elapsed),
        },
    }
}

/// How long [`pool_timeout`]'s probe may take to connect.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
