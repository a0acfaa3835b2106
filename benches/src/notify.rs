//! The cost of insert notifications to producers: W1 (one sender), W3 (batches of 100) and
//! 4 concurrent single senders, each on a queue with notifications (the default) and on one
//! without, back to back in one run.

use std::sync::Arc;
use std::time::Instant;

use pgmq_core::{CreateOptions, Queue, QueueExt, QueueName, SendOptions};

use crate::backends;
use crate::report::Unit;
use crate::runs::Bench;
use crate::system::{Payload, Res};
use crate::workloads::rate;

/// (label, concurrent senders, messages per send call).
const SHAPES: [(&str, usize, usize); 3] = [("W1", 1, 1), ("W3", 1, 100), ("P4", 4, 1)];

/// `tasks` senders send `total` messages between them, `batch` per call; messages/s.
async fn send_all(
    queue: &Arc<dyn Queue>,
    name: &QueueName,
    tasks: usize,
    batch: usize,
    total: usize,
) -> Res<f64> {
    let start = Instant::now();
    let senders: Vec<_> = (0..tasks)
        .map(|t| {
            let (queue, name) = (Arc::clone(queue), name.clone());
            tokio::spawn(async move {
                let mine = total / tasks;
                let mut sent = 0;
                while sent < mine {
                    let n = batch.min(mine - sent);
                    let msgs: Vec<Payload> = (0..n)
                        .map(|i| Payload::new((t * mine + sent + i) as u64))
                        .collect();
                    if n == 1 {
                        queue.send(&name, &msgs[0], SendOptions::new()).await?;
                    } else {
                        queue.send_batch(&name, &msgs, SendOptions::new()).await?;
                    }
                    sent += n;
                }
                Res::Ok(())
            })
        })
        .collect();
    for s in senders {
        s.await??;
    }
    Ok(rate(total - total % tasks, start))
}

impl Bench {
    /// Each shape on each backend: with notifications, then without, then with again (the
    /// two "with" runs averaged, so drift over the three does not favour one side).
    pub(crate) async fn notify_cost(&mut self, backends: &[&str]) -> Res<()> {
        println!("Notifications");
        for (label, tasks, batch) in SHAPES {
            let total = if batch == 1 {
                self.sizes.w1_sends
            } else {
                self.sizes.w3_batches * batch
            };
            for backend in backends {
                let queue = backends::connect(backend, &self.url, 8).await?;
                let mut on = Vec::new();
                let mut off = 0.0;
                for (i, notify) in [true, false, true].into_iter().enumerate() {
                    let name =
                        QueueName::new(format!("nfy_{label}_{i}_{backend}").replace('-', "_"))?;
                    queue.drop_queue(&name).await?;
                    let options = if notify {
                        CreateOptions::new()
                    } else {
                        CreateOptions::new().without_notify_insert()
                    };
                    queue.create(&name, options).await?;
                    let v = send_all(&queue, &name, tasks, batch, total).await?;
                    queue.drop_queue(&name).await?;
                    if notify {
                        on.push(v);
                    } else {
                        off = v;
                    }
                }
                let on = on.iter().sum::<f64>() / on.len() as f64;
                let system = format!("pgmq-rs/{backend}");
                let note = format!(
                    "{tasks} sender(s), {batch} per call; {:.2}x without",
                    on / off
                );
                self.record(
                    &format!("{label}-notify"),
                    &system,
                    Unit::MsgsPerS,
                    on,
                    &note,
                );
                self.record(
                    &format!("{label}-quiet"),
                    &system,
                    Unit::MsgsPerS,
                    off,
                    "no notifications",
                );
            }
        }
        Ok(())
    }
}
