//! W7 (how soon a waiting consumer wakes, and what waiting costs the database) and W5-wait
//! (W5 with consumers that wait on the queue instead of sleeping when it is empty).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgmq_core::QueueName;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, Row as _};
use tokio::sync::watch;
use tokio::time::{interval, sleep, timeout, MissedTickBehavior};

use crate::backends;
use crate::report::{Unit, PGMQ_CRATE};
use crate::runs::Bench;
use crate::setup::{fresh_database, pool_options};
use crate::system::{Payload, Res, System, Upstream};
use crate::workloads::rate;

/// The pause between two of W7's sends.
const SPACING: Duration = Duration::from_millis(50);
/// How long W7's consumer waits per read, and (for ours) how often it looks again meanwhile:
/// longer than a run, so only a notification wakes it.
const LONG: Duration = Duration::from_secs(30);
/// How long W7's consumer gets to subscribe and park before the first send.
const PARK: Duration = Duration::from_millis(500);
/// Consumers waiting in W7's idle count, and the shortest wait of each read (longer when the
/// count lasts longer, so that no wait ends inside it).
const IDLE_CONSUMERS: usize = 16;
const IDLE_WAIT: Duration = Duration::from_secs(60);
/// A backend publishes its statistics at most once a second: the pause after the idle
/// window before the second count.
const FLUSH: Duration = Duration::from_millis(1500);
/// The harness's own transactions inside an idle count (see [`transactions`]): the first
/// count's reading one (published when its connection closes), and the second count's
/// connection start-up and flush request.
const HARNESS_XACTS: i64 = 3;
/// The database W7's idle count takes as its control: created empty, used by nobody after one
/// connection.
const IDLE_CONTROL: &str = "pgmq_bench_idle_control";
/// How long a W5-wait consumer waits per read, and how often it looks again meanwhile.
const W5_WAIT: Duration = Duration::from_secs(1);
const W5_POLL: Duration = Duration::from_millis(250);
/// The producers of W5-wait.
const W5_PRODUCERS: usize = 4;
/// Messages per connection in W5-wait's untimed first round: past the five executions of a
/// prepared statement that Postgres plans afresh on a connection.
const W5_WARM_PER_CONNECTION: usize = 6;
/// Each pool of W7 (ours and the pgmq crate's).
const W7_POOL: u32 = 20;

/// W7: one consumer waits (reads with a [`LONG`] wait, `poll` between looks) while `n`
/// messages are sent [`SPACING`] apart; per message, µs from the return of its send to its
/// arrival at the consumer. Sorted.
pub(crate) async fn w7_latency(
    s: Arc<dyn System>,
    n: usize,
    poll: Option<Duration>,
) -> Res<Vec<f64>> {
    let reader = Arc::clone(&s);
    let consumer = tokio::spawn(async move {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            for (msg_id, id) in reader.read_waiting(LONG, poll).await? {
                got.push((id, Instant::now()));
                reader.delete(msg_id).await?;
            }
        }
        Res::Ok(got)
    });
    sleep(PARK).await;
    let mut sent = Vec::with_capacity(n);
    let mut tick = interval(SPACING);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for i in 0..n {
        tick.tick().await;
        s.send(&Payload::new(i as u64)).await?;
        sent.push(Instant::now());
    }
    let got = timeout(LONG * 2, consumer)
        .await
        .map_err(|_| "W7's consumer did not get every message within 60 s")???;
    let mut us = Vec::with_capacity(n);
    for (id, at) in got {
        let sent_at = usize::try_from(id)
            .ok()
            .and_then(|i| sent.get(i))
            .ok_or("W7's consumer got a message nobody sent")?;
        // The notification may beat the send's own answer: no negative latencies.
        us.push(at.saturating_duration_since(*sent_at).as_secs_f64() * 1e6);
    }
    us.sort_by(f64::total_cmp);
    Ok(us)
}

/// The median and p99 (nearest rank) of sorted, non-empty `samples`.
fn median_p99(samples: &[f64]) -> (f64, f64) {
    let n = samples.len();
    let p99 = (n * 99).div_ceil(100).saturating_sub(1);
    (samples[n / 2], samples[p99.min(n - 1)])
}

/// The transactions (committed and rolled back) so far of the database of `url` and of
/// database `control`, and the scans (sequential and index) of `table` so far, on a
/// connection of its own to the first, in plain (simple protocol) queries so each is one
/// transaction: the connection's start-up, a request to publish its own statistics at once
/// (which the server does before it answers), then the count, of which the count itself
/// holds the first two. The connection then closes, which publishes the third.
async fn transactions(url: &str, table: &str, control: &str) -> Res<Counts> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    // In `FROM`, so the answers are bigints (no look-up of the type `void`).
    sqlx::raw_sql("SELECT count(*) FROM pg_stat_force_next_flush()")
        .execute(&mut conn)
        .await?;
    // One query of two statements: one transaction.
    let sql = format!(
        "SELECT count(*) FROM pg_stat_clear_snapshot(); \
         SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database \
                 WHERE datname = current_database()), \
                (SELECT xact_commit + xact_rollback FROM pg_stat_database \
                 WHERE datname = '{control}'), \
                (SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) \
                 FROM pg_stat_user_tables WHERE relid = '{table}'::regclass)"
    );
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut conn)
        .await?;
    let row = rows.last().ok_or("no transaction count")?;
    let counts = Counts {
        transactions: row.try_get(0)?,
        control: row
            .try_get::<Option<i64>, _>(1)?
            .ok_or("no control database")?,
        scans: row.try_get(2)?,
    };
    conn.close().await?;
    Ok(counts)
}

/// What [`transactions`] counts (or, between two counts, what was counted meanwhile).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Counts {
    /// Transactions of the waiting consumers' database.
    pub(crate) transactions: i64,
    /// Transactions of the control database (nobody connects to it: what the server runs
    /// on its own in any database, such as autovacuum's visits).
    pub(crate) control: i64,
    /// Scans of the queue's table.
    pub(crate) scans: i64,
}

impl Counts {
    fn since(self, before: Self) -> Self {
        Self {
            transactions: self.transactions - before.transactions,
            control: self.control - before.control,
            scans: self.scans - before.scans,
        }
    }
}

/// W7 idle: [`IDLE_CONSUMERS`] consumers wait on empty `s` (reads with a wait of 60 s or
/// more, [`LONG`] between looks); what was counted during `window` ([`Counts`], the
/// consumers' database's transactions less the harness's own), per minute; and the scans of the queue's table `table` per minute (every
/// read and readiness question scans it; autovacuum, which the transaction count also
/// sees, does not).
///
/// The consumers first settle for `settle`: what a backend runs less than a second after its
/// last publication waits up to 10 s (PGSTAT_IDLE_INTERVAL) to be published, so the
/// statements that got them parked would otherwise land in the window. (`--tiny`'s count
/// ends before those 10 s are up, so they land after it.)
pub(crate) async fn w7_idle(
    s: Arc<dyn System>,
    url: &str,
    table: &str,
    control: &str,
    window: Duration,
    settle: Duration,
) -> Res<Counts> {
    let wait = IDLE_WAIT.max(settle + window + FLUSH * 2);
    let consumers: Vec<_> = (0..IDLE_CONSUMERS)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                loop {
                    if !s.read_waiting(wait, Some(LONG)).await?.is_empty() {
                        return Res::Ok(());
                    }
                }
            })
        })
        .collect();
    sleep(settle).await;
    let before = transactions(url, table, control).await?;
    sleep(window).await;
    sleep(FLUSH).await;
    let after = transactions(url, table, control).await?;
    for c in consumers {
        if c.is_finished() {
            c.await??;
            return Err("a W7 idle consumer got a message from an empty queue".into());
        }
        c.abort();
    }
    let counted = after.since(before);
    Ok(Counts {
        transactions: counted.transactions - HARNESS_XACTS,
        ..counted
    })
}

/// W5-wait: as [`w5`](crate::workloads::w5), but a consumer reads with a wait ([`W5_WAIT`],
/// looking again every [`W5_POLL`]) instead of sleeping when the queue is empty. Consumers
/// still waiting once everything is consumed are woken and stop.
///
/// An untimed round of a few messages per connection comes first: the pool hands out its
/// least recently used connection, so every connection serves each statement of the run
/// (send, read, readiness, delete) and prepares it on first use. Without that round, 68
/// connections preparing three or four statements each took a share of the short c64 run
/// that four connections do not take of the c4 one.
pub(crate) async fn w5_wait(s: Arc<dyn System>, consumers: usize, total: usize) -> Res<f64> {
    // As in W5: open every connection (and prepare the read on it) before the clock starts.
    let warm = (0..W5_PRODUCERS + consumers).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.read(1).await.map(drop) })
    });
    for t in warm.collect::<Vec<_>>() {
        t.await??;
    }
    let warm_total = W5_WARM_PER_CONNECTION * (W5_PRODUCERS + consumers);
    w5_wait_round(Arc::clone(&s), consumers, warm_total).await?;
    // A round stops its waiting consumers by dropping their reads, and a dropped read whose
    // statement had already gone out still runs: started after the next round's first
    // sends, it would claim one of them for its 30 s visibility timeout and nobody would
    // delete it (most likely what stalled two of 18 measurements for exactly 30 s). Let such
    // reads end on the empty queue first.
    sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    w5_wait_round(s, consumers, total).await?;
    Ok(rate(total, start))
}

/// One round of W5-wait: [`W5_PRODUCERS`] producers send `total` messages between them while
/// `consumers` consumers take them with waiting reads and delete them.
async fn w5_wait_round(s: Arc<dyn System>, consumers: usize, total: usize) -> Res<()> {
    let consumed = Arc::new(AtomicUsize::new(0));
    let (done, stop) = watch::channel(false);
    let done = Arc::new(done);
    let mut tasks = Vec::new();
    for p in 0..W5_PRODUCERS {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for i in (p..total).step_by(W5_PRODUCERS) {
                s.send(&Payload::new(i as u64)).await?;
            }
            Res::Ok(())
        }));
    }
    for _ in 0..consumers {
        let (s, consumed, done) = (Arc::clone(&s), Arc::clone(&consumed), Arc::clone(&done));
        let mut stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            while consumed.load(Ordering::Relaxed) < total {
                let got = tokio::select! {
                    got = s.read_waiting(W5_WAIT, Some(W5_POLL)) => got?,
                    _ = stop.wait_for(|d| *d) => break,
                };
                for (id, _) in got {
                    s.delete(id).await?;
                    if consumed.fetch_add(1, Ordering::Relaxed) + 1 == total {
                        done.send_replace(true);
                    }
                }
            }
            Res::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

impl Bench {
    /// W7 on each of `backends` (wake latency, then the idle count) and the pgmq crate's
    /// `read_with_poll` (latency only).
    pub(crate) async fn w7(&mut self, backends: &[&str]) -> Res<()> {
        println!("W7");
        self.quiesce().await?;
        let n = self.sizes.w7_messages;
        // The idle counts' control (see below). Autovacuum visits only a database that has
        // statistics, which a connection gives it.
        let control_url = fresh_database(&self.url, IDLE_CONTROL).await?;
        sqlx::PgConnection::connect(&control_url)
            .await?
            .close()
            .await?;
        for backend in backends {
            let system = format!("pgmq-rs/{backend}");
            let queue = backends::connect(backend, &self.url, W7_POOL).await?;
            let s = self.ours(queue, &format!("w7_{backend}")).await?;
            let us = w7_latency(s, n, Some(LONG)).await?;
            self.latencies(&system, &us, "wait 30 s, poll 30 s");
            // In a database of its own, which nothing else in this process (or on the
            // server) uses. Postgres signals every listening connection of a database on each
            // notification, and a signalled connection reads the notification queue in a
            // transaction it publishes only when it next answers its client: the listening
            // connections this process opened for earlier runs (every backend's, W5-wait's)
            // would otherwise publish transactions for the sends above inside the window,
            // whenever a liveness check of theirs falls in it. What the server runs on its own
            // in a database meanwhile (autovacuum's visits) is counted in the same window in
            // the control database, for the target line to compare with.
            let db = format!("pgmq_bench_idle_{}", backend.replace('-', "_"));
            let idle_url = fresh_database(&self.url, &db).await?;
            let queue = backends::connect(backend, &idle_url, W7_POOL).await?;
            let name = format!("w7_idle_{backend}");
            let s = self.ours(queue, &name).await?;
            let (window, settle) = (self.sizes.w7_idle, self.sizes.w7_settle);
            let table = format!("pgmq.q_{}", name.replace('-', "_"));
            let counted = w7_idle(s, &idle_url, &table, IDLE_CONTROL, window, settle).await?;
            let per_min = 60.0 / window.as_secs_f64();
            let queries = counted.transactions as f64 * per_min;
            let note = format!(
                "{IDLE_CONSUMERS} consumers waiting on an empty queue for {} s: their \
                 database's transactions, less the harness's {HARNESS_XACTS}",
                window.as_secs()
            );
            self.record("W7/idle", &system, Unit::QueriesPerMin, queries, &note);
            let control = counted.control as f64 * per_min;
            let note = "transactions of a control database nobody uses, in the same window";
            self.record(
                "W7/idle-control",
                &system,
                Unit::QueriesPerMin,
                control,
                note,
            );
            let note = "scans of the queue's table in the same window";
            let scans = counted.scans as f64 * per_min;
            self.record("W7/idle-scans", &system, Unit::QueriesPerMin, scans, note);
        }
        if self.crate_on {
            let pool = pool_options(W7_POOL).connect(&self.url).await?;
            let pgmq = Arc::new(pgmq::PGMQueueExt::new_with_pool(pool.clone()).await);
            let name = "w7_crate".to_owned();
            pgmq.create(&name).await?;
            let s: Arc<dyn System> = Arc::new(Upstream { pgmq, name });
            let us = w7_latency(s, n, None).await?;
            self.latencies(PGMQ_CRATE, &us, "read_with_poll, 250 ms interval");
            println!("  W7/idle    {PGMQ_CRATE:<22} skipped: it polls inside one statement");
            pool.close().await;
        }
        Ok(())
    }

    /// Reopens the harness's long-lived pools (the admin pool, the pgmq crate's, our
    /// one-connection ones): their connections close, which publishes the statistics their
    /// last statements left pending (up to 10 s late otherwise, inside an idle count).
    async fn quiesce(&mut self) -> Res<()> {
        self.admin.close().await;
        self.admin = PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.url)
            .await?;
        self.upstream.connection.close().await;
        let pool = pool_options(1).connect(&self.url).await?;
        self.upstream = Arc::new(pgmq::PGMQueueExt::new_with_pool(pool).await);
        for (backend, queue) in &mut self.single {
            *queue = backends::connect(backend, &self.url, 1).await?;
        }
        Ok(())
    }

    /// Records W7's median and p99 for `system`.
    fn latencies(&mut self, system: &str, us: &[f64], how: &str) {
        if us.is_empty() {
            return;
        }
        let (median, p99) = median_p99(us);
        let n = us.len();
        let note = format!("{how}; {:.2} ms of {n}", median / 1e3);
        self.record("W7/median", system, Unit::LatencyUs, median, &note);
        let note = format!("{how}; {:.2} ms of {n}", p99 / 1e3);
        self.record("W7/p99", system, Unit::LatencyUs, p99, &note);
    }

    /// W5-wait with 4, 16 and 64 consumers on each of `backends`, each on its own pool of 70.
    pub(crate) async fn w5_wait(&mut self, backends: &[&str]) -> Res<()> {
        println!("W5-wait");
        let total = self.sizes.w5_messages;
        for consumers in [4, 16, 64] {
            let w = format!("W5-wait/c{consumers}");
            for backend in backends {
                let queue = backends::connect(backend, &self.url, 70).await?;
                let name = format!("w5w_{backend}_{consumers}").replace('-', "_");
                let s = self.ours(Arc::clone(&queue), &name).await?;
                // The listening connection is up before the clock starts and stays up, as
                // for consumers that run for long.
                let _listening = queue.subscribe(&QueueName::new(name)?).await?;
                let v = w5_wait(s, consumers, total).await?;
                let system = format!("pgmq-rs/{backend}");
                let note = "4 producers; reads wait 1 s (poll 250 ms)";
                self.record(&w, &system, Unit::MsgsPerS, v, note);
            }
        }
        Ok(())
    }
}
