//! W8 (the [`Worker`] end to end, fed by a [`BatchingProducer`], against the pgmq crate's
//! usual read/handle/archive loop) and W9 (the [`BatchingProducer`] against direct sends).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgmq_core::{
    AckMode, BatchingProducer, CreateOptions, Message, ProducerOptions, Queue, QueueExt, QueueName,
    SendOptions, Worker, WorkerOptions,
};
use tokio::sync::{oneshot, watch};
use tokio::time::sleep;

use crate::backends;
use crate::report::{Unit, PGMQ_CRATE};
use crate::runs::Bench;
use crate::setup::pool_options;
use crate::system::{Payload, Res, System, Upstream};
use crate::workloads::{rate, IDLE_MAX, IDLE_MIN};

/// W8's producers, the sends each keeps in flight (as a service's request tasks do), the
/// messages each read asks for, and each handler's work.
const W8_PRODUCERS: usize = 4;
const W8_IN_FLIGHT: usize = 16;
/// W8's sending tasks: every producer's sends in flight.
const W8_SENDERS: usize = W8_PRODUCERS * W8_IN_FLIGHT;
const W8_BATCH: usize = 10;
const HANDLER: Duration = Duration::from_millis(1);
/// How often W8 looks whether the queue is empty once every message was handled.
const EMPTY_POLL: Duration = Duration::from_millis(2);
/// How long W8's worker gets to start and park before the clock starts.
const PARK: Duration = Duration::from_millis(200);
/// W9's sending tasks.
pub(crate) const W9_TASKS: usize = 64;
/// Each pool of W8 and W9 (Postgres' default max_connections is 100).
const POOL: u32 = 70;

/// W8's and W9's settings from the command line; by default, the library's.
#[derive(Clone, Default)]
pub(crate) struct Tuning {
    /// The batching producer (`--producer-window-us`, `--producer-batches`).
    pub(crate) producer: ProducerOptions,
    /// The worker's read-ahead (`--read-ahead`).
    pub(crate) read_ahead: Option<usize>,
}

/// A fresh queue (dropped first) named `name` (`-` as `_`) on `queue`.
async fn fresh(queue: &dyn Queue, name: &str) -> Res<QueueName> {
    let name = QueueName::new(name.replace('-', "_"))?;
    queue.drop_queue(&name).await?;
    queue.create(&name, CreateOptions::new()).await?;
    Ok(name)
}

/// Opens `n` pooled connections of `queue` before a clock starts.
async fn warm(queue: &Arc<dyn Queue>, name: &QueueName, n: usize) -> Res<()> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (queue, name) = (Arc::clone(queue), name.clone());
            tokio::spawn(async move { queue.metrics(&name).await.map(drop) })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// W8 on pgmq-rs: [`W8_SENDERS`] tasks ([`W8_PRODUCERS`] producers with [`W8_IN_FLIGHT`] sends
/// in flight each) sending single messages through one shared
/// [`BatchingProducer`], one [`Worker`] with `concurrency` handlers (each sleeps 1 ms;
/// successes archived); messages/s from the first send until the queue is empty.
pub(crate) async fn w8_worker(
    queue: Arc<dyn Queue>,
    name: QueueName,
    concurrency: usize,
    total: usize,
    tuning: &Tuning,
) -> Res<f64> {
    warm(&queue, &name, W8_PRODUCERS + 8).await?;
    // The listening connection is up before the clock starts and stays up.
    let _listening = queue.subscribe(&name).await?;
    let producer =
        BatchingProducer::new(Arc::clone(&queue), name.clone(), tuning.producer.clone())?;
    let mut options = WorkerOptions::new()
        .concurrency(concurrency)
        .batch_size(W8_BATCH)
        .ack_mode(AckMode::Archive);
    if let Some(n) = tuning.read_ahead {
        options = options.read_ahead(n);
    }
    let worker = Worker::new(Arc::clone(&queue), name.clone(), options)?;
    let handled = Arc::new(AtomicUsize::new(0));
    let (all_handled, mut handled_all) = watch::channel(false);
    let all_handled = Arc::new(all_handled);
    let handler = move |_: Message| {
        let (handled, all_handled) = (Arc::clone(&handled), Arc::clone(&all_handled));
        async move {
            sleep(HANDLER).await;
            if handled.fetch_add(1, Ordering::Relaxed) + 1 == total {
                all_handled.send_replace(true);
            }
            Ok::<(), Infallible>(())
        }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        worker.run(handler, shutdown).await
    });
    // A worker runs for long: its start (and first empty reads) is not timed.
    sleep(PARK).await;
    let start = Instant::now();
    let producers: Vec<_> = (0..W8_SENDERS)
        .map(|p| {
            let producer = producer.clone();
            tokio::spawn(async move {
                for i in (p..total).step_by(W8_SENDERS) {
                    producer.send(&Payload::new(i as u64)).await?;
                }
                Res::Ok(())
            })
        })
        .collect();
    for p in producers {
        p.await??;
    }
    if handled_all.wait_for(|h| *h).await.is_err() {
        // The handler is gone: the worker stopped early, with its error if it had one.
        run.await??;
        return Err("W8: the worker stopped before every message was handled".into());
    }
    // The last acknowledgements go out within the worker's ack interval.
    while queue.metrics(&name).await?.queue_length > 0 {
        sleep(EMPTY_POLL).await;
    }
    let v = rate(total, start);
    let _ = stop.send(());
    let summary = run.await??;
    producer.close().await;
    if summary.processed != total as u64 {
        return Err(format!("W8: the worker processed {total} messages as {summary:?}").into());
    }
    Ok(v)
}

/// W8 as the pgmq crate is used: [`W8_SENDERS`] tasks sending single messages,
/// `concurrency` consumers each reading up to [`W8_BATCH`], then per message the 1 ms handler
/// and an archive; a consumer that finds the queue empty backs off as in W5. Messages/s from
/// the first send until every message is archived.
pub(crate) async fn w8_loop(s: Arc<dyn System>, concurrency: usize, total: usize) -> Res<f64> {
    let warm = (0..(W8_SENDERS + concurrency).min(POOL as usize)).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.read(1).await.map(drop) })
    });
    for t in warm.collect::<Vec<_>>() {
        t.await??;
    }
    let archived = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..W8_SENDERS {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for i in (p..total).step_by(W8_SENDERS) {
                s.send(&Payload::new(i as u64)).await?;
            }
            Res::Ok(())
        }));
    }
    for _ in 0..concurrency {
        let (s, archived) = (Arc::clone(&s), Arc::clone(&archived));
        tasks.push(tokio::spawn(async move {
            let mut idle = IDLE_MIN;
            while archived.load(Ordering::Relaxed) < total {
                let ids = s.read(W8_BATCH).await?;
                if ids.is_empty() {
                    sleep(idle).await;
                    idle = (idle * 2).min(IDLE_MAX);
                    continue;
                }
                idle = IDLE_MIN;
                for id in ids {
                    sleep(HANDLER).await;
                    s.archive_batch(&[id]).await?;
                    archived.fetch_add(1, Ordering::Relaxed);
                }
            }
            Res::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(rate(total, start))
}

/// [`W9_TASKS`] tasks sending the messages `from..to` between them, through `producer` if
/// there is one, else each calling `send` itself.
pub(crate) async fn w9_send(
    queue: &Arc<dyn Queue>,
    name: &QueueName,
    producer: Option<&BatchingProducer>,
    from: usize,
    to: usize,
) -> Res<()> {
    let tasks: Vec<_> = (0..W9_TASKS)
        .map(|t| {
            let (queue, name, producer) = (Arc::clone(queue), name.clone(), producer.cloned());
            tokio::spawn(async move {
                for i in (from + t..to).step_by(W9_TASKS) {
                    let message = Payload::new(i as u64);
                    match &producer {
                        Some(p) => p.send(&message).await?,
                        None => queue.send(&name, &message, SendOptions::new()).await?,
                    };
                }
                Res::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Runs the batch send statement on every connection of the pool ([`POOL`] at once), one
/// message each.
async fn warm_batches(queue: &Arc<dyn Queue>, name: &QueueName, send: &SendOptions) -> Res<()> {
    for _ in 0..PLAN_WARM {
        let tasks: Vec<_> = (0..POOL)
            .map(|i| {
                let (queue, name, send) = (Arc::clone(queue), name.clone(), send.clone());
                tokio::spawn(async move {
                    let message = serde_json::to_value(Payload::new(u64::from(i)))?;
                    queue.send_batch_json(&name, vec![message], send).await?;
                    Res::Ok(())
                })
            })
            .collect();
        for t in tasks {
            t.await??;
        }
    }
    Ok(())
}

/// How many times [`warm_batches`] runs the statement on each connection: Postgres plans a
/// prepared statement afresh for its first five executions on a connection (custom plans)
/// before it may settle on a generic plan, as it does in a long-running application.
const PLAN_WARM: usize = 6;

/// W9: [`W9_TASKS`] tasks send `total` single messages, through one shared
/// [`BatchingProducer`] with the options `batched` if given, else each calling `send`
/// itself; messages/s.
pub(crate) async fn w9(
    queue: Arc<dyn Queue>,
    name: QueueName,
    total: usize,
    batched: Option<&ProducerOptions>,
) -> Res<f64> {
    let producer = batched
        .map(|o| BatchingProducer::new(Arc::clone(&queue), name.clone(), o.clone()))
        .transpose()?;
    // One message per task first, untimed: every connection open, its statement prepared.
    w9_send(&queue, &name, producer.as_ref(), total, total + W9_TASKS).await?;
    if let Some(options) = batched {
        // The producer runs at most a few batches at once, each on the pool's least recently
        // used connection: prepare its statement on every connection of the pool too, or a
        // short run times a prepare in most of its batches.
        warm_batches(&queue, &name, &options.send).await?;
    }
    let start = Instant::now();
    w9_send(&queue, &name, producer.as_ref(), 0, total).await?;
    let v = rate(total, start);
    if let Some(p) = producer {
        p.close().await;
    }
    Ok(v)
}

impl Bench {
    /// W8 with 4, 16 and 64 handlers on each of `backends` and the pgmq crate, each on its
    /// own pool of 70.
    pub(crate) async fn w8(&mut self, backends: &[&str]) -> Res<()> {
        println!("W8");
        let total = self.sizes.w8_messages;
        for concurrency in [4, 16, 64] {
            let w = format!("W8/c{concurrency}");
            for backend in backends {
                let queue = backends::connect(backend, &self.url, POOL).await?;
                let name = fresh(&*queue, &format!("w8_{backend}_{concurrency}")).await?;
                let v = w8_worker(queue, name, concurrency, total, &self.tuning).await?;
                let system = format!("pgmq-rs/{backend}");
                let note = "4 producers x 16 sends in flight via BatchingProducer; Worker, archive";
                self.record(&w, &system, Unit::MsgsPerS, v, note);
            }
            if self.crate_on {
                let pool = pool_options(POOL).connect(&self.url).await?;
                let pgmq = Arc::new(pgmq::PGMQueueExt::new_with_pool(pool.clone()).await);
                let name = format!("w8_crate_{concurrency}");
                pgmq.create(&name).await?;
                let s: Arc<dyn System> = Arc::new(Upstream { pgmq, name });
                let v = w8_loop(s, concurrency, total).await?;
                let note = "4 producers x 16 sends in flight; read 10, handle + archive each";
                self.record(&w, PGMQ_CRATE, Unit::MsgsPerS, v, note);
                pool.close().await;
            }
        }
        Ok(())
    }

    /// W9 on each of `backends`: direct sends, then the batching producer, on one pool of 70.
    pub(crate) async fn w9(&mut self, backends: &[&str]) -> Res<()> {
        println!("W9");
        let total = self.sizes.w9_messages;
        for backend in backends {
            let queue = backends::connect(backend, &self.url, POOL).await?;
            let system = format!("pgmq-rs/{backend}");
            let name = fresh(&*queue, &format!("w9_{backend}_direct")).await?;
            let direct = w9(Arc::clone(&queue), name, total, None).await?;
            let note = format!("{W9_TASKS} tasks, each its own send");
            self.record("W9/direct", &system, Unit::MsgsPerS, direct, &note);
            let name = fresh(&*queue, &format!("w9_{backend}_producer")).await?;
            let batched = w9(queue, name, total, Some(&self.tuning.producer)).await?;
            let note = format!(
                "{W9_TASKS} tasks, one BatchingProducer; {:.2}x direct",
                batched / direct
            );
            self.record("W9/producer", &system, Unit::MsgsPerS, batched, &note);
        }
        Ok(())
    }
}
