//! tokio-postgres and deadpool errors into core's error enum.

use std::error::Error as StdError;

use deadpool_postgres::{BuildError, HookError, PoolError};
use pgmq_core::Error;

/// tokio-postgres keeps its error kinds private; its `Display` text names them. These are
/// the kinds that mean the connection could not be made or cannot be trusted any more
/// (sqlx's `Io`, `Tls`, `Protocol` and `Configuration`).
const CONNECTION_KINDS: &[&str] = &[
    "error connecting to server",
    "error communicating with the server",
    "error performing TLS handshake",
    "timeout waiting for server",
    "unexpected message from server",
    "error parsing response from server",
    "error encoding message to server",
    "authentication error",
    "invalid connection string",
    "invalid configuration",
];

/// The kinds that mean a row did not have the shape asked for.
const DECODE_KINDS: &[&str] = &[
    "error deserializing column",
    "invalid column",
    "query returned an unexpected number of columns",
];

/// Classifies a tokio-postgres error. Database errors go through
/// [`Error::from_database`](pgmq_core::Error::from_database), so every backend reports the
/// same failure as the same variant.
pub(crate) fn map(err: tokio_postgres::Error) -> Error {
    if let Some(code) = err.code() {
        let code = code.code().to_owned();
        return Error::from_database(&code, err);
    }
    if err.is_closed() || caused_by_io(&err) || is_kind(&err, CONNECTION_KINDS) {
        return Error::Connection {
            source: Box::new(err),
        };
    }
    if is_kind(&err, DECODE_KINDS) {
        return Error::Decode {
            reason: "tokio-postgres could not decode a column".into(),
            source: Some(Box::new(err)),
        };
    }
    Error::Driver {
        source: Box::new(err),
    }
}

/// Classifies a failure to take a connection from the pool.
pub(crate) fn pool(err: PoolError) -> Error {
    match err {
        PoolError::Timeout(_) => Error::PoolTimeout {
            source: Box::new(err),
        },
        PoolError::Backend(e) | PoolError::PostCreateHook(HookError::Backend(e)) => map(e),
        PoolError::Closed => Error::Connection {
            source: Box::new(err),
        },
        other => Error::Driver {
            source: Box::new(other),
        },
    }
}

/// A pool that could not be built (timeouts without a runtime).
pub(crate) fn build(err: BuildError) -> Error {
    Error::Driver {
        source: Box::new(err),
    }
}

fn caused_by_io(err: &tokio_postgres::Error) -> bool {
    let mut source = err.source();
    while let Some(e) = source {
        if e.is::<std::io::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn is_kind(err: &tokio_postgres::Error, kinds: &[&str]) -> bool {
    let text = err.to_string();
    kinds.iter().any(|kind| text.starts_with(kind))
}
