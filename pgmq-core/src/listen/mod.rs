//! Waiting that costs nothing: readers park on a process-wide LISTEN connection and wake
//! when a send's notification arrives, instead of polling.

mod hub;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::adapter::Listener;
use crate::name::QueueName;
use hub::{Hub, Member, State};

/// How long [`Subscription::new`] waits for the listening connection before it lets the
/// reader poll slowly instead.
const CONNECT_WAIT: Duration = Duration::from_secs(2);

/// The channel the insert notifications of `queue` go to, as the pgmq extension names it:
/// `pgmq.q_<name>.INSERT`.
pub fn channel(queue: &QueueName) -> String {
    format!("pgmq.q_{}.INSERT", queue.as_str())
}

/// A reader's interest in one queue's insert notifications, made by
/// [`Queue::subscribe`](crate::Queue::subscribe).
///
/// Subscribe first, then read, then [`changed`](Self::changed): a message committed after
/// the subscription was made wakes `changed`, so nothing committed between the read and the
/// wait is missed. A queue whose executor cannot listen (one on the caller's own connection
/// or transaction) gives a subscription that never wakes: its readers poll.
#[derive(Debug)]
pub struct Subscription {
    inner: Option<Listening>,
}

struct Listening {
    /// Whether this subscription holds its channel's watch (see [`Subscription::watch`]).
    watches: bool,
    /// Whether [`Subscription::changed`] returned with a notification's wake that no read has
    /// answered yet ([`Subscription::answered`]): dropped before, the subscription passes it
    /// on, so a reader cancelled (or failing) right after its wake does not swallow it.
    unanswered: bool,
    listener: Arc<dyn Listener>,
    hub: Arc<Hub>,
    channel: String,
    turn: Member,
    state: watch::Receiver<State>,
    /// The hub's state as [`Subscription::changed`] last looked at it: a change since that
    /// only added other channels to the same connection is no reason to wake.
    seen: State,
}

impl std::fmt::Debug for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listening")
            .field("channel", &self.channel)
            .field("listening", &self.state.borrow().listens(&self.channel))
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// A subscription that never wakes: its reader polls.
    pub fn polling() -> Self {
        Self { inner: None }
    }

    /// A subscription to `queue`'s notifications through `listener`'s database's shared
    /// listening connection (opened on first need), once that connection listens on the
    /// queue's channel; or, if it cannot within a short wait, one that still wakes when it
    /// starts listening. Outside a tokio runtime: [`polling`](Self::polling).
    pub async fn new(listener: Arc<dyn Listener>, queue: &QueueName) -> Self {
        let channel = channel(queue);
        let Some(hub) = Hub::shared(&listener) else {
            return Self::polling();
        };
        let (turn, mut state) = hub.watch(&channel);
        let ready = state.wait_for(|s| s.listens(&channel) || s.failed());
        // A timeout leaves the reader polling slowly until the connection is up.
        let _ = tokio::time::timeout(CONNECT_WAIT, ready).await;
        // The reader reads next: whatever happened before this is covered.
        let seen = state.borrow_and_update().clone();
        Self {
            inner: Some(Listening {
                watches: false,
                unanswered: false,
                listener,
                hub,
                channel,
                turn,
                state,
                seen,
            }),
        }
    }

    /// Whether this queue's notifications are being received now. When not (no listener, or
    /// its connection is down and reconnecting), a reader must poll.
    pub fn is_listening(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|l| l.hub.alive() && l.state.borrow().listens(&l.channel))
    }

    /// Whether this subscription can ever wake (its executor can listen).
    pub fn can_listen(&self) -> bool {
        self.inner.is_some()
    }

    /// Waits for this reader's turn: a notification for this queue (one parked reader is
    /// woken per notification; one that arrives while none waits is kept for the next), one
    /// more wake a throttle interval after it, a [`pass_on`](Self::pass_on) from another
    /// reader, or the listening connection going down, coming back up or starting to listen
    /// on this queue (not when it starts listening on another queue). Never returns on a
    /// subscription that cannot listen. Cancel safe.
    pub async fn changed(&mut self) {
        let Some(l) = self.inner.as_mut() else {
            return std::future::pending().await;
        };
        if !l.hub.alive() {
            // The task ended with the runtime it ran on: start one on this runtime.
            if let Some(hub) = Hub::shared(&l.listener) {
                let (turn, state) = hub.watch(&l.channel);
                l.hub = hub;
                l.turn = turn;
                l.state = state;
                l.seen = State::Connecting;
            } else {
                return std::future::pending().await;
            }
        }
        let turn = Arc::clone(&*l.turn);
        loop {
            tokio::select! {
                () = turn.turn.notified() => {
                    l.unanswered = true;
                    return;
                }
                changed = l.state.changed() => {
                    if changed.is_err() {
                        // The hub's state outlives this receiver while the hub lives; do not
                        // spin if it ever did not.
                        std::future::pending::<()>().await;
                    }
                    let now = l.state.borrow_and_update().clone();
                    let only_added = now.only_added_to(&l.seen, &l.channel);
                    l.seen = now;
                    if !only_added {
                        return;
                    }
                }
            }
        }
    }

    /// Waits for this reader's turn to read: at most [`hub::READERS_AT_ONCE`] of the
    /// process's waiting readers of this queue run a statement at a time. `None` at once for
    /// a reader that cannot listen (a queue on a caller's connection or transaction: it
    /// shares nothing with the others). Dropping the permit ends the turn.
    pub(crate) async fn turn_to_read(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let l = self.inner.as_ref()?;
        Arc::clone(&l.turn.reading).acquire_owned().await.ok()
    }

    /// Passes this queue's turn on to another parked reader: call it after a read that
    /// found messages (there may be more than this reader takes). No-op when not listening.
    pub fn pass_on(&self) {
        if let Some(l) = &self.inner {
            l.turn.turn.notify_one();
        }
    }

    /// Marks the wake [`changed`](Self::changed) last returned with as answered by a read:
    /// call it once the read after a wake has run, whatever it found. Until then, dropping
    /// the subscription passes the wake on to another parked reader.
    pub fn answered(&mut self) {
        if let Some(l) = self.inner.as_mut() {
            l.unanswered = false;
        }
    }

    /// Stops reading, as dropping the subscription does, for a reader that keeps it (a worker
    /// shutting down): gives the watch up and passes on a wake no read has answered (see
    /// [`answered`](Self::answered)), with one wake for both, so that another parked reader
    /// takes the watch over if still needed and reads for that wake.
    pub fn leave(&mut self) {
        let watched = self.release_watch();
        let unanswered = self
            .inner
            .as_mut()
            .is_some_and(|l| std::mem::take(&mut l.unanswered));
        if watched || unanswered {
            self.pass_on();
        }
    }

    /// Takes (or keeps) the watch over throttled sends still in flight for this queue, if no
    /// other reader of this process holds it: the holder looks again every few
    /// milliseconds while such a send has not ended, and when a closed throttle window ends;
    /// the others stay parked. Returns whether
    /// this subscription holds it. The watch passes on (with a wake) when the holder
    /// [`unwatch`](Self::unwatch)es or is dropped.
    pub fn watch(&mut self) -> bool {
        let Some(l) = self.inner.as_mut() else {
            return false;
        };
        if !l.watches {
            l.watches = l
                .turn
                .watching
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
        }
        l.watches
    }

    /// Gives the watch up and wakes another parked reader to take it over if still needed:
    /// for a holder that stops asking for a while (it found messages and has handlers to
    /// run, or it stops reading). No-op when it does not hold the watch.
    pub fn hand_over_watch(&mut self) {
        if self.release_watch() {
            if let Some(l) = &self.inner {
                l.turn.turn.notify_one();
            }
        }
    }

    /// Gives the watch up, if held (nothing is in flight any more and the throttle's window
    /// is open).
    pub fn unwatch(&mut self) {
        self.release_watch();
    }

    /// Gives the watch up; whether this subscription held it.
    fn release_watch(&mut self) -> bool {
        let Some(l) = self.inner.as_mut() else {
            return false;
        };
        let held = std::mem::take(&mut l.watches);
        if held {
            l.turn.watching.store(false, Ordering::Release);
        }
        held
    }

    /// Tells the listening connection this queue's notification throttle (from
    /// [`Readiness::throttle`]), so each notification is followed by one more wake once the
    /// window it announced has ended, for the sends the throttle left silent. Until told, it
    /// assumes [`DEFAULT_NOTIFY_THROTTLE`](crate::DEFAULT_NOTIFY_THROTTLE).
    pub fn set_throttle(&self, throttle: Duration) {
        if let Some(l) = &self.inner {
            l.turn.set_throttle(throttle);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.leave();
    }
}

/// What a reader about to wait on a queue needs to know, from
/// [`Queue::readiness`](crate::Queue::readiness). Ask it before the last read: then
/// [`recheck_after`](Self::recheck_after) covers every message committed after that read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Readiness {
    /// How long until the next message becomes visible: `Some(ZERO)` when one is visible
    /// now, `None` when the queue holds none.
    pub next_visible: Option<Duration>,
    /// Whether sends to the queue notify (its insert notifications are on).
    pub notifies: bool,
    /// The queue's notification throttle (`None`: sends do not notify; `Some(ZERO)`: every
    /// sending statement notifies). Give it to [`Subscription::set_throttle`].
    pub throttle: Option<Duration>,
    /// On a throttled queue, how long until the throttle's latest window ends (`Some(ZERO)`:
    /// it has); a send before then may not notify. A send late in one window announces the
    /// next, so this can be a little longer than the throttle. `None` without a throttle.
    pub throttle_window: Option<Duration>,
    /// Whether a send to the throttled queue that may not have notified had not yet ended:
    /// it may still commit.
    pub suppressed_in_flight: bool,
}

/// How soon to look again while a send to a throttled queue that may not have notified is
/// still in progress.
const SUPPRESSED_RECHECK: Duration = Duration::from_millis(10);

/// How much later than the end of a throttle window a reader looks again.
const WINDOW_SLACK: Duration = Duration::from_millis(2);

impl Readiness {
    /// A queue that does not notify and whose next message time is unknown.
    pub fn unknown() -> Self {
        Self {
            next_visible: Some(Duration::ZERO),
            notifies: false,
            throttle: None,
            throttle_window: None,
            suppressed_in_flight: false,
        }
    }

    /// How long a reader that found the queue empty (in a read made after this answer) may
    /// wait for a notification before it must read again; `None`: until notified.
    ///
    /// `poll` is the reader's polling interval: used when sends do not notify, when a
    /// message is visible yet the read got none (another reader holds it, or a filter
    /// excluded it), and as the longest wait while the queue holds messages that are not
    /// visible yet (one made visible early, by `set_vt` or a failed handler, sends no
    /// notification). On a throttled queue whose window is still closed, it looks again when
    /// the window closes (a send before then may not notify). Only an empty queue with an
    /// open window is left to notifications alone.
    pub fn recheck_after(&self, poll: Duration) -> Option<Duration> {
        if !self.notifies {
            return Some(poll);
        }
        let mut at = self
            .next_visible
            .map(|d| if d.is_zero() { poll } else { d.min(poll) });
        let mut sooner = |d: Duration| at = Some(at.map_or(d, |a| a.min(d)));
        if self.suppressed_in_flight {
            sooner(SUPPRESSED_RECHECK);
        }
        // A send before the window closes may stay silent: the notification that opened the
        // window came before this answer (perhaps before this reader listened, so it never
        // woke it), and the wake that follows a notification by the throttle interval (see
        // [`Subscription::set_throttle`]) belongs to readers that received it. Look again
        // once it closes; a silent send still running then shows as `suppressed_in_flight`.
        if let Some(window) = self.throttle_window.filter(|w| !w.is_zero()) {
            sooner(window + WINDOW_SLACK);
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_notifying() -> Readiness {
        Readiness {
            next_visible: None,
            notifies: true,
            throttle: Some(Duration::from_millis(10)),
            throttle_window: None,
            suppressed_in_flight: false,
        }
    }

    const POLL: Duration = Duration::from_secs(8);

    #[test]
    fn an_empty_queue_with_an_open_window_waits_for_a_notification() {
        assert_eq!(empty_notifying().recheck_after(POLL), None);
        let open = Readiness {
            throttle_window: Some(Duration::ZERO),
            ..empty_notifying()
        };
        assert_eq!(open.recheck_after(POLL), None);
    }

    #[test]
    fn a_closed_throttle_window_is_looked_at_again_when_it_ends() {
        let closed = Readiness {
            throttle_window: Some(Duration::from_millis(300)),
            ..empty_notifying()
        };
        assert_eq!(
            closed.recheck_after(POLL),
            Some(Duration::from_millis(300) + WINDOW_SLACK)
        );
        // A sooner reason wins: a silent send in flight, a message becoming visible.
        let in_flight = Readiness {
            suppressed_in_flight: true,
            ..closed
        };
        assert_eq!(in_flight.recheck_after(POLL), Some(SUPPRESSED_RECHECK));
        let visible_soon = Readiness {
            next_visible: Some(Duration::from_millis(50)),
            ..closed
        };
        assert_eq!(
            visible_soon.recheck_after(POLL),
            Some(Duration::from_millis(50))
        );
    }

    #[test]
    fn without_notifications_a_reader_polls() {
        let polling = Readiness {
            notifies: false,
            throttle_window: Some(Duration::from_millis(300)),
            ..empty_notifying()
        };
        assert_eq!(polling.recheck_after(POLL), Some(POLL));
    }
}
