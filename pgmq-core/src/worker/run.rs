//! The worker's loop: read, spawn, heartbeat, settle, shut down.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};

use crate::error::{Error, Result};
use crate::ext::QueueExt;
use crate::listen::{Readiness, Subscription};
use crate::name::QueueName;
use crate::options::{VisibleAt, MAX_BATCH};
use crate::poll;
use crate::queue::Queue;
use crate::receipt::{Fence, Receipt};
use crate::trace;
use crate::types::Message;

use super::acks::Acks;
use super::backoff::backoff;
use super::heartbeat::{self, settle, Flight, Flights, LOST, SETTLING};
use super::vacuum::Vacuums;
use super::{running, Done, WorkerOptions, WorkerSummary};

/// What a run needs besides its handler.
pub(super) struct Context {
    pub(super) queue: Arc<dyn Queue>,
    pub(super) name: QueueName,
    pub(super) options: WorkerOptions,
    /// The dead-letter policy's maximum receive count, as read at start.
    pub(super) max_receives: Option<u32>,
}

impl Context {
    /// Whether a failure on the `read_ct`-th receive was the message's last allowed one.
    fn is_last(&self, read_ct: i32) -> bool {
        self.max_receives
            .is_some_and(|max| i64::from(read_ct) >= i64::from(max))
    }

    /// When a message that failed on its `read_ct`-th receive becomes visible again: after
    /// the backoff, or at once on its last allowed receive (no retry will come; the next
    /// read dead-letters it).
    fn retry_at(&self, read_ct: i32) -> VisibleAt {
        if self.is_last(read_ct) {
            return VisibleAt::now();
        }
        let o = &self.options;
        VisibleAt::After(backoff(read_ct, o.backoff_base, o.backoff_max))
    }

    fn count_failure(&self, summary: &mut WorkerSummary, read_ct: i32) {
        summary.failed += 1;
        if self.is_last(read_ct) {
            summary.dead_lettered += 1;
        }
    }
}

pub(super) async fn run<F, Fut, E>(
    ctx: Context,
    handler: Arc<F>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<WorkerSummary>
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    let ctx = Arc::new(ctx);
    let o = &ctx.options;
    let (acks, ack_task) = Acks::start(
        Arc::clone(&ctx.queue),
        ctx.name.clone(),
        o.ack_mode,
        o.ack_interval,
    );
    let mut tasks: JoinSet<Done> = JoinSet::new();
    // Acknowledgements of handlers that succeeded, until their flush answers.
    let mut acking: JoinSet<Option<Fence>> = JoinSet::new();
    let mut flights = Flights::new();
    // Handler slots: a message read ahead waits here for one to free.
    let slots = Arc::new(Semaphore::new(o.concurrency));
    let mut summary = WorkerSummary::default();
    let mut vacuums = Vacuums::new(o.vacuum_every);
    let mut beat = interval(o.vt / 3);
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut shutdown = pin!(shutdown);
    // Set once the worker stops reading: the end of the grace period.
    let mut stop_by: Option<Instant> = None;
    let mut failure: Option<Error> = None;
    let mut next_read = Some(Instant::now());
    // Parked on the queue's notifications between empty reads (polling where it cannot).
    let mut sub = match ctx.queue.subscribe(&ctx.name).await {
        Ok(sub) => sub,
        Err(_) => Subscription::polling(),
    };
    // What the queue said before the read in progress, once a read came back empty.
    let mut asked: Option<Option<Readiness>> = None;
    // Whether the read in progress follows a wake: one that finds messages passes it on.
    let mut woken = false;
    loop {
        if stop_by.is_some() && tasks.is_empty() && acking.is_empty() {
            break;
        }
        let free = o.max_held().saturating_sub(flights.len());
        let grace_end = stop_by.unwrap_or_else(|| Instant::now() + o.grace);
        tokio::select! {
            biased;
            () = &mut shutdown, if stop_by.is_none() => {
                stop_by = Some(Instant::now() + o.grace);
                // It reads no more: the watch, and a wake it has not read on, go to another
                // reader.
                sub.leave();
            }
            () = sleep_until(grace_end), if stop_by.is_some() => {
                abort_the_rest(&ctx, &mut tasks, &mut flights, &mut acking, &mut summary).await;
                break;
            }
            Some(answer) = acking.join_next(), if !acking.is_empty() => {
                count_ack(&mut summary, answer);
                if stop_by.is_none() {
                    vacuums.acknowledged(acknowledged(&summary), &ctx.queue, &ctx.name);
                }
            }
            Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let handled = matches!(joined, Ok((_, Done::Handled(_))));
                settled(&ctx, joined, &mut flights, &mut acking, &mut summary).await;
                if !handled && stop_by.is_none() {
                    vacuums.acknowledged(acknowledged(&summary), &ctx.queue, &ctx.name);
                }
                if !handled && next_read.is_none_or(|at| at > Instant::now()) {
                    // A failure made its message visible again later (no notification
                    // says so): read now, and let the answer set the timer for it.
                    next_read = Some(Instant::now());
                }
            }
            _ = beat.tick() => {
                let lost = heartbeat::beat(&*ctx.queue, &ctx.name, &mut flights, o.vt).await;
                summary.lost_claims += lost;
            }
            () = sub.changed(), if stop_by.is_none() && next_read.is_none_or(|at| at > Instant::now()) => {
                next_read = Some(Instant::now());
                woken = true;
            }
            () = sleep_until_some(next_read), if stop_by.is_none() && free > 0 => {
                let qty = free.min(o.batch_size);
                let read = o.read(qty);
                let now = Instant::now();
                let answer = ctx.queue.read_json(&ctx.name, read).await;
                if answer.is_ok() {
                    // A failed read leaves the wake for the next read, or for `leave`.
                    sub.answered();
                }
                match answer {
                    Ok(messages) if messages.is_empty() => {
                        next_read = match asked.take() {
                            // Asked before this read: park.
                            Some(ready) => {
                                poll::pause(&sub, ready.as_ref(), o.poll_interval).map(|p| now + p)
                            }
                            // Ask, then read once more (the read the answer covers).
                            None => match poll::ask(&*ctx.queue, &ctx.name, &mut sub).await {
                                Ok(ready) => {
                                    asked = Some(ready);
                                    Some(Instant::now())
                                }
                                Err(_) => Some(now + o.poll_interval),
                            },
                        };
                    }
                    Ok(messages) => {
                        asked = None;
                        next_read = Some(now);
                        // Its handlers may keep it from asking for a while: another reader
                        // of this process looks out for silent sends meanwhile.
                        sub.hand_over_watch();
                        if std::mem::take(&mut woken) {
                            // There may be more: let another parked reader look.
                            sub.pass_on();
                        }
                        for message in messages {
                            let to = Spawn { tasks: &mut tasks, flights: &mut flights, slots: &slots };
                            spawn(&ctx, &handler, &acks, to, message, now);
                        }
                    }
                    Err(error) if error.is_retryable() => {
                        asked = None;
                        next_read = Some(now + o.poll_interval);
                    }
                    Err(error) => {
                        failure = Some(error);
                        stop_by = Some(Instant::now() + o.grace);
                        sub.leave();
                    }
                }
            }
        }
    }
    // Every handler has ended; count the acknowledgements still being answered.
    while let Some(answer) = acking.join_next().await {
        count_ack(&mut summary, answer);
    }
    // The acknowledger has nothing left: it exits.
    drop(acks);
    let _ = ack_task.await;
    summary.vacuums = vacuums.finish().await;
    match failure {
        Some(error) => Err(error),
        None => Ok(summary),
    }
}

/// The messages acknowledged so far, as [`Vacuums`] counts them: processed and failed.
fn acknowledged(summary: &WorkerSummary) -> u64 {
    summary.processed + summary.failed
}

/// Counts one acknowledgement's answer.
fn count_ack(summary: &mut WorkerSummary, answer: std::result::Result<Option<Fence>, JoinError>) {
    match answer {
        Ok(Some(Fence::Acted)) => summary.processed += 1,
        Ok(Some(Fence::Stale)) => summary.stale_acks += 1,
        Ok(None) | Err(_) => summary.ack_errors += 1,
    }
}

/// Sleeps until `at`; never returns for `None` (parked until notified).
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Where [`spawn`] puts a message's task.
struct Spawn<'a> {
    tasks: &'a mut JoinSet<Done>,
    flights: &'a mut Flights,
    slots: &'a Arc<Semaphore>,
}

/// Starts a task for `message`, which waits for a handler slot (a message read ahead waits
/// until one frees), runs the handler and settles the message.
fn spawn<F, Fut, E>(
    ctx: &Arc<Context>,
    handler: &Arc<F>,
    acks: &Acks,
    to: Spawn<'_>,
    message: Message,
    read_at: Instant,
) where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    let receipt = message.receipt();
    let state = running();
    let (ctx2, handler, acks, state2, slots) = (
        Arc::clone(ctx),
        Arc::clone(handler),
        acks.clone(),
        Arc::clone(&state),
        Arc::clone(to.slots),
    );
    let (msg_id, read_ct) = (message.msg_id, message.read_ct);
    let handle = to.tasks.spawn(async move {
        // Never closed. Fair in the order tasks first ask, which the scheduler decides.
        let slot = slots.acquire_owned().await.ok();
        if state2.load(Ordering::Acquire) == LOST {
            // The claim ran out while the message waited: someone else holds it now.
            return Done::Lost;
        }
        // The span is made before the handler's future moves `ctx2` in.
        let named = Arc::clone(&ctx2);
        trace::processing(&named.name, msg_id, read_ct, async move {
            let result = handler(message).await;
            drop(slot);
            if !settle(&state2, SETTLING) {
                return Done::Lost;
            }
            match result {
                // The slot is free; the acknowledgement's answer is counted when it comes.
                Ok(()) => match acks.enqueue(receipt) {
                    Some(answer) => Done::Handled(answer),
                    None => Done::AckError,
                },
                // The worker's loop makes it visible again after the backoff (see
                // `settled`).
                Err(_) => Done::Failed,
            }
        })
        .await
    });
    to.flights.insert(
        handle.id(),
        Flight {
            receipt,
            state,
            claimed_at: read_at,
        },
    );
}

/// Counts a handler's task that has ended; a panicked one is a failure, retried as one.
async fn settled(
    ctx: &Context,
    joined: std::result::Result<(Id, Done), JoinError>,
    flights: &mut Flights,
    acking: &mut JoinSet<Option<Fence>>,
    summary: &mut WorkerSummary,
) {
    let id = match &joined {
        Ok((id, _)) => *id,
        Err(error) => error.id(),
    };
    let Some(flight) = flights.remove(&id) else {
        return;
    };
    match joined {
        Ok((_, Done::Handled(answer))) => {
            acking.spawn(async move { answer.await.ok().flatten() });
        }
        Ok((_, Done::AckError)) => summary.ack_errors += 1,
        Ok((_, Done::Lost)) => {}
        // Here rather than in the handler's task, so that it comes after any heartbeat in
        // flight (the loop runs one at a time), which would otherwise push the retry back to
        // a full visibility timeout.
        Ok((_, Done::Failed)) => retry_later(ctx, &flight, summary).await,
        Err(error) if error.is_cancelled() => {
            // A lost claim was counted when the heartbeat found it.
            if flight.state.load(Ordering::Acquire) != LOST {
                summary.aborted += 1;
            }
        }
        Err(_panicked) => {
            // A panic while the claim was lost: the other reader holds it, leave it be.
            if settle(&flight.state, SETTLING) {
                retry_later(ctx, &flight, summary).await;
            }
        }
    }
}

/// A failed (or panicked) handler's message: visible again after its backoff, counted as a
/// failure. Best effort: if the statement fails, the message reappears when its claim runs
/// out.
async fn retry_later(ctx: &Context, flight: &Flight, summary: &mut WorkerSummary) {
    let at = ctx.retry_at(flight.receipt.read_ct);
    let _ = ctx
        .queue
        .set_vt_receipt(&ctx.name, flight.receipt, at)
        .await;
    ctx.count_failure(summary, flight.receipt.read_ct);
}

/// The grace period is over: aborts the handlers still running, counts every task, and makes
/// the messages of the aborted ones visible at once (fenced, so nobody else's claim moves).
async fn abort_the_rest(
    ctx: &Context,
    tasks: &mut JoinSet<Done>,
    flights: &mut Flights,
    acking: &mut JoinSet<Option<Fence>>,
    summary: &mut WorkerSummary,
) {
    tasks.abort_all();
    let mut release: Vec<Receipt> = Vec::new();
    while let Some(joined) = tasks.join_next_with_id().await {
        if let Err(error) = &joined {
            if error.is_cancelled() {
                if let Some(flight) = flights.get(&error.id()) {
                    if settle(&flight.state, SETTLING) {
                        release.push(flight.receipt);
                    }
                }
            }
        }
        settled(ctx, joined, flights, acking, summary).await;
    }
    for chunk in release.chunks(MAX_BATCH) {
        let _ = ctx
            .queue
            .set_vt_receipts(&ctx.name, chunk, VisibleAt::now())
            .await;
    }
}
