//! W10, the soak: a fixed offered load for minutes, sampled every few seconds, to see whether
//! throughput holds while the queue table churns (every message is one insert, one update
//! per read and one delete or archive, so dead rows come as fast as messages go).
//!
//! Four producers offer a fixed rate through one [`BatchingProducer`] (the pgmq crate: its
//! own single sends); one [`Worker`] with 16 handlers of 1 ms archives them (the pgmq crate:
//! 16 loops reading 10 and archiving each). Every sample records the completion rate, the
//! claim statement's p50/p99, the queue depth, the table's dead rows and the size of the
//! table and of its indexes. `W10-pin` holds a transaction open (`BEGIN; SELECT
//! txid_current()`) from another connection for a while in the middle, which keeps vacuum
//! from removing any row that died after it began.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pgmq_core::adapter::{Executor, Listener, Row, Statement};
use pgmq_core::{
    AckMode, BatchingProducer, CreateOptions, Message, PartitionInterval, ProducerOptions, Queue,
    QueueName, Worker, WorkerOptions,
};
use serde::Serialize;
use sqlx::Connection as _;
use tokio::sync::{oneshot, Semaphore};
use tokio::time::{interval, sleep, MissedTickBehavior};

use crate::report::{Unit, PGMQ_CRATE};
use crate::runs::Bench;
use crate::setup::pool_options;
use crate::system::{Payload, Res, System, Upstream};

/// Producers, and the sends each may have in flight before it waits (its offered rate then
/// falls short, which the samples show as `offered`).
const PRODUCERS: usize = 4;
const IN_FLIGHT: usize = 256;
/// The worker's handlers (the crate: consumer loops), messages per read, handler time.
const CONCURRENCY: usize = 16;
const BATCH: usize = 10;
const HANDLER: Duration = Duration::from_millis(1);
/// How often the producers top up to their rate.
const TICK: Duration = Duration::from_millis(5);
/// Connections: producers' batches, the worker's reads, acks and heartbeats.
const POOL: u32 = 40;

/// One soak run's settings.
#[derive(Clone, Debug)]
pub(crate) struct SoakRun {
    /// The workload name in the results (`W10`, `W10-stock`, …).
    pub(crate) label: &'static str,
    pub(crate) secs: u64,
    /// Offered messages per second, over all producers.
    pub(crate) rate: f64,
    pub(crate) sample: Duration,
    /// Hold a transaction open from (start, for) into the run.
    pub(crate) pin: Option<(Duration, Duration)>,
    /// Create the queue with the default storage parameters (else the server's).
    pub(crate) storage: bool,
    /// Let the worker vacuum the queue table (else only autovacuum does).
    pub(crate) worker_vacuum: bool,
    /// Partition the queue by pg_partman ([`PARTITION`] ids each, [`RETENTION`] kept), with
    /// maintenance every [`MAINTENANCE`], so whole partitions are dropped.
    pub(crate) partitioned: bool,
}

/// A partitioned soak queue's partition width and retention in message ids, and how often
/// its maintenance runs (at 3500 msgs/s, a partition every 14 s; retention about 140 s).
const PARTITION: u64 = 50_000;
const RETENTION: u64 = 500_000;
const MAINTENANCE: Duration = Duration::from_secs(10);

/// One sample.
#[derive(Clone, Debug, Serialize)]
struct Sample {
    /// Seconds since the load started, at the end of the sample.
    t_s: f64,
    /// Sends issued per second in the sample.
    offered: f64,
    /// Messages handled and acknowledged per second in the sample.
    rate: f64,
    claim_p50_ms: f64,
    claim_p99_ms: f64,
    /// Rows in the queue table (visible or held).
    depth: i64,
    dead_tup: i64,
    /// The queue table's size (heap, without indexes) and its indexes' size.
    table_bytes: i64,
    index_bytes: i64,
    /// Vacuums of the queue table so far (by autovacuum or anyone else).
    vacuums: i64,
    pinned: bool,
}

/// What one run came to.
#[derive(Debug, Serialize)]
struct Summary {
    label: String,
    system: String,
    secs: u64,
    offered_rate: f64,
    storage_params: bool,
    worker_vacuum: bool,
    mean_rate_first_third: f64,
    mean_rate_last_third: f64,
    /// Last third over first third, minus one.
    drift: f64,
    /// The slowest minute (a rolling mean over a minute's samples) over the first third,
    /// minus one: a collapse in the middle of a run that recovers by its end shows here.
    slowest_minute: f64,
    p99_first_third_ms: f64,
    p99_last_third_ms: f64,
    p99_ratio: f64,
    /// The worst minute's mean p99 over the first third's.
    worst_minute_p99_ratio: f64,
    max_bytes_middle_third: i64,
    max_bytes_last_third: i64,
    max_dead_tup: i64,
    max_depth: i64,
    sent: u64,
    send_errors: u64,
    stored: i64,
    stored_distinct: i64,
    lost: i64,
    duplicated: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pin: Option<PinEffect>,
}

/// What the held transaction did.
#[derive(Debug, Serialize)]
struct PinEffect {
    baseline_rate: f64,
    baseline_p99_ms: f64,
    pinned_mean_rate: f64,
    pinned_max_p99_ms: f64,
    pinned_max_dead_tup: i64,
    /// Seconds after the release until a sample's rate is at least 90% of the baseline
    /// again (and every later one's too); `None`: not by the end. One-sided: draining the
    /// backlog the pin left runs above the baseline, which is recovery, not a fault.
    rate_back_after_s: Option<f64>,
    /// The same for p99 within 10% of the baseline's ...
    p99_back_after_s: Option<f64>,
    /// ... and within 2x of it.
    p99_within_2x_after_s: Option<f64>,
}

/// Claim statement timings, taken out once per sample.
#[derive(Default)]
struct Claims(Mutex<Vec<u32>>);

impl Claims {
    fn record(&self, took: Duration) {
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(us);
    }

    /// p50 and p99 in ms of what was recorded since the last call.
    fn take(&self) -> (f64, f64) {
        let mut v = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        if v.is_empty() {
            return (f64::NAN, f64::NAN);
        }
        v.sort_unstable();
        let at = |q: f64| f64::from(v[((v.len() - 1) as f64 * q).round() as usize]) / 1000.0;
        (at(0.5), at(0.99))
    }
}

/// `E`, timing each claim (the statement a read runs) into `claims`.
struct Timed<E> {
    inner: E,
    claims: Arc<Claims>,
}

#[async_trait]
impl<E: Executor> Executor for Timed<E> {
    async fn query(&self, statement: Statement) -> pgmq_core::Result<Vec<Row>> {
        if !statement.sql.starts_with("WITH claimed") {
            return self.inner.query(statement).await;
        }
        let start = Instant::now();
        let rows = self.inner.query(statement).await;
        self.claims.record(start.elapsed());
        rows
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> pgmq_core::Result<Vec<Vec<Row>>> {
        self.inner.query_atomic(statements).await
    }

    async fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration).await;
    }

    fn listener(&self) -> Option<Arc<dyn Listener>> {
        self.inner.listener()
    }
}

/// Counters the load, the consumers and the sampler share.
#[derive(Default)]
struct Counters {
    issued: AtomicU64,
    sent: AtomicU64,
    send_errors: AtomicU64,
    done: AtomicU64,
    stop: AtomicBool,
}

/// [`PRODUCERS`] producers offering `rate` messages/s between them through `send`, until
/// `counters.stop`; returns once every send they issued has answered.
async fn offer<F, Fut>(send: F, rate: f64, counters: Arc<Counters>) -> Res<()>
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Res<()>> + Send + 'static,
{
    let per_producer = rate / PRODUCERS as f64;
    let producers: Vec<_> = (0..PRODUCERS as u64)
        .map(|p| {
            let (send, counters) = (send.clone(), Arc::clone(&counters));
            tokio::spawn(async move {
                let permits = Arc::new(Semaphore::new(IN_FLIGHT));
                let start = Instant::now();
                let mut issued = 0u64;
                let mut tick = interval(TICK);
                tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
                while !counters.stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let due = (start.elapsed().as_secs_f64() * per_producer) as u64;
                    while issued < due && !counters.stop.load(Ordering::Relaxed) {
                        let permit = Arc::clone(&permits).acquire_owned().await?;
                        // Ids never collide across producers: producer p sends p, p+4, …
                        let id = issued * PRODUCERS as u64 + p;
                        issued += 1;
                        counters.issued.fetch_add(1, Ordering::Relaxed);
                        let (send, counters) = (send.clone(), Arc::clone(&counters));
                        tokio::spawn(async move {
                            match send(id).await {
                                Ok(()) => counters.sent.fetch_add(1, Ordering::Relaxed),
                                Err(_) => counters.send_errors.fetch_add(1, Ordering::Relaxed),
                            };
                            drop(permit);
                        });
                    }
                }
                permits.acquire_many(IN_FLIGHT as u32).await?.forget();
                Res::Ok(())
            })
        })
        .collect();
    for p in producers {
        p.await??;
    }
    Ok(())
}

/// The sampler's view of the queue table (all its partitions, if it has any): rows, dead
/// rows, heap bytes, index bytes, vacuums so far.
async fn table_stats(admin: &sqlx::PgPool, table: &str) -> Res<(i64, i64, i64, i64, i64)> {
    let depth: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        // `table` is a queue's table name: `q_` and a validated queue name.
        "SELECT count(*) FROM pgmq.\"{table}\""
    )))
    .fetch_one(admin)
    .await?;
    let stats: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT COALESCE(sum(n_dead_tup), 0)::bigint, \
                COALESCE(sum(pg_table_size(relid)), 0)::bigint, \
                COALESCE(sum(pg_indexes_size(relid)), 0)::bigint, \
                COALESCE(sum(vacuum_count + autovacuum_count), 0)::bigint \
         FROM pg_stat_user_tables \
         WHERE relid = format('pgmq.%I', $1::text)::regclass \
            OR relid IN (SELECT relid FROM pg_partition_tree(format('pgmq.%I', $1::text)::regclass))",
    )
    .bind(table)
    .fetch_one(admin)
    .await?;
    Ok((depth.0, stats.0, stats.1, stats.2, stats.3))
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

impl Bench {
    /// Runs one soak on pgmq-rs (sqlx) or, with `crate_peer`, on the pgmq crate; records its
    /// mean rate over the last third and writes its samples and summary to `out`.
    pub(crate) async fn soak(&mut self, run: &SoakRun, crate_peer: bool, out: &str) -> Res<()> {
        let system = if crate_peer {
            PGMQ_CRATE.to_owned()
        } else {
            "pgmq-rs/sqlx".to_owned()
        };
        let file_label = format!(
            "{}{}",
            run.label.to_lowercase(),
            if crate_peer { "-crate" } else { "" }
        );
        println!(
            "{} on {system}: {} s at {} msgs/s offered",
            run.label, run.secs, run.rate
        );
        let claims = Arc::new(Claims::default());
        let counters = Arc::new(Counters::default());
        let queue_name = format!("soak_{}", file_label.replace('-', "_"));
        let table = format!("q_{queue_name}");
        let pool = pool_options(POOL).connect(&self.url).await?;

        // The consumers, and the load's send function.
        let (consumers, stop_worker, closer): (
            tokio::task::JoinHandle<Res<u64>>,
            Option<oneshot::Sender<()>>,
            Option<BatchingProducer>,
        );
        let load;
        if crate_peer {
            let pgmq = Arc::new(pgmq::PGMQueueExt::new_with_pool(pool.clone()).await);
            pgmq.create(&queue_name).await?;
            let s: Arc<dyn System> = Arc::new(Upstream {
                pgmq,
                name: queue_name.clone(),
            });
            let send_s = Arc::clone(&s);
            load = tokio::spawn(offer(
                move |id| {
                    let s = Arc::clone(&send_s);
                    async move { s.send(&Payload::new(id)).await.map(drop) }
                },
                run.rate,
                Arc::clone(&counters),
            ));
            let (claims2, counters2) = (Arc::clone(&claims), Arc::clone(&counters));
            consumers = tokio::spawn(async move {
                let loops: Vec<_> = (0..CONCURRENCY)
                    .map(|_| {
                        let (s, claims, counters) =
                            (Arc::clone(&s), Arc::clone(&claims2), Arc::clone(&counters2));
                        tokio::spawn(async move {
                            let mut idle = crate::workloads::IDLE_MIN;
                            while !counters.stop.load(Ordering::Relaxed) {
                                let start = Instant::now();
                                let ids = s.read(BATCH).await?;
                                claims.record(start.elapsed());
                                if ids.is_empty() {
                                    sleep(idle).await;
                                    idle = (idle * 2).min(crate::workloads::IDLE_MAX);
                                    continue;
                                }
                                idle = crate::workloads::IDLE_MIN;
                                for id in ids {
                                    sleep(HANDLER).await;
                                    s.archive_batch(&[id]).await?;
                                    counters.done.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Res::Ok(())
                        })
                    })
                    .collect();
                for l in loops {
                    l.await??;
                }
                Ok(0)
            });
            (stop_worker, closer) = (None, None);
        } else {
            let timed = Timed {
                inner: pgmq_sqlx::SqlxQueue::new(pool.clone()),
                claims: Arc::clone(&claims),
            };
            let queue: Arc<dyn Queue> = Arc::new(timed);
            let name = QueueName::new(&queue_name)?;
            queue.drop_queue(&name).await?;
            let mut create = if run.partitioned {
                sqlx::query("CREATE SCHEMA IF NOT EXISTS partman")
                    .execute(&self.admin)
                    .await?;
                sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman")
                    .execute(&self.admin)
                    .await?;
                CreateOptions::partitioned(
                    PartitionInterval::Messages(PARTITION),
                    PartitionInterval::Messages(RETENTION),
                )
            } else {
                CreateOptions::new()
            };
            if !run.storage {
                create = create.without_storage_tuning();
            }
            queue.create(&name, create).await?;
            let producer =
                BatchingProducer::new(Arc::clone(&queue), name.clone(), ProducerOptions::new())?;
            let send_p = producer.clone();
            load = tokio::spawn(offer(
                move |id| {
                    let p = send_p.clone();
                    async move {
                        p.send(&Payload::new(id))
                            .await
                            .map(drop)
                            .map_err(Into::into)
                    }
                },
                run.rate,
                Arc::clone(&counters),
            ));
            let mut options = WorkerOptions::new()
                .concurrency(CONCURRENCY)
                .batch_size(BATCH)
                .ack_mode(AckMode::Archive);
            if !run.worker_vacuum {
                options = options.without_vacuum();
            }
            if run.partitioned {
                let (queue, name, counters) =
                    (Arc::clone(&queue), name.clone(), Arc::clone(&counters));
                tokio::spawn(async move {
                    while !counters.stop.load(Ordering::Relaxed) {
                        sleep(MAINTENANCE).await;
                        if let Err(e) = queue.partition_maintenance(Some(&name)).await {
                            eprintln!("  partition maintenance failed: {e}");
                        }
                    }
                });
            }
            let worker = Worker::new(queue, name, options)?;
            let counters2 = Arc::clone(&counters);
            let handler = move |_: Message| {
                let counters = Arc::clone(&counters2);
                async move {
                    sleep(HANDLER).await;
                    counters.done.fetch_add(1, Ordering::Relaxed);
                    Ok::<(), Infallible>(())
                }
            };
            let (stop, stopped) = oneshot::channel::<()>();
            consumers = tokio::spawn(async move {
                let summary = worker
                    .run(handler, async {
                        let _ = stopped.await;
                    })
                    .await?;
                Ok(summary.vacuums)
            });
            (stop_worker, closer) = (Some(stop), Some(producer));
        }

        // The held transaction.
        let pinned = Arc::new(AtomicBool::new(false));
        let pin = run.pin.map(|(at, hold)| {
            let (url, pinned) = (self.url.clone(), Arc::clone(&pinned));
            tokio::spawn(async move {
                sleep(at).await;
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                let mut tx = conn.begin().await?;
                sqlx::query("SELECT txid_current()")
                    .execute(&mut *tx)
                    .await?;
                pinned.store(true, Ordering::Relaxed);
                sleep(hold).await;
                tx.commit().await?;
                pinned.store(false, Ordering::Relaxed);
                Res::Ok(())
            })
        });

        // The samples.
        let start = Instant::now();
        let mut samples: Vec<Sample> = Vec::new();
        let mut tick = interval(run.sample);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick.tick().await;
        let (mut issued0, mut done0, mut t0) = (0u64, 0u64, 0.0f64);
        while start.elapsed() < Duration::from_secs(run.secs) {
            tick.tick().await;
            let t = start.elapsed().as_secs_f64();
            let (issued, done) = (
                counters.issued.load(Ordering::Relaxed),
                counters.done.load(Ordering::Relaxed),
            );
            let (p50, p99) = claims.take();
            let (depth, dead_tup, table_bytes, index_bytes, vacuums) =
                table_stats(&self.admin, &table).await?;
            let s = Sample {
                t_s: t,
                offered: (issued - issued0) as f64 / (t - t0),
                rate: (done - done0) as f64 / (t - t0),
                claim_p50_ms: p50,
                claim_p99_ms: p99,
                depth,
                dead_tup,
                table_bytes,
                index_bytes,
                vacuums,
                pinned: pinned.load(Ordering::Relaxed),
            };
            println!(
                "  t={:>5.0}s offered={:>6.0}/s rate={:>6.0}/s claim p50={:>6.2} p99={:>7.2} ms \
                 depth={:>7} dead={:>8} table={:>6.1}MB idx={:>6.1}MB vacuums={}{}",
                s.t_s,
                s.offered,
                s.rate,
                s.claim_p50_ms,
                s.claim_p99_ms,
                s.depth,
                s.dead_tup,
                s.table_bytes as f64 / 1e6,
                s.index_bytes as f64 / 1e6,
                s.vacuums,
                if s.pinned { " [pinned]" } else { "" }
            );
            samples.push(s);
            (issued0, done0, t0) = (issued, done, t);
        }

        // Stop: the load first, then the consumers (the worker finishes and acknowledges
        // what it holds).
        counters.stop.store(true, Ordering::Relaxed);
        load.await??;
        if let Some(p) = closer {
            p.close().await;
        }
        if let Some(stop) = stop_worker {
            let _ = stop.send(());
        }
        let worker_vacuums = consumers.await??;
        if let Some(pin) = pin {
            pin.await??;
        }
        // Every message sent is in the queue or the archive, once. (A partitioned queue's
        // retention drops archive partitions: there, the handled count stands in for the
        // archive, so duplicates would show as messages gone missing instead.)
        let archive = if run.partitioned {
            "SELECT NULL::jsonb WHERE false".to_owned()
        } else {
            format!("SELECT message FROM pgmq.\"a_{queue_name}\"")
        };
        let (mut stored, mut stored_distinct): (i64, i64) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT count(*), count(DISTINCT message->>'id') FROM \
                 (SELECT message FROM pgmq.\"{table}\" UNION ALL {archive}) m"
            )))
            .fetch_one(&self.admin)
            .await?;
        if run.partitioned {
            let done = i64::try_from(counters.done.load(Ordering::Relaxed))?;
            (stored, stored_distinct) = (stored + done, stored_distinct + done);
        }
        pool.close().await;

        let mut summary = summarize(run, &system, &samples, &counters, (stored, stored_distinct));
        if crate_peer {
            // The crate's queue is its own: neither applies.
            (summary.storage_params, summary.worker_vacuum) = (false, false);
        }
        let note = format!(
            "{} msgs/s offered, {} s; drift {:+.1}%, claim p99 {:.2} -> {:.2} ms ({:.2}x), \
             table+indexes max {:.1} MB (middle third) -> {:.1} MB (last), dead rows max {}, \
             lost {}, duplicated {}{}",
            run.rate,
            run.secs,
            summary.drift * 100.0,
            summary.p99_first_third_ms,
            summary.p99_last_third_ms,
            summary.p99_ratio,
            summary.max_bytes_middle_third as f64 / 1e6,
            summary.max_bytes_last_third as f64 / 1e6,
            summary.max_dead_tup,
            summary.lost,
            summary.duplicated,
            if crate_peer {
                String::new()
            } else {
                format!("; worker vacuums {worker_vacuums}")
            }
        );
        self.record(
            run.label,
            &system,
            Unit::MsgsPerS,
            summary.mean_rate_last_third,
            &note,
        );
        if let Some(pin) = &summary.pin {
            println!("  pin: {pin:?}");
        }
        for v in verdicts(&summary) {
            println!("  {v}");
            self.verdicts.push(v);
        }
        std::fs::create_dir_all(out)?;
        let mut csv = String::from(
            "t_s,offered,rate,claim_p50_ms,claim_p99_ms,depth,dead_tup,table_bytes,index_bytes,vacuums,pinned\n",
        );
        for s in &samples {
            let _ = writeln!(
                csv,
                "{:.1},{:.1},{:.1},{:.3},{:.3},{},{},{},{},{},{}",
                s.t_s,
                s.offered,
                s.rate,
                s.claim_p50_ms,
                s.claim_p99_ms,
                s.depth,
                s.dead_tup,
                s.table_bytes,
                s.index_bytes,
                s.vacuums,
                u8::from(s.pinned)
            );
        }
        std::fs::write(format!("{out}/w10-{file_label}.csv"), csv)?;
        std::fs::write(
            format!("{out}/w10-{file_label}.json"),
            serde_json::to_string_pretty(&summary)?,
        )?;
        if summary.lost != 0 || summary.duplicated != 0 || summary.send_errors != 0 {
            return Err(format!(
                "{}: lost {}, duplicated {}, send errors {}",
                run.label, summary.lost, summary.duplicated, summary.send_errors
            )
            .into());
        }
        Ok(())
    }
}

/// How much a table may grow from the middle third of a run to the last and still count as
/// bounded: a quarter, plus 1 MB (small tables move by whole pages and index pages).
const GROWTH: f64 = 1.25;
const GROWTH_SLACK: i64 = 1_000_000;

/// W10's targets for one run: drift within 10%, claim p99 within 2x, the table's size
/// bounded; with a held transaction, the rate back within 10% of its baseline within 60 s of
/// the release.
fn verdicts(s: &Summary) -> Vec<String> {
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    let who = format!("{} {}", s.label, s.system);
    let bounded = s.max_bytes_last_third as f64
        <= s.max_bytes_middle_third as f64 * GROWTH + GROWTH_SLACK as f64;
    let mut v = vec![
        format!(
            "- [{}] {who}: drift {:+.1}% over {} s, last third against first; slowest minute \
             {:+.1}% (both within ±10%)",
            mark(s.drift.abs() <= 0.10 && s.slowest_minute >= -0.10),
            s.drift * 100.0,
            s.secs,
            s.slowest_minute * 100.0
        ),
        format!(
            "- [{}] {who}: claim p99 {:.2} ms -> {:.2} ms, {:.2}x; worst minute {:.2}x (both \
             within 2x)",
            mark(s.p99_ratio <= 2.0 && s.worst_minute_p99_ratio <= 2.0),
            s.p99_first_third_ms,
            s.p99_last_third_ms,
            s.p99_ratio,
            s.worst_minute_p99_ratio
        ),
        format!(
            "- [{}] {who}: queue table + indexes at most {:.1} MB in the middle third, {:.1} MB in \
             the last (bounded)",
            mark(bounded),
            s.max_bytes_middle_third as f64 / 1e6,
            s.max_bytes_last_third as f64 / 1e6
        ),
    ];
    v.push(format!(
        "- [info] {who}: completed {:.0}% of the offered {:.0} msgs/s in the last third; \
         deepest backlog {} messages",
        s.mean_rate_last_third / s.offered_rate * 100.0,
        s.offered_rate,
        s.max_depth
    ));
    if let Some(pin) = &s.pin {
        let back = pin
            .rate_back_after_s
            .map_or("not by the end".to_owned(), |t| format!("{t:.0} s"));
        v.push(format!(
            "- [{}] {who}: with a transaction held open, {:.0} msgs/s (baseline {:.0}), claim \
             p99 up to {:.1} ms (baseline {:.2}), dead rows up to {}; the rate back to 90% of \
             the baseline {back} after the release (within 60 s); p99 back within 10% {}, \
             within 2x {}",
            mark(pin.rate_back_after_s.is_some_and(|t| t <= 60.0)),
            pin.pinned_mean_rate,
            pin.baseline_rate,
            pin.pinned_max_p99_ms,
            pin.baseline_p99_ms,
            pin.pinned_max_dead_tup,
            pin.p99_back_after_s
                .map_or("not by the end".to_owned(), |t| format!("after {t:.0} s")),
            pin.p99_within_2x_after_s
                .map_or("not by the end".to_owned(), |t| format!("after {t:.0} s"))
        ));
    }
    v
}

/// Drift, latency, size and (for a pinned run) the pin's effect, from the samples.
fn summarize(
    run: &SoakRun,
    system: &str,
    samples: &[Sample],
    counters: &Counters,
    (stored, stored_distinct): (i64, i64),
) -> Summary {
    let n = samples.len();
    let third = |k: usize| &samples[(n * k / 3)..(n * (k + 1) / 3)];
    let (first, middle, last) = (third(0), third(1), third(2));
    let rate = |s: &[Sample]| mean(s.iter().map(|x| x.rate));
    let p99 = |s: &[Sample]| mean(s.iter().map(|x| x.claim_p99_ms).filter(|x| x.is_finite()));
    let bytes = |s: &[Sample]| {
        s.iter()
            .map(|x| x.table_bytes + x.index_bytes)
            .max()
            .unwrap_or(0)
    };
    let sent = counters.sent.load(Ordering::Relaxed);
    let window = ((60.0 / run.sample.as_secs_f64()) as usize).clamp(1, n.max(1));
    let minutes: Vec<&[Sample]> = samples.windows(window).collect();
    let slowest = minutes
        .iter()
        .map(|m| rate(m))
        .fold(f64::INFINITY, f64::min);
    let worst_p99 = minutes.iter().map(|m| p99(m)).fold(f64::NAN, f64::max);
    let pin = run.pin.map(|(at, hold)| {
        let (at, end) = (at.as_secs_f64(), (at + hold).as_secs_f64());
        let before: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.t_s <= at && s.t_s > at - 60.0)
            .collect();
        let during: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.t_s > at && s.t_s <= end)
            .collect();
        let baseline_rate = mean(before.iter().map(|s| s.rate));
        let baseline_p99 = mean(before.iter().map(|s| s.claim_p99_ms));
        let after: Vec<&Sample> = samples.iter().filter(|s| s.t_s > end).collect();
        // The first sample from which on every later one is within 10%.
        let back = |ok: &dyn Fn(&Sample) -> bool| {
            let first_bad_from_end = after.iter().rposition(|s| !ok(s));
            match first_bad_from_end {
                None => after.first().map(|s| s.t_s - end),
                Some(i) if i + 1 < after.len() => Some(after[i + 1].t_s - end),
                Some(_) => None,
            }
        };
        PinEffect {
            baseline_rate,
            baseline_p99_ms: baseline_p99,
            pinned_mean_rate: mean(during.iter().map(|s| s.rate)),
            pinned_max_p99_ms: during
                .iter()
                .map(|s| s.claim_p99_ms)
                .fold(f64::NAN, f64::max),
            pinned_max_dead_tup: during.iter().map(|s| s.dead_tup).max().unwrap_or(0),
            rate_back_after_s: back(&|s| s.rate >= baseline_rate * 0.9),
            p99_back_after_s: back(&|s| s.claim_p99_ms <= baseline_p99 * 1.1),
            p99_within_2x_after_s: back(&|s| s.claim_p99_ms <= baseline_p99 * 2.0),
        }
    });
    Summary {
        label: run.label.to_owned(),
        system: system.to_owned(),
        secs: run.secs,
        offered_rate: run.rate,
        storage_params: run.storage,
        worker_vacuum: run.worker_vacuum,
        mean_rate_first_third: rate(first),
        mean_rate_last_third: rate(last),
        drift: rate(last) / rate(first) - 1.0,
        slowest_minute: slowest / rate(first) - 1.0,
        p99_first_third_ms: p99(first),
        p99_last_third_ms: p99(last),
        p99_ratio: p99(last) / p99(first),
        worst_minute_p99_ratio: worst_p99 / p99(first),
        max_bytes_middle_third: bytes(middle),
        max_bytes_last_third: bytes(last),
        max_dead_tup: samples.iter().map(|s| s.dead_tup).max().unwrap_or(0),
        max_depth: samples.iter().map(|s| s.depth).max().unwrap_or(0),
        sent,
        send_errors: counters.send_errors.load(Ordering::Relaxed),
        stored,
        stored_distinct,
        lost: sent as i64 - stored_distinct,
        duplicated: stored - stored_distinct,
        pin,
    }
}

impl Bench {
    /// The W10 runs `args` asks for (see the crate docs), each on a fresh queue.
    pub(crate) async fn soaks(&mut self, args: &crate::setup::Args) -> Res<()> {
        let (secs, rate) = (self.sizes.w10_secs, self.sizes.w10_rate);
        let base = SoakRun {
            label: "W10",
            secs,
            rate,
            sample: Duration::from_secs(if secs >= 60 { 5 } else { 1 }),
            pin: None,
            storage: true,
            worker_vacuum: true,
            partitioned: false,
        };
        let mut runs = Vec::new();
        if args.workload("W10") {
            runs.push((base.clone(), false));
            if self.crate_on {
                runs.push((base.clone(), true));
            }
        }
        let variants = [
            ("W10-stock", false, false, false),
            ("W10-params", true, false, false),
            ("W10-vacuum", false, true, false),
            ("W10-partitioned", false, false, true),
        ];
        for (label, storage, worker_vacuum, partitioned) in variants {
            if args.named(label) {
                let run = SoakRun {
                    label,
                    storage,
                    worker_vacuum,
                    partitioned,
                    ..base.clone()
                };
                runs.push((run, false));
            }
        }
        if args.workload("W10-pin") && secs >= 60 {
            let hold = Duration::from_secs((secs / 5).min(120));
            let run = SoakRun {
                label: "W10-pin",
                pin: Some((Duration::from_secs(secs * 2 / 5), hold)),
                ..base.clone()
            };
            runs.push((run, false));
        }
        for (run, crate_peer) in runs {
            self.soak(&run, crate_peer, &args.out).await?;
        }
        Ok(())
    }
}
