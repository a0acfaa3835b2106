//! A blocking read with a wait that pauses on its own connection's notifications.

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
    let bridge = &queue.bridge;
    let channel = channel(name);
    if !bridge.lock()?.listen(&channel)? {
        return block_on(bridge.read(name, options));
    }
    let poll = options.poll_interval.max(Duration::from_millis(1));
    let once = ReadOptions {
        wait: None,
        ..options
    };
    let read = || block_on(bridge.read::<T>(name, once.clone()));
    let result = (|| {
        let deadline = Instant::now() + wait;
        let mut found = read()?;
        loop {
            if !found.is_empty() || Instant::now() >= deadline {
                return Ok(found);
            }
            let ready = block_on(bridge.readiness(name))?;
            found = read()?;
            if !found.is_empty() {
                return Ok(found);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let pause = ready.recheck_after(poll).map_or(left, |p| p.min(left));
            let until = Instant::now() + pause;
            while Instant::now() < until && !bridge.lock()?.notified()? {
                thread::sleep(TICK.min(until.saturating_duration_since(Instant::now())));
            }
            found = read()?;
        }
    })();
    // Best effort: a connection that failed mid-wait reports that failure instead.
    let _ = bridge.lock().map(|mut e| e.unlisten(&channel));
    result
}
