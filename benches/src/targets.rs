//! The speed targets, checked as ratios within one run, and the BENCHMARKS.md page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::{Measurement, PGMQ_CRATE};
use crate::system::Res;

fn ours(m: &Measurement) -> bool {
    m.system.starts_with("pgmq-rs/")
}

fn line(out: &mut String, ok: bool, text: String) {
    let _ = writeln!(out, "- [{}] {text}", if ok { "met" } else { "MISSED" });
}

/// A variant of W2 against W2 on the same system (`base` says what W2 lacks): within 15%
/// for ours; pgbench's ratio (the same statements, no client) is for information.
fn against_w2(out: &mut String, results: &[Measurement], m: &Measurement, base: &str) {
    let w2 = results
        .iter()
        .find(|b| b.workload == "W2" && b.system == m.system)
        .and_then(|b| b.msgs_per_s);
    if let (Some(v), Some(w2)) = (m.msgs_per_s, w2) {
        let r = v / w2;
        let text = format!("{} {}: {r:.2}x {base}", m.workload, m.system);
        if ours(m) {
            line(out, r >= 0.85, format!("{text} (≥ 0.85x)"));
        } else {
            let _ = writeln!(out, "- [info] {text}");
        }
    }
}

/// W9: the batching producer against direct sends on the same system, ≥ 5x.
fn w9(out: &mut String, results: &[Measurement], m: &Measurement) {
    let direct = results
        .iter()
        .find(|d| d.workload == "W9/direct" && d.system == m.system)
        .and_then(|d| d.msgs_per_s);
    if let (Some(v), Some(direct)) = (m.msgs_per_s, direct) {
        let r = v / direct;
        let text = format!(
            "W9 {}: the batching producer sends {r:.2}x as fast as direct sends (≥ 5x)",
            m.system
        );
        line(out, r >= 5.0, text);
    }
}

/// W7's wake latency of one system, median and p99 in ms (for information).
fn w7_latency(out: &mut String, results: &[Measurement], m: &Measurement) {
    let p99 = results
        .iter()
        .find(|p| p.workload == "W7/p99" && p.system == m.system)
        .and_then(|p| p.latency_us);
    if let (Some(median), Some(p99)) = (m.latency_us, p99) {
        let crate_ratio = m
            .vs_pgmq_crate
            .map(|c| format!("; {c:.1}x sooner than the pgmq crate's read_with_poll"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "- [info] W7 {}: a waiting consumer gets a message {:.2} ms (median), {:.2} ms \
             (p99) after its send returned{crate_ratio}",
            m.system,
            median / 1e3,
            p99 / 1e3
        );
    }
}

/// One line per target: met or missed, with the figures.
pub(crate) fn check(results: &[Measurement]) -> String {
    let mut out = String::from("Targets (ratios measured in this run):\n");
    for m in results {
        let vs = |r: Option<f64>| r.unwrap_or(f64::NAN);
        match m.workload.as_str() {
            "W2-receipt" => against_w2(&mut out, results, m, "W2's delete by id"),
            "W2-dlq" => against_w2(&mut out, results, m, "W2 without a dead-letter queue"),
            _ if !ours(m) => {}
            "W1" => {
                let (c, p) = (vs(m.vs_pgmq_crate), vs(m.vs_pgbench));
                line(
                    &mut out,
                    c >= 2.5,
                    format!("W1 {}: {c:.2}x the pgmq crate (≥ 2.5x)", m.system),
                );
                line(
                    &mut out,
                    p >= 0.85,
                    format!("W1 {}: {p:.2}x pgbench (≥ 0.85x)", m.system),
                );
            }
            "W2" => {
                let c = vs(m.vs_pgmq_crate);
                line(
                    &mut out,
                    c >= 2.5,
                    format!("W2 {}: {c:.2}x the pgmq crate (≥ 2.5x)", m.system),
                );
            }
            "W7/idle" => {
                let q = m.queries_per_min.unwrap_or(f64::NAN);
                let same_window = |workload: &str| {
                    results
                        .iter()
                        .find(|s| s.workload == workload && s.system == m.system)
                        .and_then(|s| s.queries_per_min)
                        .unwrap_or(f64::NAN)
                };
                let (control, scans) =
                    (same_window("W7/idle-control"), same_window("W7/idle-scans"));
                let text = format!(
                    "W7 {}: {q:.1} transactions/min in the database of 16 waiting consumers, \
                     {control:.1} in a control database (no more than the control's); \
                     {scans:.1} scans/min of the queue's table (0)",
                    m.system
                );
                // What the server runs on its own in any database (autovacuum's visits) is
                // not the consumers': only more than the control database's counts.
                line(&mut out, q <= control && scans == 0.0, text);
            }
            "W8/c16" => {
                let c = vs(m.vs_pgmq_crate);
                let text = format!("W8 {}: {c:.2}x the pgmq crate at 16 (≥ 3x)", m.system);
                line(&mut out, c >= 3.0, text);
            }
            "W9/producer" => w9(&mut out, results, m),
            "W3" | "W4" => {
                let c = vs(m.vs_pgmq_crate);
                line(
                    &mut out,
                    c >= 1.5,
                    format!(
                        "{} {}: {c:.2}x the pgmq crate (≥ 1.5x)",
                        m.workload, m.system
                    ),
                );
            }
            _ => {}
        }
    }
    for m in results.iter().filter(|m| m.workload == "W7/median") {
        w7_latency(&mut out, results, m);
    }
    let scaling = [
        ("W5/", "W5", "64 consumers reach"),
        ("W5-drain/", "W5-drain", "64 consumers reach"),
        ("W5-wait/", "W5-wait", "64 consumers reach"),
        ("W8/", "W8", "64 handlers reach"),
    ];
    for (prefix, label, at64_reach) in scaling {
        let mut runs: BTreeMap<&str, Vec<(&str, f64)>> = BTreeMap::new();
        for m in results.iter().filter(|m| m.workload.starts_with(prefix)) {
            let v = m.msgs_per_s.unwrap_or(0.0);
            runs.entry(&m.system)
                .or_default()
                .push((&m.workload[prefix.len()..], v));
        }
        for (system, runs) in &runs {
            let best = runs.iter().map(|r| r.1).fold(0.0, f64::max);
            if let Some((_, at64)) = runs.iter().find(|r| r.0 == "c64") {
                let share = at64 / best;
                let text = format!(
                    "{label} {system}: {at64_reach} {:.0}% of the best count",
                    share * 100.0
                );
                if *system == PGMQ_CRATE {
                    let _ = writeln!(out, "- [info] {text}");
                } else {
                    line(&mut out, share >= 0.9, format!("{text} (≥ 90%)"));
                }
            }
        }
    }
    for m in results
        .iter()
        .filter(|m| m.workload.starts_with("W6/") && m.workload != "W6/none")
    {
        let idle = results
            .iter()
            .find(|i| i.workload == "W6/none" && i.system == m.system)
            .and_then(|i| i.latency_us);
        if let (Some(idle), Some(busy)) = (idle, m.latency_us) {
            let r = busy / idle;
            let text = format!(
                "W6 {}: latency with work in flight is {r:.2}x the idle latency",
                m.system
            );
            if ours(m) {
                line(&mut out, r <= 1.5, format!("{text} (≤ 1.5x)"));
            } else {
                let _ = writeln!(out, "- [info] {text}");
            }
        }
    }
    for w in ["W1", "W2", "W3", "W4"] {
        let figures: Vec<f64> = results
            .iter()
            .filter(|m| m.workload == w && ours(m))
            .filter_map(|m| m.msgs_per_s)
            .collect();
        if figures.len() > 1 {
            let (lo, hi) = figures
                .iter()
                .fold((f64::MAX, 0.0f64), |(l, h), v| (l.min(*v), h.max(*v)));
            let spread = hi / lo - 1.0;
            line(
                &mut out,
                spread <= 0.15,
                format!(
                    "{w}: backends within {:.0}% of each other (≤ 15%)",
                    spread * 100.0
                ),
            );
        }
    }
    out
}

/// CPU, memory and Postgres version, for the page.
pub(crate) async fn machine(pool: &sqlx::PgPool) -> Res<String> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let (pg,): (String,) = sqlx::query_as("SELECT version()").fetch_one(pool).await?;
    Ok(format!(
        "{cores} cores ({cpu}), {:.0} GiB RAM; {pg}; client and server on the same machine",
        mem_kb as f64 / 1_048_576.0
    ))
}

/// The whole BENCHMARKS.md.
/// The line after which BENCHMARKS.md is written by hand (the soak, earlier runs): a
/// rewrite keeps everything from it on.
pub(crate) const HAND_WRITTEN: &str =
    "<!-- Written by hand from here on: `--write-md` keeps it. -->";

pub(crate) fn markdown(mode: &str, machine: &str, table: &str, verdicts: &str) -> String {
    format!(
        "# Benchmarks\n\n\
         Generated by `pgmq-bench` ({mode} run). Every figure comes from one process, one sitting,\n\
         one database: pgmq-rs on each backend, the upstream `pgmq` crate (0.34.0-alpha.7, its SQL\n\
         installed with `install-sql-embedded`), and `pgbench -M prepared` running pgmq-rs's own\n\
         statements. Messages are ~120 bytes of JSON. Compare ratios, not absolute numbers: the\n\
         machine is shared and noisy.\n\n\
         **Machine:** {machine}\n\n\
         ## Reproduce\n\n\
         ```sh\n\
         cargo run -p pgmq-bench --release -- --quick            # a few minutes\n\
         cargo run -p pgmq-bench --release -- --write-md         # full run, rewrites this page\n\
         ```\n\n\
         Without `--database-url` the harness starts a throwaway cluster of its own (local Postgres\n\
         binaries) configured as users run Postgres: `fsync`, `synchronous_commit` and\n\
         `full_page_writes` on, autovacuum on at its stock thresholds, `shared_buffers` 256MB,\n\
         `max_connections` 300; everything else the server's default. It never takes\n\
         `DATABASE_URL` (a test server, often tuned for CI). The run prints the settings it ran\n\
         with and saves them next to the results. It (re)creates a database named `pgmq_bench`.\n\
         Results also go to `bench-results/latest.json`.\n\n\
         Workloads: W1 send one at a time on one connection; W2 read one + delete it; W2-receipt\n\
         the same, deleting with the read's receipt (fenced; not in the pgmq crate); W2-dlq W2 on\n\
         a queue with a dead-letter queue (max 5 receives, so none moves; not in the pgmq crate);\n\
         W3 send batches of 100; W4 read 100 + archive them; W5 4 producers with 4, 16 and 64 consumers\n\
         (single messages, end to end, on a pool of 70 opened before the clock starts; a consumer\n\
         that finds the queue empty sleeps 5 ms, doubling up to 64 ms); W5-drain the same\n\
         consumer counts emptying a full queue with no producers (contention on the claim alone);\n\
         W6 median read+delete latency with 100,000 invisible messages ahead vs none; W5-wait W5\n\
         with consumers that read with a wait (1 s, polling every 250 ms) instead of sleeping,\n\
         after an untimed round of six messages per connection (ours only); W7 how soon one\n\
         waiting consumer (wait and polling interval 30 s, so only a notification wakes it)\n\
         gets each of 200 messages sent 50 ms apart, after its send returned\n\
         (the pgmq crate: `read_with_poll`, polling every 250 ms inside the server), and W7/idle\n\
         the transactions per minute (from `pg_stat_database`, less the harness's own) of a\n\
         database that only 16 consumers waiting on an empty queue use, for 60 s (reads with a\n\
         wait longer than that, polling every 30 s), beside W7/idle-control, the same count in an\n\
         empty database nobody uses (autovacuum's visits); W8 4 producers through one\n\
         `BatchingProducer` and a `Worker` with 4, 16 and 64 handlers (1 ms each, archiving),\n\
         from the first send until the queue is empty, against the pgmq crate's usual loop (as many consumers, each reading 10, then\n\
         handling and archiving each; 4 producers sending directly); W9 64 tasks sending single\n\
         messages through one `BatchingProducer` vs each calling `send` (pool of 70, each\n\
         statement prepared on every connection first); W10 the soak, below the generated part\n\
         (a worker under a fixed load for 10 minutes).\n\n\
         Method: every system runs the same loops (`benches/src/workloads.rs`) on tokio's\n\
         current-thread runtime (with the server on the same two cores, the multi-thread\n\
         runtime's cross-thread wake-ups cost more than the client work measured). Every sqlx pool,\n\
         ours and the pgmq crate's, skips the ping before each use; diesel-async's pool recycles\n\
         without a check query, as deadpool-postgres does by default. sqlx still pings each\n\
         connection when it returns to the pool, which on one connection is an extra round trip\n\
         per operation: the main reason `pgmq-rs/sqlx` trails the other two backends.\n\n\
         ## Results\n\n{table}\n{verdicts}"
    )
}
