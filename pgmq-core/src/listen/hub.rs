//! One listening connection per process, database and tokio runtime, shared by every
//! waiting reader.
//!
//! A background task owns the connection an adapter's [`Listener`] opens. Each queue a
//! reader waits on is a channel. A notification wakes one parked reader of its channel (who
//! passes the turn on when it finds messages, as there may be more), and on a throttled
//! queue one more once the window it announced has ended, for the sends the throttle left
//! silent: so a burst of sends does not wake every idle reader at once. When a reader needs
//! a channel the connection lacks, the task runs `LISTEN` on it on the same connection
//! ([`Notifications::listen`]), which costs the other channels' readers nothing; with an
//! adapter that cannot, it opens a new connection listening on all of them and drops the old
//! one. Whenever the task (re)connects or loses its connection it wakes every reader, so they
//! read again rather than trust notifications that may have been missed. A connection that
//! stays quiet is checked now and then ([`Liveness`]), and replaced when it does not answer:
//! a connection dropped silently by the network would otherwise leave its readers parked.
//! A channel no reader has waited on for a while ([`Liveness::unlisten_after`]) is let go of
//! (`UNLISTEN`, [`Notifications::unlisten`]), and the connection is closed once it listens
//! on nothing.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::time::{Instant, MissedTickBehavior};

use crate::adapter::Listener;
#[cfg(doc)]
use crate::adapter::{Liveness, Notifications};
use crate::sql;

/// The first pause before connecting again after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The hubs of this process, by the database their listener names and the tokio runtime
/// their task runs on (a hub serves the readers of its own runtime: a task of one runtime
/// ends when that runtime shuts down, and tests run many runtimes in one process).
///
/// Held strongly: a hub lives as long as its runtime, so readers that wait one after another
/// reuse its connection instead of each opening (and `LISTEN`ing on) a new one.
static HUBS: LazyLock<Mutex<HashMap<HubKey, Arc<Hub>>>> = LazyLock::new(Mutex::default);

/// A database (as its listener names it) and a tokio runtime.
type HubKey = (String, tokio::runtime::Id);

/// Whether the task's connection listens, and on which channels.
#[derive(Clone, Debug, Default)]
pub(crate) enum State {
    /// Connecting.
    #[default]
    Connecting,
    /// Connected and listening on these channels; the number tells the task's connections
    /// apart (a new one may have missed notifications, channels added to one did not).
    Up(Arc<HashSet<String>>, u64),
    /// The last connection failed or was lost; connecting again after a pause.
    Down,
}

impl State {
    pub(crate) fn listens(&self, channel: &str) -> bool {
        matches!(self, Self::Up(channels, _) if channels.contains(channel))
    }

    /// Whether `self` differs from `before` only by channels added to (or let go of on) the
    /// same connection while it kept listening on `channel`: nothing its readers could have
    /// missed.
    pub(crate) fn only_added_to(&self, before: &Self, channel: &str) -> bool {
        match (before, self) {
            (Self::Up(was, a), Self::Up(now, b)) => {
                a == b && was.contains(channel) && now.contains(channel)
            }
            _ => false,
        }
    }

    pub(crate) fn failed(&self) -> bool {
        matches!(self, Self::Down)
    }
}

/// One channel's readers: woken one at a time, first come first served.
pub(crate) struct Channel {
    /// One wake per notification, for one parked reader (or, with none parked, for the next
    /// one to wait: the permit is kept).
    pub(crate) turn: Notify,
    /// Whether one of this process's readers is watching for sends to the throttled queue
    /// still in flight (looking again every few milliseconds until they end) and for the end
    /// of a closed throttle window. One is enough: the others stay parked.
    pub(crate) watching: AtomicBool,
    /// The queue's notification throttle in milliseconds, as its readers last learned it:
    /// a notification is followed by one more wake when the window it announced has ended at
    /// the latest (see [`trailing_wake`]), for the sends the throttle left silent.
    throttle_ms: AtomicU64,
    /// Turns to read: at most [`READERS_AT_ONCE`] of this process's waiting readers of the
    /// queue run a statement at a time; the others wait in line (first come, first served),
    /// holding no connection.
    pub(crate) reading: Arc<Semaphore>,
    /// The [`Member`]s of this channel not dropped yet. Changed from zero only under the
    /// hub's channel lock (by [`Hub::watch`]), where the channel is also let go of, so a
    /// channel with a subscriber is never let go of.
    subscribers: AtomicUsize,
    /// Set when the task found nobody subscribed; a channel still set (and still without
    /// subscribers) the next time is let go of. Cleared by a new subscription.
    idle: AtomicBool,
}

/// How many waiting readers of one queue in one process run a statement at a time.
///
/// Many consumers of one queue in one process mostly find it empty between messages; each
/// such look is a read, a [`readiness`](crate::Queue::readiness) and a read again, and all of
/// them contend for the same few index pages with the senders. Measured with W5-wait
/// (BENCHMARKS.md), 64 waiting consumers got about 1.7 times the throughput with this
/// limit. Four claims at once still take thousands of messages a second per process and
/// queue, more with batches.
pub(crate) const READERS_AT_ONCE: usize = 4;

/// A reader's membership of a channel, from [`Hub::watch`]: the channel is not let go of
/// while one lives. Dropping it ends the membership, however the reader ends (a
/// subscription dropped while it still waited for the connection included).
pub(crate) struct Member(Arc<Channel>);

impl std::ops::Deref for Member {
    type Target = Arc<Channel>;

    fn deref(&self) -> &Arc<Channel> {
        &self.0
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Channel {
    /// Records the queue's throttle. A longer one than assumed so far also gets a wake after
    /// it now: a notification received before it was known may have had a shorter follow-up.
    pub(crate) fn set_throttle(self: &Arc<Self>, throttle: Duration) {
        let ms = u64::try_from(throttle.as_millis()).unwrap_or(u64::MAX);
        let before = self.throttle_ms.swap(ms, Ordering::Relaxed);
        if ms > before {
            let ch = Arc::clone(self);
            tokio::spawn(async move {
                tokio::time::sleep(trailing_wake(ms)).await;
                ch.turn.notify_one();
            });
        }
    }
}

struct Shared {
    channels: Mutex<HashMap<String, Arc<Channel>>>,
    state: watch::Sender<State>,
    /// Cleared when the task ends (its runtime shut down): the hub is then replaced.
    alive: AtomicBool,
}

fn default_throttle_ms() -> u64 {
    u64::try_from(crate::DEFAULT_NOTIFY_THROTTLE.as_millis()).unwrap_or(u64::MAX)
}

/// How much later than the end of the window a notification announced the trailing wake
/// comes.
const TRAILING_SLACK: Duration = Duration::from_millis(2);

/// How long after a notification on a queue throttled to `throttle_ms` its trailing wake
/// comes: when the window it announced has ended at the latest. A send late in a window
/// notifies for the next one, which can end up to [`sql::NOTIFY_LEAD_MS`] (or one
/// throttle, if shorter) more than a throttle after that notification.
fn trailing_wake(throttle_ms: u64) -> Duration {
    let lead = u64::try_from(sql::NOTIFY_LEAD_MS).unwrap_or(0);
    Duration::from_millis(throttle_ms.saturating_add(throttle_ms.min(lead))) + TRAILING_SLACK
}

impl Shared {
    /// A notification on `channel`: wakes one reader now and, on a throttled queue, one more
    /// once the window it announced has ended.
    fn notified(&self, channel: &str) {
        let Some(ch) = lock(&self.channels).get(channel).cloned() else {
            return;
        };
        ch.turn.notify_one();
        let throttle = ch.throttle_ms.load(Ordering::Relaxed);
        if throttle > 0 {
            tokio::spawn(async move {
                tokio::time::sleep(trailing_wake(throttle)).await;
                ch.turn.notify_one();
            });
        }
    }

    /// Wakes every parked reader of every channel: notifications may have been missed on a
    /// connection that stays (its state is unchanged, so its watch wakes nobody).
    fn wake_all(&self) {
        for ch in lock(&self.channels).values() {
            ch.turn.notify_waiters();
        }
    }

    fn wanted(&self) -> HashSet<String> {
        lock(&self.channels).keys().cloned().collect()
    }

    /// Lets go of the channels nobody has subscribed to since the last call (when they had
    /// no subscriber either), marks those without one now, and returns those of the let-go
    /// channels that the task's connection number `connection` listens on (`listening`, from
    /// which they are taken). With `one_by_one` false (a connection that cannot `UNLISTEN`)
    /// it lets go only when it can let go of every channel. The state without them is
    /// published under the same lock, so a reader that subscribes to one of them again waits
    /// for a new `LISTEN`.
    fn let_go(
        &self,
        listening: &mut HashSet<String>,
        connection: u64,
        one_by_one: bool,
    ) -> Vec<String> {
        let mut channels = lock(&self.channels);
        let mut gone = Vec::new();
        for (name, ch) in channels.iter() {
            // Marked now, or already marked last time (a subscription since cleared it).
            if ch.subscribers.load(Ordering::Acquire) == 0 && ch.idle.swap(true, Ordering::Relaxed)
            {
                gone.push(name.clone());
            }
        }
        if !one_by_one && gone.len() < channels.len() {
            return Vec::new();
        }
        for name in &gone {
            channels.remove(name);
        }
        gone.retain(|name| listening.remove(name));
        if !gone.is_empty() {
            let up = State::Up(Arc::new(listening.clone()), connection);
            self.state.send_replace(up);
        }
        gone
    }

    /// Publishes the task's state. Its watch is what wakes parked readers for it: one also
    /// woken through [`wake_all`](Self::wake_all) here could see the new state as it
    /// subscribes and then take that wake as well, for a change it had already seen.
    fn set_state(&self, state: State) {
        self.state.send_replace(state);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves no half-made change behind, so a poisoned
    // lock is still consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A process's listening connection to one database, for one tokio runtime.
pub(crate) struct Hub {
    shared: Arc<Shared>,
    /// Tells the task a channel was added.
    added: mpsc::UnboundedSender<()>,
}

impl Hub {
    /// The hub for `listener`'s database on the current tokio runtime: the running one, or a
    /// new one with its task spawned there. `None` outside a tokio runtime.
    pub(crate) fn shared(listener: &Arc<dyn Listener>) -> Option<Arc<Self>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let key = (listener.database(), runtime.id());
        let mut hubs = lock(&HUBS);
        if let Some(hub) = hubs.get(&key) {
            if hub.alive() {
                return Some(Arc::clone(hub));
            }
        }
        hubs.retain(|_, hub| hub.alive());
        let (state, _) = watch::channel(State::Connecting);
        let shared = Arc::new(Shared {
            channels: Mutex::default(),
            state,
            alive: AtomicBool::new(true),
        });
        let (added, rx) = mpsc::unbounded_channel();
        runtime.spawn(run(Arc::clone(listener), Arc::clone(&shared), rx));
        let hub = Arc::new(Self { shared, added });
        hubs.insert(key, Arc::clone(&hub));
        Some(hub)
    }

    /// Whether the task still runs. It ends only with its runtime (or this hub).
    pub(crate) fn alive(&self) -> bool {
        self.shared.alive.load(Ordering::Acquire)
    }

    /// The readers' side of `channel` (added to what the task listens on if new), held as a
    /// [`Member`], and the task's state.
    pub(crate) fn watch(&self, channel: &str) -> (Member, watch::Receiver<State>) {
        let ch = {
            let mut channels = lock(&self.shared.channels);
            let ch = match channels.get(channel) {
                Some(ch) => Arc::clone(ch),
                None => {
                    let ch = Arc::new(Channel {
                        turn: Notify::new(),
                        watching: AtomicBool::new(false),
                        throttle_ms: AtomicU64::new(default_throttle_ms()),
                        reading: Arc::new(Semaphore::new(READERS_AT_ONCE)),
                        subscribers: AtomicUsize::new(0),
                        idle: AtomicBool::new(false),
                    });
                    channels.insert(channel.to_owned(), Arc::clone(&ch));
                    // The task is gone only if the runtime is shutting down; then nobody
                    // waits long either way.
                    let _ = self.added.send(());
                    ch
                }
            };
            ch.subscribers.fetch_add(1, Ordering::AcqRel);
            ch.idle.store(false, Ordering::Relaxed);
            Member(ch)
        };
        (ch, self.shared.state.subscribe())
    }
}

/// The task: connect, listen, wake readers; listen on channels as they are added; check a
/// quiet connection ([`Liveness`]); let go of channels nobody waits on any more, and of the
/// connection once it listens on nothing; connect again (with backoff) when the connection
/// fails or does not answer a check, or when a channel is added or let go of and the adapter
/// cannot change what the same connection listens on; stop when the hub is dropped.
async fn run(
    listener: Arc<dyn Listener>,
    shared: Arc<Shared>,
    mut added: mpsc::UnboundedReceiver<()>,
) {
    let _ended = Ended(Arc::clone(&shared));
    let liveness = listener.liveness();
    // Looks for channels to let go of, while connected (a look missed meanwhile comes once
    // connected again).
    let every = liveness.unlisten_after.clamp(MIN_SWEEP, FAR);
    let mut sweep = tokio::time::interval_at(later(Instant::now(), every), every);
    sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Whether the adapter's connections can `UNLISTEN` ([`Notifications::unlisten`]); until
    // one says not, assumed.
    let mut one_by_one = true;
    let mut backoff = FIRST_BACKOFF;
    let mut connections = 0_u64;
    loop {
        // Take every pending addition: the connection made next covers them all.
        while added.try_recv().is_ok() {}
        let wanted = shared.wanted();
        if wanted.is_empty() {
            if added.recv().await.is_none() {
                return;
            }
            continue;
        }
        let channels: Vec<String> = wanted.iter().cloned().collect();
        // Quietly: readers polling slowly need no wake for this.
        shared.state.send_if_modified(|state| {
            *state = State::Connecting;
            false
        });
        // A channel added meanwhile is listened on once connected (below). A connection
        // that does not come up in the time a check may take counts as failed.
        let connect = in_time(liveness.timeout, listener.listen(&channels));
        tokio::pin!(connect);
        let connection = loop {
            tokio::select! {
                connection = &mut connect => break connection,
                more = added.recv() => if more.is_none() { return },
            }
        };
        let Some(mut connection) = connection else {
            shared.set_state(State::Down);
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                more = added.recv() => if more.is_none() { return },
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        };
        backoff = FIRST_BACKOFF;
        connections += 1;
        let mut listening = wanted;
        shared.set_state(State::Up(Arc::new(listening.clone()), connections));
        // When the server was last heard from on this connection, and whether it can be
        // checked (see `Liveness`).
        let mut heard = Instant::now();
        let mut checks = true;
        // Whether channels may have been added since `listening` was last compared with the
        // wanted ones (during the connect, or since): not after each notification.
        let mut added_since = true;
        loop {
            let new: Vec<String> = if std::mem::take(&mut added_since) {
                shared.wanted().difference(&listening).cloned().collect()
            } else {
                Vec::new()
            };
            if !new.is_empty() {
                // A `LISTEN` is a round trip too: on a silent connection it would never end.
                match in_time(liveness.timeout, connection.listen(&new)).await {
                    // Only the new channels' readers are told (and wait for it): the others
                    // missed nothing.
                    Some(true) => {
                        heard = Instant::now();
                        listening.extend(new);
                        let up = State::Up(Arc::new(listening.clone()), connections);
                        shared.state.send_replace(up);
                    }
                    // Connect again, listening on the new channels too.
                    Some(false) => break,
                    None => {
                        shared.set_state(State::Down);
                        break;
                    }
                }
            }
            tokio::select! {
                more = added.recv() => match more {
                    // Listened on at the top of the loop.
                    Some(()) => {
                        while added.try_recv().is_ok() {}
                        added_since = true;
                    }
                    None => return,
                },
                notification = connection.next() => match notification {
                    Ok(channel) => {
                        heard = Instant::now();
                        shared.notified(&channel);
                    }
                    Err(_) => {
                        shared.set_state(State::Down);
                        break;
                    }
                },
                _ = sweep.tick() => {
                    let gone = shared.let_go(&mut listening, connections, one_by_one);
                    if gone.is_empty() {
                        continue;
                    }
                    if listening.is_empty() {
                        // Nobody waits on anything: close the connection. A reader that
                        // waits again opens a new one.
                        break;
                    }
                    match in_time(liveness.timeout, connection.unlisten(&gone)).await {
                        Some(true) => heard = Instant::now(),
                        // Connect again, listening on the channels still waited on; from
                        // then on, let go only of all channels at once (closing the
                        // connection), so that no reader is woken for it.
                        Some(false) => {
                            one_by_one = false;
                            break;
                        }
                        None => {
                            shared.set_state(State::Down);
                            break;
                        }
                    }
                }
                () = tokio::time::sleep_until(later(heard, liveness.quiet)), if checks => {
                    match in_time(liveness.timeout, connection.check()).await {
                        Some(true) => heard = Instant::now(),
                        Some(false) => {
                            checks = false;
                            // The `next` just dropped may have lost a notification.
                            shared.wake_all();
                        }
                        // Silent or broken: its readers read again (and poll slowly) while
                        // a new connection is made.
                        None => {
                            shared.set_state(State::Down);
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// The shortest time between two looks for channels to let go of: a
/// [`Liveness::unlisten_after`] below it counts as it.
const MIN_SWEEP: Duration = Duration::from_millis(10);

/// Far enough that it never comes: a [`Liveness`] duration beyond it counts as it (a
/// `Duration::MAX` meant as "never" would overflow the clock).
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// `d` after `at`, or [`FAR`] after it for a longer `d`.
fn later(at: Instant, d: Duration) -> Instant {
    at + d.min(FAR)
}

/// `answer`'s value if it comes within `limit` and is not an error: a round trip on a
/// listening connection that does neither counts as lost.
async fn in_time<T>(limit: Duration, answer: impl Future<Output = crate::Result<T>>) -> Option<T> {
    tokio::time::timeout(limit, answer).await.ok()?.ok()
}

/// Marks the hub dead when the task ends, however it ends (a runtime shutting down drops it),
/// and wakes its readers so they stop counting on it.
struct Ended(Arc<Shared>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.alive.store(false, Ordering::Release);
        self.0.set_state(State::Down);
    }
}
