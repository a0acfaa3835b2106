//! pgmq-bench: pgmq-rs on each backend, side by side with the pgmq crate and pgbench, in one
//! process, one sitting, one database.
//!
//! ```text
//! cargo run -p pgmq-bench --release -- --quick            # under 2 minutes
//! cargo run -p pgmq-bench --release                       # the full run
//! cargo run -p pgmq-bench --release -- --write-md         # also rewrite BENCHMARKS.md
//! ```
//!
//! Options: `--quick`, `--tiny` (a smoke test for CI), `--database-url URL` (default:
//! `DATABASE_URL`, else a throwaway local Postgres), `--out DIR` (default `bench-results`),
//! `--only W1,W2,...`, `--systems sqlx,tokio-postgres,diesel,pgmq-crate,pgbench`. The harness creates (and drops first) a database `pgmq_bench`.

#![allow(clippy::print_stdout)]

mod backends;
mod pgbench;
mod report;
mod system;
mod targets;
mod workloads;

use std::sync::Arc;

use pgmq_core::{CreateOptions, Queue, QueueName};
use report::{Measurement, Unit, PGBENCH, PGMQ_CRATE};
use sqlx::postgres::PgPoolOptions;
use system::{Ours, Res, System, Upstream};
use workloads::Sizes;

struct Args {
    mode: &'static str,
    sizes: Sizes,
    url: Option<String>,
    out: String,
    only: Option<Vec<String>>,
    systems: Option<Vec<String>>,
    write_md: bool,
}

fn args() -> Res<Args> {
    let mut a = Args {
        mode: "full",
        sizes: Sizes::full(),
        url: None,
        out: "bench-results".into(),
        only: None,
        systems: None,
        write_md: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => (a.mode, a.sizes) = ("quick", Sizes::quick()),
            "--tiny" => (a.mode, a.sizes) = ("tiny", Sizes::tiny()),
            "--database-url" => a.url = Some(it.next().ok_or("--database-url needs a value")?),
            "--out" => a.out = it.next().ok_or("--out needs a value")?,
            "--only" => {
                let list = it.next().ok_or("--only needs a value")?;
                a.only = Some(list.split(',').map(|w| w.trim().to_uppercase()).collect());
            }
            "--systems" => {
                let list = it.next().ok_or("--systems needs a value")?;
                a.systems = Some(list.split(',').map(|w| w.trim().to_owned()).collect());
            }
            "--write-md" => a.write_md = true,
            other => return Err(format!("unknown argument {other:?}; see the crate docs").into()),
        }
    }
    Ok(a)
}

/// The sqlx pool settings for every sqlx pool in the run, ours and the pgmq crate's alike:
/// no ping before each use, so neither pays an extra round trip per operation.
pub(crate) fn pool_options(size: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn fresh_database(url: &str) -> Res<String> {
    let admin = PgPoolOptions::new().max_connections(1).connect(url).await?;
    sqlx::query("DROP DATABASE IF EXISTS pgmq_bench WITH (FORCE)")
        .execute(&admin)
        .await?;
    sqlx::query("CREATE DATABASE pgmq_bench")
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(with_database(url, "pgmq_bench"))
}

struct Bench {
    url: String,
    sizes: Sizes,
    results: Vec<Measurement>,
    admin: sqlx::PgPool,
    upstream: Arc<pgmq::PGMQueueExt>,
}

impl Bench {
    fn record(&mut self, workload: &str, system: &str, unit: Unit, value: f64, note: String) {
        println!(
            "  {workload:<10} {system:<22} {value:>12.1} {}",
            match unit {
                Unit::MsgsPerS => "msgs/s",
                Unit::LatencyUs => "µs",
            }
        );
        self.results
            .push(Measurement::new(workload, system, unit, value, note));
    }

    /// A fresh queue of ours (dropped first) on `queue`, as a [`System`].
    async fn ours(&self, queue: Arc<dyn Queue>, name: &str) -> Res<Arc<dyn System>> {
        let name = QueueName::new(name.replace('-', "_"))?;
        queue.drop_queue(&name).await?;
        queue.create(&name, CreateOptions::new()).await?;
        Ok(Arc::new(Ours { queue, name }))
    }

    /// A fresh queue of the pgmq crate's, on its one-connection pool, as a [`System`].
    async fn upstream(&self, name: &str) -> Res<Arc<dyn System>> {
        let pgmq = &self.upstream;
        let _ = pgmq.drop_queue(name).await;
        pgmq.create(name).await?;
        Ok(Arc::new(Upstream {
            pgmq: Arc::clone(pgmq),
            name: name.into(),
        }))
    }

    async fn analyze(&self, table: &str) -> Res<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE pgmq.\"{table}\"")))
            .execute(&self.admin)
            .await?;
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Res<()> {
    let args = args()?;
    let url = match &args.url {
        Some(u) => u.clone(),
        None => pgmq_conformance::harness::database_url()?,
    };
    let url = fresh_database(&url).await?;
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await?;
    let upstream = pgmq::PGMQueueExt::new_with_pool(pool_options(1).connect(&url).await?).await;
    upstream.install_sql_from_embedded().await?;
    let mut b = Bench {
        url: url.clone(),
        sizes: args.sizes,
        results: Vec::new(),
        admin,
        upstream: Arc::new(upstream),
    };
    let want = |w: &str| args.only.as_ref().is_none_or(|o| o.iter().any(|x| x == w));
    let system_on = |s: &str| {
        args.systems
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x == s))
    };
    let backends: Vec<&str> = backends::NAMES
        .into_iter()
        .filter(|b| system_on(b))
        .collect();
    let mut single = Vec::new();
    for backend in &backends {
        single.push((*backend, backends::connect(backend, &url, 1).await?));
    }
    let pgbench_bin = pgbench::find().filter(|_| system_on(PGBENCH));
    println!("pgmq-bench ({} run) on {url}", args.mode);

    let sz = b.sizes;
    type Run = fn(
        &dyn System,
        usize,
    )
        -> std::pin::Pin<Box<dyn std::future::Future<Output = Res<f64>> + Send + '_>>;
    let simple: [(
        &str,
        usize,
        Run,
        fn(&QueueName) -> Res<pgbench::Script>,
        usize,
    ); 4] = [
        (
            "W1",
            sz.w1_sends,
            |s, n| Box::pin(workloads::w1(s, n)),
            pgbench::w1,
            1,
        ),
        (
            "W2",
            sz.w2_reads,
            |s, n| Box::pin(workloads::w2(s, n)),
            pgbench::w2,
            1,
        ),
        (
            "W3",
            sz.w3_batches,
            |s, n| Box::pin(workloads::w3(s, n)),
            pgbench::w3,
            100,
        ),
        (
            "W4",
            sz.w4_batches,
            |s, n| Box::pin(workloads::w4(s, n)),
            pgbench::w4,
            100,
        ),
    ];
    for (w, n, run, script, per_tx) in simple {
        if !want(w) {
            continue;
        }
        println!("{w}");
        for (backend, queue) in &single {
            let s = b
                .ours(
                    Arc::clone(queue),
                    &format!("{}_{backend}", w.to_lowercase()),
                )
                .await?;
            let v = run(s.as_ref(), n).await?;
            b.record(
                w,
                &format!("pgmq-rs/{backend}"),
                Unit::MsgsPerS,
                v,
                String::new(),
            );
        }
        if system_on(PGMQ_CRATE) {
            let s = b.upstream(&format!("{}_crate", w.to_lowercase())).await?;
            let v = run(s.as_ref(), n).await?;
            b.record(w, PGMQ_CRATE, Unit::MsgsPerS, v, String::new());
        }
        if let (Some(bin), Some((_, q))) = (&pgbench_bin, single.first()) {
            let name = QueueName::new(format!("{}_pgbench", w.to_lowercase()))?;
            q.drop_queue(&name).await?;
            q.create(&name, CreateOptions::new()).await?;
            if w == "W2" || w == "W4" {
                let s = Ours {
                    queue: Arc::clone(q),
                    name: name.clone(),
                };
                workloads::fill(&s, (n + 1) * per_tx, 0).await?;
            }
            let tps = pgbench::run(bin, &b.url, &script(&name)?, n)?;
            b.record(
                w,
                PGBENCH,
                Unit::MsgsPerS,
                tps * per_tx as f64,
                "our statements, -M prepared".into(),
            );
        }
    }

    if want("W5") {
        println!("W5");
        for consumers in [4, 16, 64] {
            let w = format!("W5/c{consumers}");
            // One pool of 70 at a time: Postgres' default max_connections is 100.
            for backend in &backends {
                let queue = backends::connect(backend, &url, 70).await?;
                let s = b.ours(queue, &format!("w5_{backend}_{consumers}")).await?;
                let v = workloads::w5(s, consumers, sz.w5_messages).await?;
                b.record(
                    &w,
                    &format!("pgmq-rs/{backend}"),
                    Unit::MsgsPerS,
                    v,
                    "4 producers".into(),
                );
            }
            if system_on(PGMQ_CRATE) {
                let pool = pool_options(70).connect(&url).await?;
                let pgmq = Arc::new(pgmq::PGMQueueExt::new_with_pool(pool.clone()).await);
                let name = format!("w5_crate_{consumers}");
                pgmq.create(&name).await?;
                let s: Arc<dyn System> = Arc::new(Upstream { pgmq, name });
                let v = workloads::w5(s, consumers, sz.w5_messages).await?;
                b.record(&w, PGMQ_CRATE, Unit::MsgsPerS, v, "4 producers".into());
                pool.close().await;
            }
        }
    }

    if want("W6") {
        println!("W6");
        let in_flight = sz.w6_in_flight;
        let mut systems: Vec<(String, Arc<dyn System>, Arc<dyn System>, String)> = Vec::new();
        if let Some((backend, queue)) = single.first() {
            systems.push((
                format!("pgmq-rs/{backend}"),
                b.ours(Arc::clone(queue), "w6_ours_none").await?,
                b.ours(Arc::clone(queue), "w6_ours_busy").await?,
                "ours".into(),
            ));
        }
        if system_on(PGMQ_CRATE) {
            systems.push((
                PGMQ_CRATE.into(),
                b.upstream("w6_crate_none").await?,
                b.upstream("w6_crate_busy").await?,
                "crate".into(),
            ));
        }
        for (system, none, busy, tag) in systems {
            workloads::fill(none.as_ref(), sz.w6_reads + 10, 0).await?;
            workloads::fill(busy.as_ref(), in_flight, 3600).await?;
            workloads::fill(busy.as_ref(), sz.w6_reads + 10, 0).await?;
            b.analyze(&format!("q_w6_{tag}_none")).await?;
            b.analyze(&format!("q_w6_{tag}_busy")).await?;
            let idle = workloads::w6_latency(none.as_ref(), sz.w6_reads).await?;
            let loaded = workloads::w6_latency(busy.as_ref(), sz.w6_reads).await?;
            b.record(
                "W6/none",
                &system,
                Unit::LatencyUs,
                idle,
                "median read+delete".into(),
            );
            b.record(
                &format!("W6/{in_flight}"),
                &system,
                Unit::LatencyUs,
                loaded,
                format!(
                    "{in_flight} invisible ahead; {:.2}x the idle latency",
                    loaded / idle
                ),
            );
        }
    }

    report::add_ratios(&mut b.results);
    let table = report::table(&b.results);
    let verdicts = targets::check(&b.results);
    println!("\n{table}\n{verdicts}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        format!("{}/latest.json", args.out),
        serde_json::to_string_pretty(&b.results)?,
    )?;
    if args.write_md {
        let machine = targets::machine(&b.admin).await?;
        std::fs::write(
            "BENCHMARKS.md",
            targets::markdown(args.mode, &machine, &table, &verdicts),
        )?;
    }
    Ok(())
}
