//! One listening connection per process and database, shared by every waiting reader.
//!
//! A background task owns the connection an adapter's [`Listener`] opens. Each queue a
//! reader waits on is a channel; a notification on it bumps that channel's counter, which
//! wakes the readers parked on it. The task never runs `LISTEN` on a connection it is
//! receiving on (not every driver allows that mid-receive): when a reader needs a channel
//! the connection lacks, the task opens a new connection listening on all of them and drops
//! the old one. Whenever the task (re)connects or loses its connection it bumps every
//! channel, so readers read again rather than trust notifications that may have been missed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::adapter::Listener;

/// The first pause before connecting again after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The hubs of this process, by the database their listener names and the tokio runtime
/// their task runs on (a hub serves the readers of its own runtime: a task of one runtime
/// ends when that runtime shuts down, and tests run many runtimes in one process).
static HUBS: LazyLock<Mutex<HashMap<HubKey, Weak<Hub>>>> = LazyLock::new(Mutex::default);

/// A database (as its listener names it) and a tokio runtime.
type HubKey = (String, tokio::runtime::Id);

/// Whether the task's connection listens, and on which channels.
#[derive(Clone, Debug, Default)]
pub(crate) enum State {
    /// Connecting.
    #[default]
    Connecting,
    /// Connected and listening on these channels.
    Up(Arc<HashSet<String>>),
    /// The last connection failed or was lost; connecting again after a pause.
    Down,
}

impl State {
    pub(crate) fn listens(&self, channel: &str) -> bool {
        matches!(self, Self::Up(channels) if channels.contains(channel))
    }

    pub(crate) fn failed(&self) -> bool {
        matches!(self, Self::Down)
    }
}

struct Shared {
    /// A counter per channel, bumped on each notification.
    channels: Mutex<HashMap<String, watch::Sender<u64>>>,
    state: watch::Sender<State>,
    /// Cleared when the task ends (its runtime shut down): the hub is then replaced.
    alive: AtomicBool,
}

impl Shared {
    fn bump(&self, channel: &str) {
        if let Some(counter) = lock(&self.channels).get(channel) {
            counter.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    fn bump_all(&self) {
        for counter in lock(&self.channels).values() {
            counter.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    fn wanted(&self) -> HashSet<String> {
        lock(&self.channels).keys().cloned().collect()
    }

    fn set_state(&self, state: State) {
        self.state.send_replace(state);
        self.bump_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves no half-made change behind, so a poisoned
    // lock is still consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A process's listening connection to one database. Dropping the last handle stops the
/// task and closes the connection.
pub(crate) struct Hub {
    shared: Arc<Shared>,
    /// Tells the task a channel was added. Closed on drop, which stops the task.
    added: mpsc::UnboundedSender<()>,
}

impl Hub {
    /// The hub for `listener`'s database on the current tokio runtime: the running one, or a
    /// new one with its task spawned there. `None` outside a tokio runtime.
    pub(crate) fn shared(listener: &Arc<dyn Listener>) -> Option<Arc<Self>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let key = (listener.database(), runtime.id());
        let mut hubs = lock(&HUBS);
        if let Some(hub) = hubs.get(&key).and_then(Weak::upgrade) {
            if hub.alive() {
                return Some(hub);
            }
        }
        hubs.retain(|_, hub| hub.strong_count() > 0);
        let (state, _) = watch::channel(State::Connecting);
        let shared = Arc::new(Shared {
            channels: Mutex::default(),
            state,
            alive: AtomicBool::new(true),
        });
        let (added, rx) = mpsc::unbounded_channel();
        runtime.spawn(run(Arc::clone(listener), Arc::clone(&shared), rx));
        let hub = Arc::new(Self { shared, added });
        hubs.insert(key, Arc::downgrade(&hub));
        Some(hub)
    }

    /// Whether the task still runs. It ends only with its runtime (or this hub).
    pub(crate) fn alive(&self) -> bool {
        self.shared.alive.load(Ordering::Acquire)
    }

    /// The counter of `channel` (added to what the task listens on if new) and the task's
    /// state.
    pub(crate) fn watch(&self, channel: &str) -> (watch::Receiver<u64>, watch::Receiver<State>) {
        let counter = {
            let mut channels = lock(&self.shared.channels);
            match channels.get(channel) {
                Some(counter) => counter.subscribe(),
                None => {
                    let (tx, rx) = watch::channel(0);
                    channels.insert(channel.to_owned(), tx);
                    // The task is gone only if the runtime is shutting down; then nobody
                    // waits long either way.
                    let _ = self.added.send(());
                    rx
                }
            }
        };
        (counter, self.shared.state.subscribe())
    }
}

/// The task: connect, listen, bump counters; connect again (with backoff) when the
/// connection fails or a channel is added; stop when the hub is dropped.
async fn run(
    listener: Arc<dyn Listener>,
    shared: Arc<Shared>,
    mut added: mpsc::UnboundedReceiver<()>,
) {
    let _ended = Ended(Arc::clone(&shared));
    let mut backoff = FIRST_BACKOFF;
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
        let connection = tokio::select! {
            connection = listener.listen(&channels) => connection,
            more = added.recv() => match more {
                Some(()) => continue,
                None => return,
            },
        };
        let mut connection = match connection {
            Ok(connection) => connection,
            Err(_) => {
                shared.set_state(State::Down);
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    more = added.recv() => if more.is_none() { return },
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = FIRST_BACKOFF;
        shared.set_state(State::Up(Arc::new(wanted)));
        loop {
            tokio::select! {
                more = added.recv() => match more {
                    // Connect again, listening on the new channel too.
                    Some(()) => break,
                    None => return,
                },
                notification = connection.next() => match notification {
                    Ok(channel) => shared.bump(&channel),
                    Err(_) => {
                        shared.set_state(State::Down);
                        break;
                    }
                },
            }
        }
    }
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
