//! Running core's statements: the column list kept with the rows, missing tables reported as
//! missing queues, and this library's own objects installed on first need.

use crate::adapter::{Executor, Statement};
use crate::checks::on_queue;
use crate::decode::Rows;
use crate::error::{DbErrorKind, Error, Result};
use crate::name::QueueName;
use crate::sql;

/// Runs `statement`, keeping its column list with the rows.
pub(crate) async fn run<E: Executor + ?Sized>(executor: &E, statement: Statement) -> Result<Rows> {
    let columns = statement.columns;
    let rows = executor.query(statement).await?;
    Ok(Rows { rows, columns })
}

/// The statement `build` makes, run on `queue`, reporting a missing table as
/// [`Error::QueueNotFound`].
///
/// Statements also read this library's own objects (`pgmq_rs.queue_attributes`, the metrics
/// function), which `install` and `create` make. In a database where only the pgmq extension
/// made the queues, they are missing at first: then this installs them and builds and runs
/// the statement once more, so such queues work as they are. (Not inside the caller's
/// transaction, which the failed statement has aborted: there the answer stays
/// `QueueNotFound` until `install` has run.) The statement is built again rather than kept
/// for that second try, so the way that succeeds copies nothing.
pub(crate) async fn on<E, B>(executor: &E, queue: &QueueName, build: B) -> Result<Rows>
where
    E: Executor + ?Sized,
    B: Fn() -> Statement + Send + Sync,
{
    installed(executor, build).await.map_err(on_queue(queue))
}

/// [`run`] with the first-need install of [`on`], without mapping errors to a queue.
pub(crate) async fn installed<E, B>(executor: &E, build: B) -> Result<Rows>
where
    E: Executor + ?Sized,
    B: Fn() -> Statement + Send + Sync,
{
    match run(executor, build()).await {
        Err(e) if missing_object(&e) && installs_missing(executor).await => {
            run(executor, build()).await
        }
        other => other,
    }
}

fn missing_object(e: &Error) -> bool {
    matches!(
        e,
        Error::Database {
            kind: DbErrorKind::UndefinedTable | DbErrorKind::UndefinedFunction,
            ..
        }
    )
}

/// Whether this library's objects were missing and are now installed. Any failure (such as
/// an aborted transaction) answers `false`.
async fn installs_missing<E: Executor + ?Sized>(executor: &E) -> bool {
    let Ok(rows) = run(executor, sql::installed()).await else {
        return false;
    };
    let installed = rows.single().and_then(|mut c| c.boolean("installed"));
    matches!(installed, Ok(false)) && executor.query(sql::install()).await.is_ok()
}
