//! Claiming with the dead-letter policy applied, and redriving dead letters.

use std::time::Duration;

use tokio::time::Instant;

use crate::adapter::{Executor, Statement};
use crate::attributes::RedriveOptions;
use crate::checks::on_queue;
use crate::decode;
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::options::MAX_BATCH;
use crate::outcomes;
use crate::run::on;
use crate::sql;
use crate::types::Message;

/// How many times one read claims again to replace messages it dead-lettered.
const MAX_ROUNDS: usize = 8;

/// How far past its own claim a short read looks for messages it left out: rows another
/// reader held when it claimed can put them a little further down the `vt` order.
const DEAD_WINDOW_SLACK: i64 = 100;

/// The most rows that look ever scans.
const MAX_DEAD_WINDOW: i64 = 1000;

/// Claims up to `qty` messages with the statement `build(qty)` makes (a read or a pop).
///
/// A claimed message already received `max_receive_count` times is not handed out: the
/// claim leaves it untouched. A claim that hands out fewer messages than it asked for then
/// looks for such messages at the head of the queue ([`sql::dead_letters`], one more
/// statement, only on a short answer) and moves them to the dead-letter queue before this
/// returns (one statement, so each is either still in the queue, visible, or in the
/// dead-letter queue; never both, never lost). Every reader that claims it leaves it
/// alone, so it is never handed out again, even if this process dies before moving it: the
/// next read that meets it moves it. The read then claims again for the places the dead
/// letters took, so a read returns fewer messages than it could only when there are no more.
pub(crate) async fn claim<E, B>(
    executor: &E,
    queue: &QueueName,
    qty: i64,
    build: B,
) -> Result<Vec<Message>>
where
    E: Executor + ?Sized,
    B: Fn(i64) -> Statement + Send + Sync,
{
    let mut handed_out = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let want = qty - i64::try_from(handed_out.len()).unwrap_or(qty);
        let handed = decode::messages(on(executor, queue, || build(want)).await?)?;
        let short = i64::try_from(handed.len()).unwrap_or(want) < want;
        handed_out.extend(handed);
        if !short {
            break;
        }
        // Short: the queue ran out, or the claim left messages past their receive count.
        if no_policy::known(queue) {
            break;
        }
        let window = (want + DEAD_WINDOW_SLACK).min(MAX_DEAD_WINDOW);
        let found = on(executor, queue, || sql::dead_letters(queue, window)).await?;
        let Some((dlq, ids)) = (match outcomes::dead_letters(found)? {
            None => {
                no_policy::remember(queue);
                None
            }
            Some(dead) => dead,
        }) else {
            break;
        };
        let moved = sql::dead_letter(queue, &dlq, ids);
        executor.query(moved).await.map_err(on_queue(&dlq))?;
    }
    handed_out.sort_by_key(|m| m.msg_id);
    Ok(handed_out)
}

/// Moves dead letters out of `dlq` (see [`Queue::redrive`](crate::Queue::redrive)).
pub(crate) async fn redrive<E: Executor + ?Sized>(
    executor: &E,
    dlq: &QueueName,
    options: RedriveOptions,
) -> Result<u64> {
    if options.chunk == 0 || options.chunk > MAX_BATCH {
        return Err(Error::invalid(
            "redrive chunk",
            format!("{} is outside 1..={MAX_BATCH}", options.chunk),
        ));
    }
    if options.per_second == Some(0) {
        return Err(Error::invalid("redrive rate", "0 messages per second"));
    }
    // Also says QueueNotFound at once for a dead-letter queue that does not exist.
    let mut next_source = oldest_source(executor, dlq).await?;
    let started = Instant::now();
    let mut moved: u64 = 0;
    loop {
        let left = options
            .max
            .map_or(u64::MAX, |max| max.saturating_sub(moved));
        let chunk = u64::try_from(options.chunk).unwrap_or(1).min(left);
        if chunk == 0 {
            break;
        }
        let (to, source) = match &options.to {
            Some(to) => (to.clone(), None),
            None => match next_source.take() {
                Some(source) => (source.clone(), Some(source)),
                None => break,
            },
        };
        let limit = i64::try_from(chunk).unwrap_or(i64::MAX);
        let st = || sql::redrive(dlq, &to, source.as_ref(), limit);
        // The dead-letter queue exists (looked at above), so a missing table is the target.
        let n = on(executor, &to, st).await?.single()?.int8("count")?;
        let n = u64::try_from(n).unwrap_or_default();
        if n == 0 {
            break;
        }
        moved = moved.saturating_add(n);
        if options.to.is_none() {
            next_source = oldest_source(executor, dlq).await?;
        }
        if let Some(progress) = &options.progress {
            progress(moved);
        }
        if let Some(rate) = options.per_second {
            let due = Duration::from_secs_f64(moved as f64 / f64::from(rate));
            let elapsed = started.elapsed();
            if due > elapsed {
                executor.sleep(due - elapsed).await;
            }
        }
    }
    Ok(moved)
}

/// The source queue of the oldest dead letter in `dlq` that names a valid one.
async fn oldest_source<E: Executor + ?Sized>(
    executor: &E,
    dlq: &QueueName,
) -> Result<Option<QueueName>> {
    let rows = on(executor, dlq, || sql::oldest_source(dlq)).await?;
    match rows.each().next() {
        None => Ok(None),
        Some(mut c) => Ok(Some(QueueName::new(c.text("source")?)?)),
    }
}

/// Queues seen without a dead-letter policy, so that a short read (an empty poll, most of
/// all) does not look for dead letters every time.
///
/// Per process and by queue name only, for at most [`no_policy::FOR`]. Being wrong is safe:
/// the claim itself never hands out a message past its receive count, whatever this says; a
/// stale entry only delays moving such messages to the dead-letter queue by up to that long.
/// Setting attributes through this process forgets the queue at once.
pub(crate) mod no_policy {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock, PoisonError};
    use std::time::{Duration, Instant};

    use crate::name::QueueName;

    /// How long "no policy" is believed.
    pub(crate) const FOR: Duration = Duration::from_secs(1);

    fn seen() -> &'static Mutex<HashMap<QueueName, Instant>> {
        static SEEN: OnceLock<Mutex<HashMap<QueueName, Instant>>> = OnceLock::new();
        SEEN.get_or_init(Mutex::default)
    }

    /// Whether `queue` was seen without a policy within [`FOR`].
    pub(crate) fn known(queue: &QueueName) -> bool {
        let seen = seen().lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(queue).is_some_and(|at| at.elapsed() < FOR)
    }

    /// `queue` has no policy now.
    pub(crate) fn remember(queue: &QueueName) {
        let mut seen = seen().lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() > 10_000 {
            seen.retain(|_, at| at.elapsed() < FOR);
        }
        seen.insert(queue.clone(), Instant::now());
    }

    /// `queue`'s attributes changed here: look again next time.
    pub(crate) fn forget(queue: &QueueName) {
        seen()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(queue);
    }
}
