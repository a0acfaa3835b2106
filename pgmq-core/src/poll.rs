//! Waiting for messages: parked on the shared listening connection when the executor can
//! listen, else polling.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Result;
use crate::listen::{Readiness, Subscription};
use crate::name::QueueName;
use crate::Queue;

/// How often a reader whose listening connection is down (reconnecting) looks again.
pub(crate) const SLOW_POLL: Duration = Duration::from_secs(1);

/// How long to wait before reading again, for a reader that found `queue` empty in a read
/// made after `ready` was asked: `None` to wait for a notification alone.
pub(crate) fn pause(
    sub: &Subscription,
    ready: Option<&Readiness>,
    poll: Duration,
) -> Option<Duration> {
    match ready {
        Some(ready) if sub.is_listening() => ready.recheck_after(poll),
        _ if sub.can_listen() => Some(SLOW_POLL.max(poll)),
        _ => Some(poll),
    }
}

/// What a waiting reader asks before its last read: [`Queue::readiness`] while listening
/// (one statement, whose throttle it gives the subscription), nothing otherwise. Throttled
/// sends still in flight and a closed throttle window concern only the reader holding the
/// queue's watch ([`Subscription::watch`]); for the others the answer leaves them out.
pub(crate) async fn ask<Q: Queue + ?Sized>(
    queue: &Q,
    name: &QueueName,
    sub: &mut Subscription,
) -> Result<Option<Readiness>> {
    if !sub.is_listening() {
        return Ok(None);
    }
    let mut ready = queue.readiness(name).await?;
    if let Some(throttle) = ready.throttle.filter(|_| ready.notifies) {
        sub.set_throttle(throttle);
    }
    // One reader of the process looks again for the others, while a silent send is in flight
    // and when a closed throttle window ends; the rest stay parked (a message it finds wakes
    // the next).
    let window_closed = ready.throttle_window.is_some_and(|w| !w.is_zero());
    if !ready.suppressed_in_flight && !window_closed {
        sub.unwatch();
    } else if !sub.watch() {
        ready.suppressed_in_flight = false;
        ready.throttle_window = None;
    }
    Ok(Some(ready))
}

/// Calls `attempt` until it returns a non-empty list or `wait` has passed.
///
/// On an executor that can listen, the reader subscribes to the queue's notifications, and
/// after an empty read asks [`Queue::readiness`] and reads once more before it parks: parked,
/// it holds no connection and runs no query until a notification, the next message's
/// visibility time, or the deadline. Each of its statements waits for a turn
/// ([`Subscription::turn_to_read`]): a few of the process's waiting readers of a queue read
/// at a time, and a reader still waiting for its turn at the deadline returns empty (its
/// first read runs at the deadline without one). Neither the listening connection nor a
/// turn keeps a read past its deadline. Otherwise it pauses with `sleep` for
/// `interval` (at least 1 ms, never past the deadline) between attempts.
pub(crate) async fn until_some<Q, T, F, Fut, S, SFut>(
    queue: &Q,
    name: &QueueName,
    wait: Duration,
    interval: Duration,
    attempt: F,
    sleep: S,
) -> Result<Vec<T>>
where
    Q: Queue + ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
    S: Fn(Duration) -> SFut,
    SFut: Future<Output = ()>,
{
    let deadline = Instant::now() + wait;
    let interval = interval.max(Duration::from_millis(1));
    // The listening connection can take a while to come up (a new queue's channel makes it
    // connect again): not past the deadline, after which this read polls.
    let mut sub = match tokio::time::timeout_at(deadline, queue.subscribe(name)).await {
        Ok(sub) => sub?,
        Err(_) => Subscription::polling(),
    };
    // The first read happens even when no turn comes before the deadline.
    let my_turn = turn_until(&sub, deadline).await.flatten();
    let mut found = attempt().await?;
    drop(my_turn);
    // Whether this reader has parked: one woken that finds messages passes the turn on.
    let mut parked = false;
    // Whether its last pause ended with a wake rather than its own timer.
    let mut woken = false;
    loop {
        if !found.is_empty() {
            if parked {
                // There may be more: let another parked reader look.
                sub.pass_on();
            }
            return Ok(found);
        }
        if Instant::now() >= deadline {
            return Ok(give_up(&mut sub, woken, found));
        }
        // One turn for the question and the read it covers.
        let Some(my_turn) = turn_until(&sub, deadline).await else {
            return Ok(give_up(&mut sub, woken, found));
        };
        let ready = ask(queue, name, &mut sub).await?;
        if ready.is_some() {
            // The read the answer covers.
            found = attempt().await?;
        }
        drop(my_turn);
        if !found.is_empty() {
            if parked {
                sub.pass_on();
            }
            return Ok(found);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let pause = pause(&sub, ready.as_ref(), interval).map_or(left, |p| p.min(left));
        parked = true;
        if sub.can_listen() {
            woken = tokio::select! {
                () = sub.changed() => true,
                () = tokio::time::sleep(pause) => false,
            };
        } else {
            sleep(pause).await;
        }
        let Some(my_turn) = turn_until(&sub, deadline).await else {
            return Ok(give_up(&mut sub, woken, found));
        };
        found = attempt().await?;
        drop(my_turn);
        sub.answered();
    }
}

/// Waits for a turn to read ([`Subscription::turn_to_read`]) until `deadline`; `None` when
/// the deadline came first (the process's readers of the queue all busy, say with
/// statements stuck behind a lock), so that a waiting read still ends at its deadline.
async fn turn_until(
    sub: &Subscription,
    deadline: Instant,
) -> Option<Option<tokio::sync::OwnedSemaphorePermit>> {
    tokio::time::timeout_at(deadline, sub.turn_to_read())
        .await
        .ok()
}

/// What a reader returns at its deadline: the (empty) `found`, after passing a wake it took
/// (perhaps a watch handed over) on to another parked reader.
fn give_up<T>(sub: &mut Subscription, woken: bool, found: Vec<T>) -> Vec<T> {
    if woken {
        sub.pass_on();
        sub.answered();
    }
    found
}
