//! pgmq-bench: pgmq-rs on each backend, side by side with the pgmq crate and pgbench, in one
//! process, one sitting, one database.
//!
//! ```text
//! cargo run -p pgmq-bench --release -- --quick            # a few minutes
//! cargo run -p pgmq-bench --release                       # the full run
//! cargo run -p pgmq-bench --release -- --write-md         # also rewrite BENCHMARKS.md
//! ```
//!
//! Options: `--quick`, `--tiny` (a smoke test for CI), `--database-url URL` (default: a
//! throwaway cluster of its own with production-like settings, see [`server::SETTINGS`];
//! without local Postgres binaries, the test harness' server), `--out DIR` (default
//! `bench-results`),
//! `--only W1,W2,W2-receipt,W2-dlq,...` (any case; `W5` runs W5-drain too),
//! `--systems sqlx,tokio-postgres,diesel,pgmq-crate,pgbench`, `--quiet` (W1–W6 on queues
//! without insert notifications), `--queues plain|unlogged|partitioned` (W1–W6's table
//! layout; partitioned needs pg_partman on the server), `--producer-window-us N` and
//! `--producer-batches N` (W8's and W9's `BatchingProducer`: window and batches in flight),
//! `--read-ahead N` (W8's worker). The harness creates (and drops first) a database
//! `pgmq_bench`.
//!
//! Workloads: W1 single sends; W2 read one + delete (W2-receipt fenced by receipt, W2-dlq
//! with a dead-letter policy); W3 batches of 100; W4 read 100 + archive; W5 4 producers with
//! 4/16/64 consumers that back off when the queue is empty (W5-drain: the same consumers on a
//! full queue, no producers); W6 read+delete latency with many messages in flight; W5-wait W5
//! with consumers that read with a wait (1 s, polling every 250 ms) instead (ours only); W7 the
//! wake latency of one waiting consumer (median, p99; the pgmq crate with `read_with_poll`) and
//! the database's transactions per minute while 16 consumers wait on an empty queue (ours
//! only); W8 the `Worker` (4/16/64 handlers of 1 ms, archiving) fed by 4 producers (16 sends in
//! flight each) through
//! one `BatchingProducer`, against the pgmq crate's read/handle/archive loop; W9 64 tasks
//! sending single messages through one `BatchingProducer` against each calling `send`; W10
//! the soak (see [`soak`]): `--soak-secs` (full 600, quick 120, tiny 20) at `--soak-rate`
//! messages/s offered (3500; tiny 500) on pgmq-rs (sqlx) with the default storage
//! parameters and worker vacuum, and the pgmq crate under the same load; `W10-pin` the same
//! with a transaction held open for a fifth of the run (at most 120 s) from 40% in; run
//! only when named: `W10-stock` (server defaults, no worker vacuum), `W10-params` (the
//! storage parameters only), `W10-vacuum` (the worker vacuum only), `W10-partitioned` (pg_partman partitions by
//! message id, old ones dropped by maintenance every 10 s; no tuning); `NOTIFY` what insert
//! notifications cost senders (see [`notify`]: W1, W3, P4 and P64-producer, each with and
//! without, and W1 and P4 in pgbench).
//!
//! Everything runs on tokio's current-thread runtime: with the server on the same two cores,
//! the multi-thread runtime's cross-thread wake-ups cost more than the client work measured,
//! for every system alike.

#![allow(clippy::print_stdout)]

mod backends;
mod batching;
mod notify;
mod pgbench;
mod report;
mod runs;
mod server;
mod setup;
mod soak;
mod system;
mod targets;
mod waiting;
mod workloads;

use std::sync::Arc;

use report::{PGBENCH, PGMQ_CRATE};
use runs::{Bench, Simple};
use setup::{fresh_database, pool_options, Args};
use sqlx::postgres::PgPoolOptions;
use system::Res;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Res<()> {
    let args = Args::parse()?;
    let (_cluster, url) = server::choose(args.url.as_deref())?;
    let url = fresh_database(&url, "pgmq_bench").await?;
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await?;
    let settings = server::settings(&admin).await?;
    if args.layout == setup::Layout::Partitioned {
        sqlx::query("CREATE SCHEMA IF NOT EXISTS partman")
            .execute(&admin)
            .await?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman")
            .execute(&admin)
            .await?;
    }
    let upstream = pgmq::PGMQueueExt::new_with_pool(pool_options(1).connect(&url).await?).await;
    upstream.install_sql_from_embedded().await?;
    let backends: Vec<&str> = backends::NAMES
        .into_iter()
        .filter(|b| args.system(b))
        .collect();
    let mut single = Vec::new();
    for backend in &backends {
        single.push((*backend, backends::connect(backend, &url, 1).await?));
    }
    let mut b = Bench {
        url: url.clone(),
        sizes: args.sizes,
        quiet: args.quiet,
        layout: args.layout,
        tuning: args.tuning.clone(),
        results: Vec::new(),
        admin,
        upstream: Arc::new(upstream),
        single,
        crate_on: args.system(PGMQ_CRATE),
        pgbench: pgbench::find().filter(|_| args.system(PGBENCH)),
        verdicts: Vec::new(),
    };
    println!(
        "pgmq-bench ({} run) on {url}\nserver: {settings}",
        args.mode
    );

    for w in Simple::all(&b.sizes) {
        if args.workload(w.name) {
            b.simple(&w).await?;
        }
    }
    if args.workload("W5") {
        b.w5(&backends).await?;
    }
    if args.workload("W6") {
        b.w6().await?;
    }
    if args.workload("W5-wait") {
        b.w5_wait(&backends).await?;
    }
    if args.workload("W7") {
        b.w7(&backends).await?;
    }
    if args.workload("W8") {
        b.w8(&backends).await?;
    }
    if args.workload("W9") {
        b.w9(&backends).await?;
    }
    if args.workload("NOTIFY") {
        b.notify_cost(&backends).await?;
    }
    b.soaks(&args).await?;

    report::add_ratios(&mut b.results);
    let table = report::table(&b.results);
    let mut verdicts = targets::check(&b.results);
    for v in &b.verdicts {
        verdicts.push_str(v);
        verdicts.push('\n');
    }
    println!("\n{table}\n{verdicts}");
    std::fs::create_dir_all(&args.out)?;
    let json = serde_json::to_string_pretty(&b.results)?;
    std::fs::write(format!("{}/latest.json", args.out), json)?;
    std::fs::write(
        format!("{}/settings.txt", args.out),
        format!("{settings}\n"),
    )?;
    if args.write_md {
        let machine = format!("{}; {settings}", targets::machine(&b.admin).await?);
        let mut page = targets::markdown(args.mode, &machine, &table, &verdicts);
        let kept = std::fs::read_to_string("BENCHMARKS.md").unwrap_or_default();
        if let Some(at) = kept.find(targets::HAND_WRITTEN) {
            page.push('\n');
            page.push_str(&kept[at..]);
        }
        std::fs::write("BENCHMARKS.md", page)?;
    }
    Ok(())
}
