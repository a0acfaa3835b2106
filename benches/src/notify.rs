//! The cost of insert notifications to producers: W1 (one sender), W3 (batches of 100),
//! 4 concurrent single senders (P4) and 64 tasks sending single messages through one
//! [`BatchingProducer`] (P64-producer, a reference: how a service with many concurrent
//! senders is meant to send), each on a queue with notifications (the default) and on one
//! without, in alternating pairs within one run; and W1 and P4 in pgbench the same way, for
//! the share of the cost that is the server's.

use std::sync::Arc;
use std::time::Instant;

use pgmq_core::{
    BatchingProducer, CreateOptions, ProducerOptions, Queue, QueueExt, QueueName, SendOptions,
};

use crate::batching::{w9_send, W9_TASKS};
use crate::report::{Unit, PGBENCH};
use crate::runs::Bench;
use crate::system::{Payload, Res};
use crate::workloads::rate;
use crate::{backends, pgbench};

/// (label, concurrent senders, messages per send call).
const SHAPES: [(&str, usize, usize); 3] = [("W1", 1, 1), ("W3", 1, 100), ("P4", 4, 1)];

/// [`W9_TASKS`] tasks send `total` single messages between them through one shared
/// [`BatchingProducer`] with the library's options, as W9 does; messages/s. The producer is
/// made (and closed) per run, so each run starts with no batch in flight.
async fn produce_all(queue: &Arc<dyn Queue>, name: &QueueName, total: usize) -> Res<f64> {
    let producer = BatchingProducer::new(Arc::clone(queue), name.clone(), ProducerOptions::new())?;
    let start = Instant::now();
    w9_send(queue, name, Some(&producer), 0, total).await?;
    let v = rate(total, start);
    producer.close().await;
    Ok(v)
}

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

/// The rates with notifications, the rates without, and their ratios: [`PAIRS`] pairs of
/// `run(0)` (on the queue with notifications) and `run(1)` (without), alternating which goes
/// first.
async fn pairs(mut run: impl AsyncFnMut(usize) -> Res<f64>) -> Res<[Vec<f64>; 3]> {
    let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..PAIRS {
        let mut rates = [0.0; 2];
        let order = if pair % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            rates[side] = run(side).await?;
        }
        on.push(rates[0]);
        off.push(rates[1]);
        ratios.push(rates[0] / rates[1]);
    }
    Ok([on, off, ratios])
}

/// Two fresh queues (dropped first) named after `tag`: one with notifications (the
/// default), one without.
async fn with_and_without(queue: &Arc<dyn Queue>, tag: &str) -> Res<[QueueName; 2]> {
    let fresh = async |side: &str, options: CreateOptions| -> Res<QueueName> {
        let name = QueueName::new(format!("nfy_{tag}_{side}").replace('-', "_"))?;
        queue.drop_queue(&name).await?;
        queue.create(&name, options).await?;
        Ok(name)
    };
    Ok([
        fresh("on", CreateOptions::new()).await?,
        fresh("off", CreateOptions::new().without_notify_insert()).await?,
    ])
}

impl Bench {
    /// Each shape on each backend: [`PAIRS`] pairs of runs, one on a queue with
    /// notifications (the default) and one on a queue without, alternating which goes first.
    /// Records the median rate of each side, and a verdict on the median of the pairs' ratios
    /// (the target: at least 0.9x). Then W1 in pgbench the same way, our send
    /// statement on one connection: the share of the cost that is the server's.
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
                let names = with_and_without(&queue, &format!("{label}_{backend}")).await?;
                let rates =
                    pairs(async |side| send_all(&queue, &names[side], tasks, batch, per_run).await)
                        .await?;
                for name in &names {
                    queue.drop_queue(name).await?;
                }
                let shape = format!("{tasks} sender(s), {batch} per call");
                self.record_pairs(label, &format!("pgmq-rs/{backend}"), &shape, rates, true);
            }
        }
        // As many messages as W3 sends, one per call from each of 64 tasks.
        let per_run = (self.sizes.w3_batches * 100 / 2).max(W9_TASKS);
        for backend in backends {
            let queue = backends::connect(backend, &self.url, 8).await?;
            let names = with_and_without(&queue, &format!("P64_{backend}")).await?;
            let rates =
                pairs(async |side| produce_all(&queue, &names[side], per_run).await).await?;
            for name in &names {
                queue.drop_queue(name).await?;
            }
            let shape = format!("{W9_TASKS} tasks, 1 per call, one BatchingProducer");
            let system = format!("pgmq-rs/{backend}");
            self.record_pairs("P64-producer", &system, &shape, rates, false);
        }
        let (Some(bin), Some((_, queue))) = (self.pgbench.clone(), self.single.first().cloned())
        else {
            return Ok(());
        };
        let url = self.url.clone();
        for (label, clients, _) in SHAPES.into_iter().filter(|s| s.2 == 1) {
            let names = with_and_without(&queue, &format!("{label}_pgbench")).await?;
            let scripts = [pgbench::w1(&names[0])?, pgbench::w1(&names[1])?];
            // Transactions per client, as pgbench counts them.
            let per_client = (self.sizes.w1_sends / 2 / clients).max(1);
            let rates = pairs(async |side| {
                pgbench::run_clients(&bin, &url, &scripts[side], per_client, clients)
            })
            .await?;
            for name in &names {
                queue.drop_queue(name).await?;
            }
            let shape = format!("our send, -M prepared, {clients} client(s)");
            self.record_pairs(label, PGBENCH, &shape, rates, false);
        }
        Ok(())
    }

    /// Records one shape's pairs (see [`pairs`]): the median rate of each side, and a line
    /// with the median ratio and what notifications add to each message in microseconds (a
    /// figure that, unlike the ratio, does not depend on how fast the disk commits). `target`:
    /// whether the line is a verdict on the target (at least 0.9x) or a reference.
    fn record_pairs(
        &mut self,
        label: &str,
        system: &str,
        shape: &str,
        [on, off, ratios]: [Vec<f64>; 3],
        target: bool,
    ) {
        let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let highest = ratios.iter().copied().fold(0.0, f64::max);
        let ratio = median(ratios);
        let (on, off) = (median(on), median(off));
        let added_us = 1e6 / on - 1e6 / off;
        let note = format!(
            "{shape}; {ratio:.2}x without (median of {PAIRS} pairs, {lowest:.2}-{highest:.2}), \
             {added_us:+.1} µs per message"
        );
        self.record(
            &format!("{label}-notify"),
            system,
            Unit::MsgsPerS,
            on,
            &note,
        );
        self.record(
            &format!("{label}-quiet"),
            system,
            Unit::MsgsPerS,
            off,
            "no notifications",
        );
        let verdict = match (target, ratio >= 0.9) {
            (false, _) => "reference",
            (true, true) => "met",
            (true, false) => "MISSED",
        };
        self.verdicts.push(format!(
            "- [{verdict}] {label} {system}: with notifications {ratio:.2}x the rate without, \
             {added_us:+.1} µs per message, median of {PAIRS} alternating pairs \
             ({lowest:.2}-{highest:.2}) (≥ 0.9x)"
        ));
    }
}
