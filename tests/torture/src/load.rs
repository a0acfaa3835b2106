//! The load: producers (direct sends and batching producers) and workers whose handlers
//! randomly fail, panic or outlive their visibility timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pgmq_core::serde_json::json;
use pgmq_core::{
    AckMode, BatchingProducer, Message, ProducerOptions, Queue, QueueName, SendOptions, Worker,
    WorkerOptions, WorkerSummary,
};
use tokio::sync::watch;

use crate::mix;

/// Every send a producer heard back about.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Ids answered, with the (producer, sequence number) the payload carried.
    pub(crate) ids: Mutex<HashMap<i64, (u32, u64)>>,
    /// Sends answered with an error: they may or may not have been stored.
    pub(crate) ambiguous: AtomicU64,
}

impl Sent {
    /// Records an answer; whether it was an id. After an error it pauses a little, as the
    /// server may be restarting.
    async fn record(&self, result: pgmq_core::Result<i64>, producer: u32, n: u64) -> bool {
        match result {
            Ok(id) => {
                self.ids
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id, (producer, n));
                true
            }
            Err(_) => {
                self.ambiguous.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
                false
            }
        }
    }
}

fn payload(producer: u32, n: u64) -> pgmq_core::serde_json::Value {
    json!({ "producer": producer, "n": n })
}

/// Sends messages one at a time, each awaited before the next, until `count` have been
/// answered with an id. A send answered with an error is not repeated (it may have been
/// stored): the next attempt carries the next sequence number.
pub(crate) async fn direct(
    queue: Arc<dyn Queue>,
    name: QueueName,
    producer: u32,
    count: u64,
    sent: Arc<Sent>,
) {
    let mut answered = 0;
    for n in 0.. {
        if answered == count {
            break;
        }
        let result = queue
            .send_json(&name, payload(producer, n), SendOptions::default())
            .await;
        answered += u64::from(sent.record(result, producer, n).await);
    }
}

/// Sends `count` messages through one [`BatchingProducer`] from `tasks` concurrent tasks.
pub(crate) async fn batching(
    queue: Arc<dyn Queue>,
    name: QueueName,
    producer: u32,
    count: u64,
    tasks: u64,
    sent: Arc<Sent>,
) -> pgmq_core::Result<()> {
    let batcher = BatchingProducer::new(queue, name, ProducerOptions::new())?;
    let mut senders = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let (batcher, sent) = (batcher.clone(), Arc::clone(&sent));
        // This task's share of `count`, and its own sequence numbers: task, task + tasks, …
        let share = count / tasks + u64::from(task < count % tasks);
        senders.spawn(async move {
            let mut answered = 0;
            for n in (task..).step_by(usize::try_from(tasks).unwrap_or(1)) {
                if answered == share {
                    break;
                }
                let result = batcher.send_json(payload(producer, n)).await;
                answered += u64::from(sent.record(result, producer, n).await);
            }
        });
    }
    while senders.join_next().await.is_some() {}
    batcher.close().await;
    Ok(())
}

/// The handler's payload for panics it injects, so the run's panic hook can keep them quiet.
pub(crate) const INJECTED_PANIC: &str = "torture: injected handler panic";

/// What a handler does with the `read_ct`-th receive of a message: on its first four
/// receives, 4% fail, 2% panic and 1% outlive the visibility timeout (half as long again);
/// everything else succeeds within 2 ms. From the fifth receive on, every handler succeeds,
/// so the run ends.
async fn handle(message: Message, vt: Duration, seed: u64) -> Result<(), String> {
    let roll = mix(seed ^ mix(message.msg_id as u64) ^ u64::from(message.read_ct.unsigned_abs()));
    if message.read_ct <= 4 {
        match roll % 1000 {
            0..=39 => return Err(format!("injected failure of {}", message.msg_id)),
            40..=59 => std::panic::panic_any(INJECTED_PANIC),
            60..=69 => {
                tokio::time::sleep(vt + vt / 2).await;
                return Ok(());
            }
            _ => {}
        }
    }
    tokio::time::sleep(Duration::from_micros(roll % 2000)).await;
    Ok(())
}

/// One worker until `stop` turns true.
pub(crate) async fn work(
    queue: Arc<dyn Queue>,
    name: QueueName,
    vt: Duration,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) -> pgmq_core::Result<WorkerSummary> {
    let options = WorkerOptions::new()
        .concurrency(8)
        .batch_size(8)
        .vt(vt)
        .ack_mode(AckMode::Archive)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .grace(Duration::from_secs(10))
        .poll_interval(Duration::from_millis(50));
    let worker = Worker::new(queue, name, options)?;
    worker
        .run(move |message| handle(message, vt, seed), async move {
            let _ = stop.wait_for(|stop| *stop).await;
        })
        .await
}
