//! The cost of insert notifications to producers: W1 (one sender), W3 (batches of 100) and
//! 4 concurrent single senders (P4), each on a queue with notifications (the default) and on
//! one without, in alternating pairs within one run.

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

/// Alternating pairs per shape and backend (one with notifications, one without, the order
/// swapped each pair), each run sending half of the shape's messages. The machine's noise
/// moves single runs by ±20%; the median of six paired ratios does not follow one slow run.
const PAIRS: usize = 6;

/// The middle value of `v` (the mean of the two middle ones for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl Bench {
    /// Each shape on each backend: [`PAIRS`] pairs of runs, one on a queue with
    /// notifications (the default) and one on a queue without, alternating which goes first.
    /// Records the median rate of each side, and a verdict on the median of the pairs' ratios
    /// (the target: at least 0.9x).
    pub(crate) async fn notify_cost(&mut self, backends: &[&str]) -> Res<()> {
        println!("Notifications");
        for (label, tasks, batch) in SHAPES {
            let total = if batch == 1 {
                self.sizes.w1_sends
            } else {
                self.sizes.w3_batches * batch
            };
            // At least one call per sender per run.
            let per_run = (total / 2).max(tasks * batch);
            for backend in backends {
                let queue = backends::connect(backend, &self.url, 8).await?;
                let mut names = Vec::new();
                for notify in [true, false] {
                    let side = if notify { "on" } else { "off" };
                    let name =
                        QueueName::new(format!("nfy_{label}_{side}_{backend}").replace('-', "_"))?;
                    queue.drop_queue(&name).await?;
                    let options = if notify {
                        CreateOptions::new()
                    } else {
                        CreateOptions::new().without_notify_insert()
                    };
                    queue.create(&name, options).await?;
                    names.push(name);
                }
                let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
                for pair in 0..PAIRS {
                    let mut rates = [0.0; 2];
                    let order = if pair % 2 == 0 { [0, 1] } else { [1, 0] };
                    for side in order {
                        rates[side] = send_all(&queue, &names[side], tasks, batch, per_run).await?;
                    }
                    on.push(rates[0]);
                    off.push(rates[1]);
                    ratios.push(rates[0] / rates[1]);
                }
                for name in &names {
                    queue.drop_queue(name).await?;
                }
                let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
                let highest = ratios.iter().copied().fold(0.0, f64::max);
                let ratio = median(ratios);
                let system = format!("pgmq-rs/{backend}");
                let note = format!(
                    "{tasks} sender(s), {batch} per call; {ratio:.2}x without (median of \
                     {PAIRS} pairs, {lowest:.2}-{highest:.2})"
                );
                self.record(
                    &format!("{label}-notify"),
                    &system,
                    Unit::MsgsPerS,
                    median(on),
                    &note,
                );
                self.record(
                    &format!("{label}-quiet"),
                    &system,
                    Unit::MsgsPerS,
                    median(off),
                    "no notifications",
                );
                self.verdicts.push(format!(
                    "- [{}] {label} {system}: with notifications {ratio:.2}x the rate without, \
                     median of {PAIRS} alternating pairs ({lowest:.2}-{highest:.2}) (≥ 0.9x)",
                    if ratio >= 0.9 { "met" } else { "MISSED" }
                ));
            }
        }
        Ok(())
    }
}
