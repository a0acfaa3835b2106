//! The FIFO index a grouped read needs: checked before the first grouped read of a queue,
//! so a queue without it fails at once instead of reading slowly.

use crate::adapter::Executor;
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::run::run;
use crate::sql;

/// Fails unless `queue` has this library's FIFO index: [`Error::QueueNotFound`] for a
/// queue that does not exist, [`Error::InvalidArgument`] (`"grouped"`) for one without the
/// index, or with the extension's GIN index in its place (with either, every grouped read
/// would scan the whole queue for each message it looks at).
///
/// One catalog lookup, then none for that queue for [`checked::FOR`] in this process.
pub(crate) async fn require<E: Executor + ?Sized>(executor: &E, queue: &QueueName) -> Result<()> {
    if checked::known(queue) {
        return Ok(());
    }
    let mut row = run(executor, sql::fifo_index(queue)).await?.single()?;
    if !row.boolean("queue")? {
        return Err(Error::not_found(queue));
    }
    let fix = format!("create it with Queue::create_fifo_index(\"{queue}\")");
    match row.opt_text("method")?.as_deref() {
        Some("btree") => {
            checked::remember(queue);
            Ok(())
        }
        None => Err(Error::invalid(
            "grouped",
            format!("queue \"{queue}\" has no FIFO index (pgmq.q_{queue}_fifo_idx): {fix}"),
        )),
        Some(other) => Err(Error::invalid(
            "grouped",
            format!(
                "the FIFO index of queue \"{queue}\" is a {other} index (the pgmq extension's, \
                 on all headers), which cannot find a group: drop pgmq.q_{queue}_fifo_idx, \
                 then {fix}"
            ),
        )),
    }
}

/// Queues seen with their FIFO index, per process, for at most [`FOR`](checked::FOR): an
/// index dropped meanwhile makes grouped reads slow until then, never wrong.
mod checked {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock, PoisonError};
    use std::time::{Duration, Instant};

    use crate::name::QueueName;

    /// How long a queue is believed to keep its index.
    pub(super) const FOR: Duration = Duration::from_secs(60);

    fn seen() -> &'static Mutex<HashMap<QueueName, Instant>> {
        static SEEN: OnceLock<Mutex<HashMap<QueueName, Instant>>> = OnceLock::new();
        SEEN.get_or_init(Mutex::default)
    }

    pub(super) fn known(queue: &QueueName) -> bool {
        let seen = seen().lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(queue).is_some_and(|at| at.elapsed() < FOR)
    }

    pub(super) fn remember(queue: &QueueName) {
        let mut seen = seen().lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() > 10_000 {
            seen.retain(|_, at| at.elapsed() < FOR);
        }
        seen.insert(queue.clone(), Instant::now());
    }
}
