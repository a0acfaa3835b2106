//! Runs each workload on every system and records the figures.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use pgmq_core::{CreateOptions, Queue, QueueAttributes, QueueName};

use crate::report::{Measurement, Unit, PGBENCH, PGMQ_CRATE};
use crate::setup::pool_options;
use crate::system::{Ours, Res, System, Upstream};
use crate::workloads::{self, Sizes};
use crate::{backends, pgbench};

type Measure =
    for<'a> fn(&'a dyn System, usize) -> Pin<Box<dyn Future<Output = Res<f64>> + Send + 'a>>;
type MakeScript = fn(&QueueName) -> Res<pgbench::Script>;
/// A W5-style run: (system, consumers, messages) → messages/s.
type Concurrent =
    fn(Arc<dyn System>, usize, usize) -> Pin<Box<dyn Future<Output = Res<f64>> + Send>>;

/// One of W1–W4 (and W2's variants): the same loop on every system, and pgbench on our
/// statements.
pub(crate) struct Simple {
    pub(crate) name: &'static str,
    pub(crate) size: usize,
    pub(crate) measure: Measure,
    pub(crate) script: MakeScript,
    /// Messages per pgbench transaction.
    pub(crate) per_tx: usize,
    /// Whether pgbench needs the queue filled first (the workload consumes messages).
    pub(crate) consumes: bool,
    /// Whether the queue has a dead-letter policy (a second queue, `<name>_dlq`).
    pub(crate) dead_letter: bool,
    /// Why the pgmq crate sits this one out, if it does.
    pub(crate) crate_gap: Option<&'static str>,
}

impl Simple {
    pub(crate) fn all(sz: &Sizes) -> [Simple; 6] {
        let plain = |name, size, measure, script, per_tx, consumes| Simple {
            name,
            size,
            measure,
            script,
            per_tx,
            consumes,
            dead_letter: false,
            crate_gap: None,
        };
        [
            plain(
                "W1",
                sz.w1_sends,
                |s, n| Box::pin(workloads::w1(s, n)),
                pgbench::w1,
                1,
                false,
            ),
            plain(
                "W2",
                sz.w2_reads,
                |s, n| Box::pin(workloads::w2(s, n)),
                pgbench::w2,
                1,
                true,
            ),
            Simple {
                crate_gap: Some("no receipts"),
                ..plain(
                    "W2-receipt",
                    sz.w2_reads,
                    |s, n| Box::pin(workloads::w2_receipt(s, n)),
                    pgbench::w2_receipt,
                    1,
                    true,
                )
            },
            // W2's loop and statements (the read looks the policy up itself).
            Simple {
                dead_letter: true,
                crate_gap: Some("no dead-letter queues"),
                ..plain(
                    "W2-dlq",
                    sz.w2_reads,
                    |s, n| Box::pin(workloads::w2(s, n)),
                    pgbench::w2,
                    1,
                    true,
                )
            },
            plain(
                "W3",
                sz.w3_batches,
                |s, n| Box::pin(workloads::w3(s, n)),
                pgbench::w3,
                100,
                false,
            ),
            plain(
                "W4",
                sz.w4_batches,
                |s, n| Box::pin(workloads::w4(s, n)),
                pgbench::w4,
                100,
                true,
            ),
        ]
    }
}

/// The receive count of W2-dlq's policy; W2 reads each message once, so none moves.
const MAX_RECEIVES: u32 = 5;

/// Makes `queue` (already created) dead-letter into a fresh `<queue>_dlq` after
/// [`MAX_RECEIVES`] receives.
async fn add_dead_letter(q: &dyn Queue, queue: &QueueName) -> Res<()> {
    let dlq = QueueName::new(format!("{queue}_dlq"))?;
    q.drop_queue(&dlq).await?;
    q.create(&dlq, CreateOptions::new()).await?;
    let attributes = QueueAttributes::new().dead_letter(dlq, MAX_RECEIVES);
    q.set_attributes(queue, attributes).await?;
    Ok(())
}

/// A system measured twice in W6: on an idle queue and on one with work in flight.
struct Pair {
    system: String,
    idle: Arc<dyn System>,
    busy: Arc<dyn System>,
    tables: [String; 2],
}

pub(crate) struct Bench {
    pub(crate) url: String,
    pub(crate) sizes: Sizes,
    /// See [`Args::quiet`](crate::setup::Args).
    pub(crate) quiet: bool,
    /// See [`Layout`](crate::setup::Layout).
    pub(crate) layout: crate::setup::Layout,
    /// See [`Tuning`](crate::batching::Tuning).
    pub(crate) tuning: crate::batching::Tuning,
    pub(crate) results: Vec<Measurement>,
    pub(crate) admin: sqlx::PgPool,
    pub(crate) upstream: Arc<pgmq::PGMQueueExt>,
    /// Our backends, each on a one-connection pool.
    pub(crate) single: Vec<(&'static str, Arc<dyn Queue>)>,
    pub(crate) crate_on: bool,
    pub(crate) pgbench: Option<std::path::PathBuf>,
    /// Target lines of runs whose figures are not single measurements (W10), for the
    /// verdicts after the table.
    pub(crate) verdicts: Vec<String>,
}

impl Bench {
    /// A fresh queue of ours (dropped first) on `queue`, as a [`System`].
    pub(crate) async fn ours(&self, queue: Arc<dyn Queue>, name: &str) -> Res<Arc<dyn System>> {
        self.ours_with(queue, name, false).await
    }

    /// [`ours`](Self::ours), with a dead-letter policy if `dead_letter`.
    async fn ours_with(
        &self,
        queue: Arc<dyn Queue>,
        name: &str,
        dead_letter: bool,
    ) -> Res<Arc<dyn System>> {
        let name = QueueName::new(name.replace('-', "_"))?;
        queue.drop_queue(&name).await?;
        let options = match self.layout {
            crate::setup::Layout::Plain => CreateOptions::new(),
            crate::setup::Layout::Unlogged => CreateOptions::unlogged(),
            crate::setup::Layout::Partitioned => CreateOptions::partitioned(
                pgmq_core::PartitionInterval::Messages(1_000_000),
                pgmq_core::PartitionInterval::Messages(10_000_000),
            ),
        };
        let options = if self.quiet {
            options.without_notify_insert()
        } else {
            options
        };
        queue.create(&name, options).await?;
        if dead_letter {
            add_dead_letter(queue.as_ref(), &name).await?;
        }
        Ok(Arc::new(Ours { queue, name }))
    }

    /// A fresh queue of the pgmq crate's, on its one-connection pool, as a [`System`].
    async fn upstream(&self, name: &str) -> Res<Arc<dyn System>> {
        let _ = self.upstream.drop_queue(name).await;
        self.upstream.create(name).await?;
        Ok(Arc::new(Upstream {
            pgmq: Arc::clone(&self.upstream),
            name: name.into(),
        }))
    }

    async fn analyze(&self, table: &str) -> Res<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE pgmq.\"{table}\"")))
            .execute(&self.admin)
            .await?;
        Ok(())
    }

    /// W1–W4 (and W2's variants) on one connection per system.
    pub(crate) async fn simple(&mut self, w: &Simple) -> Res<()> {
        println!("{}", w.name);
        let tag = w.name.to_lowercase().replace('-', "_");
        for (backend, queue) in self.single.clone() {
            let s = self
                .ours_with(queue, &format!("{tag}_{backend}"), w.dead_letter)
                .await?;
            let v = (w.measure)(s.as_ref(), w.size).await?;
            self.record(w.name, &format!("pgmq-rs/{backend}"), Unit::MsgsPerS, v, "");
        }
        match (self.crate_on, w.crate_gap) {
            (false, _) => {}
            (true, Some(gap)) => println!("  {:<10} {PGMQ_CRATE:<22} skipped: {gap}", w.name),
            (true, None) => {
                let s = self.upstream(&format!("{tag}_crate")).await?;
                let v = (w.measure)(s.as_ref(), w.size).await?;
                self.record(w.name, PGMQ_CRATE, Unit::MsgsPerS, v, "");
            }
        }
        let (Some(bin), Some((_, q))) = (self.pgbench.clone(), self.single.first().cloned()) else {
            return Ok(());
        };
        let name = QueueName::new(format!("{tag}_pgbench"))?;
        q.drop_queue(&name).await?;
        q.create(&name, CreateOptions::new()).await?;
        if w.dead_letter {
            add_dead_letter(q.as_ref(), &name).await?;
        }
        let s = Ours {
            queue: q,
            name: name.clone(),
        };
        if w.consumes {
            workloads::fill(&s, (w.size + 1) * w.per_tx, 0).await?;
        }
        let tps = pgbench::run(&bin, &self.url, &(w.script)(&name)?, w.size)?;
        if w.consumes {
            // Every transaction must have consumed its messages (a stale fence deletes none).
            let left = s.queue.metrics(&name).await?.queue_length;
            if left != w.per_tx as i64 {
                return Err(
                    format!("{} pgbench left {left} messages, not {}", w.name, w.per_tx).into(),
                );
            }
        }
        let v = tps * w.per_tx as f64;
        self.record(
            w.name,
            PGBENCH,
            Unit::MsgsPerS,
            v,
            "our statements, -M prepared",
        );
        Ok(())
    }

    /// W5 (4 producers) and W5-drain (a full queue, no producers) with 4, 16 and 64
    /// consumers.
    pub(crate) async fn w5(&mut self, backends: &[&str]) -> Res<()> {
        println!("W5");
        let end_to_end: Concurrent = |s, c, n| Box::pin(workloads::w5(s, c, n));
        let drain: Concurrent = |s, c, n| Box::pin(workloads::w5_drain(s, c, n));
        self.consumers("W5", "w5", "4 producers", end_to_end, backends)
            .await?;
        // The same consumer counts on the claim alone.
        self.consumers("W5-drain", "w5d", "no producers", drain, backends)
            .await
    }

    /// Runs `run` with 4, 16 and 64 consumers on every system, each on its own pool of 70,
    /// one pool at a time (Postgres' default max_connections is 100).
    async fn consumers(
        &mut self,
        label: &str,
        tag: &str,
        note: &str,
        run: Concurrent,
        backends: &[&str],
    ) -> Res<()> {
        let total = self.sizes.w5_messages;
        for consumers in [4, 16, 64] {
            let w = format!("{label}/c{consumers}");
            for backend in backends {
                let queue = backends::connect(backend, &self.url, 70).await?;
                let name = format!("{tag}_{backend}_{consumers}");
                let s = self.ours(queue, &name).await?;
                let v = run(s, consumers, total).await?;
                let system = format!("pgmq-rs/{backend}");
                self.record(&w, &system, Unit::MsgsPerS, v, note);
            }
            if self.crate_on {
                let pool = pool_options(70).connect(&self.url).await?;
                let pgmq = Arc::new(pgmq::PGMQueueExt::new_with_pool(pool.clone()).await);
                let name = format!("{tag}_crate_{consumers}");
                pgmq.create(&name).await?;
                let s: Arc<dyn System> = Arc::new(Upstream { pgmq, name });
                let v = run(s, consumers, total).await?;
                self.record(&w, PGMQ_CRATE, Unit::MsgsPerS, v, note);
                pool.close().await;
            }
        }
        Ok(())
    }

    /// W6: read+delete latency with `w6_in_flight` invisible messages ahead, vs none.
    pub(crate) async fn w6(&mut self) -> Res<()> {
        println!("W6");
        let mut pairs = Vec::new();
        if let Some((backend, queue)) = self.single.first().cloned() {
            pairs.push(Pair {
                system: format!("pgmq-rs/{backend}"),
                idle: self.ours(Arc::clone(&queue), "w6_ours_idle").await?,
                busy: self.ours(queue, "w6_ours_busy").await?,
                tables: ["q_w6_ours_idle".into(), "q_w6_ours_busy".into()],
            });
        }
        if self.crate_on {
            pairs.push(Pair {
                system: PGMQ_CRATE.into(),
                idle: self.upstream("w6_crate_idle").await?,
                busy: self.upstream("w6_crate_busy").await?,
                tables: ["q_w6_crate_idle".into(), "q_w6_crate_busy".into()],
            });
        }
        let (in_flight, reads) = (self.sizes.w6_in_flight, self.sizes.w6_reads);
        for p in pairs {
            workloads::fill(p.idle.as_ref(), reads + 10, 0).await?;
            // Invisible first, so they sit ahead of the visible ones in msg_id order too.
            workloads::fill(p.busy.as_ref(), in_flight, 3600).await?;
            workloads::fill(p.busy.as_ref(), reads + 10, 0).await?;
            for t in &p.tables {
                self.analyze(t).await?;
            }
            let idle = workloads::w6_latency(p.idle.as_ref(), reads).await?;
            let busy = workloads::w6_latency(p.busy.as_ref(), reads).await?;
            self.record(
                "W6/none",
                &p.system,
                Unit::LatencyUs,
                idle,
                "median read+delete",
            );
            let note = format!(
                "{in_flight} invisible ahead; {:.2}x the idle latency",
                busy / idle
            );
            self.record(
                &format!("W6/{in_flight}"),
                &p.system,
                Unit::LatencyUs,
                busy,
                &note,
            );
        }
        Ok(())
    }
}
