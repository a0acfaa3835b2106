//! A blocking read with a wait that pauses on its own connection's notifications.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::{block_on, BlockingExecutor, BlockingQueue};
use crate::error::Result;
use crate::ext::QueueExt;
use crate::listen::channel;
use crate::name::QueueName;
use crate::options::ReadOptions;
use crate::queue::Queue;
use crate::types::Message;

/// How often a paused read looks at what the server sent.
const TICK: Duration = Duration::from_millis(5);

/// The reads with a wait that share one connection (a [`BlockingQueue`] used from several
/// threads): the connection listens on a channel while any of them waits on it, and a
/// notification one of them takes from the connection wakes all of them.
#[derive(Debug, Default)]
pub(super) struct Waiting {
    /// By channel: the readers waiting on it, and whether the connection listens on it.
    readers: Mutex<HashMap<String, (usize, bool)>>,
    /// Notifications taken from the connection so far, by any reader.
    seen: AtomicU64,
}

impl Waiting {
    /// Counts one more reader of `channel`. The first one calls `listen`, whose answer
    /// (whether the connection listens) the later ones get too.
    fn join(&self, channel: &str, listen: impl FnOnce() -> Result<bool>) -> Result<bool> {
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((n, listens)) = readers.get_mut(channel) {
            *n += 1;
            return Ok(*listens);
        }
        let listens = listen()?;
        readers.insert(channel.to_owned(), (1, listens));
        Ok(listens)
    }

    /// Counts one reader of `channel` less; the last one calls `unlisten` (if the connection
    /// listens), before any new reader can join and `LISTEN` again.
    fn leave(&self, channel: &str, unlisten: impl FnOnce()) {
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        match readers.get_mut(channel) {
            Some((n, _)) if *n > 1 => *n -= 1,
            Some(&mut (_, listens)) => {
                readers.remove(channel);
                if listens {
                    unlisten();
                }
            }
            None => {}
        }
    }
}

/// The read of [`BlockingQueue::read`] with a `wait`. On an executor that listens: read;
/// if empty, ask [`Queue::readiness`], read once more (the read the answer covers), and
/// pause until a notification, the answer's recheck time or the deadline. Otherwise the
/// async loop, which polls.
pub(super) fn read<E, T>(
    queue: &BlockingQueue<E>,
    name: &QueueName,
    options: ReadOptions,
    wait: Duration,
) -> Result<Vec<Message<T>>>
where
    E: BlockingExecutor,
    T: DeserializeOwned + Send,
{
    options.check_wait(wait)?;
    let bridge = &queue.bridge;
    let waiting = &queue.waiting;
    let channel = channel(name);
    // The first reader of the channel listens; the others share what it found.
    let result = match waiting.join(&channel, || bridge.lock()?.listen(&channel)) {
        Ok(true) => paused(queue, name, options, wait),
        Ok(false) => block_on(bridge.read(name, options)),
        Err(error) => return Err(error),
    };
    waiting.leave(&channel, || {
        // Best effort: a connection that failed mid-wait reports that failure instead.
        let _ = bridge.lock().map(|mut e| e.unlisten(&channel));
    });
    result
}

/// The waiting read on a connection that listens on the queue's channel.
fn paused<E, T>(
    queue: &BlockingQueue<E>,
    name: &QueueName,
    options: ReadOptions,
    wait: Duration,
) -> Result<Vec<Message<T>>>
where
    E: BlockingExecutor,
    T: DeserializeOwned + Send,
{
    let (bridge, seen) = (&queue.bridge, &queue.waiting.seen);
    let poll = options.poll_interval.max(Duration::from_millis(1));
    let once = ReadOptions {
        wait: None,
        ..options
    };
    let read = || block_on(bridge.read::<T>(name, once.clone()));
    let deadline = Instant::now() + wait;
    let mut found = read()?;
    loop {
        if !found.is_empty() || Instant::now() >= deadline {
            return Ok(found);
        }
        // Notifications taken by another reader from now on wake this one too.
        let before = seen.load(Ordering::Acquire);
        let ready = block_on(bridge.readiness(name))?;
        found = read()?;
        if !found.is_empty() {
            return Ok(found);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let pause = ready.recheck_after(poll).map_or(left, |p| p.min(left));
        let until = Instant::now() + pause;
        while Instant::now() < until && seen.load(Ordering::Acquire) == before {
            if bridge.lock()?.notified()? {
                seen.fetch_add(1, Ordering::AcqRel);
                break;
            }
            thread::sleep(TICK.min(until.saturating_duration_since(Instant::now())));
        }
        found = read()?;
    }
}
