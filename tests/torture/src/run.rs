//! [`run`]: set up the server, the load and the faults; wait for the queue to drain; check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pgmq_conformance::{harness, LocalCluster};
use pgmq_core::{CreateOptions, Queue, QueueName};
use pgmq_sqlx::SqlxQueue;
use pgmq_tokio_postgres::TokioPostgresQueue;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::faults::connect;
use crate::ledger::{lock, Ledger, Shared};
use crate::load::{self, Sent, INJECTED_PANIC};
use crate::report::{self, Report};
use crate::{check, faults, Config};

/// Runs the torture run described in the [crate docs](crate) and returns its report.
///
/// # Errors
/// When no server can be found or started, or the backends cannot connect or set up the
/// queue. What the run finds is in the [`Report`], not an error.
pub async fn run(config: Config) -> Result<Report, String> {
    let (cluster, url) = server(&config)?;
    let restart = config.restart && cluster.is_some();
    let fail = |e: pgmq_core::Error| e.to_string();
    let sqlx: Arc<dyn Queue> = Arc::new(SqlxQueue::connect(&url).await.map_err(fail)?);
    let tokio_pg: Arc<dyn Queue> = Arc::new(TokioPostgresQueue::connect(&url).await.map_err(fail)?);
    sqlx.install().await.map_err(fail)?;
    let name = QueueName::new(format!("torture_{}", config.seed % 1_000_000)).map_err(fail)?;
    sqlx.drop_queue(&name).await.map_err(fail)?;
    sqlx.create(&name, CreateOptions::default())
        .await
        .map_err(fail)?;
    silence_injected_panics();

    let book = Shared::default();
    let ledgers: [Arc<dyn Queue>; 2] = [
        Ledger::new(Arc::clone(&sqlx), Arc::clone(&book)),
        Ledger::new(Arc::clone(&tokio_pg), Arc::clone(&book)),
    ];
    let (stop, stopped) = watch::channel(false);
    let (pause, paused) = watch::channel(false);
    let began = Instant::now();

    let sent = Arc::new(Sent::default());
    let mut producers = JoinSet::new();
    for p in 0..8u32 {
        let queue = Arc::clone(&ledgers[(p % 2) as usize]);
        let count = config.messages / 8 + u64::from(p == 0) * (config.messages % 8);
        let (name, sent) = (name.clone(), Arc::clone(&sent));
        if p < 4 {
            producers.spawn(async move { load::direct(queue, name, p, count, sent).await });
        } else {
            producers.spawn(async move {
                let _ = load::batching(queue, name, p, count, 16, sent).await;
            });
        }
    }
    // The workers start once 80% of the messages are queued, so they run on a backlog and
    // their throughput around the crash is theirs, not the producers'.
    while sent
        .ids
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .len() as u64
        * 5
        < config.messages * 4
        && !producers.is_empty()
        && began.elapsed() < config.deadline
    {
        while producers.try_join_next().is_some() {}
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let working = Instant::now();
    let mut workers = JoinSet::new();
    for i in 0..16u64 {
        let queue = Arc::clone(&ledgers[(i % 2) as usize]);
        let seed = config.seed ^ crate::mix(i);
        workers.spawn(load::work(
            queue,
            name.clone(),
            config.vt,
            seed,
            stopped.clone(),
        ));
    }
    let killer = tokio::spawn(faults::kill_backends(
        url.clone(),
        config.kill_every,
        config.seed ^ 0x6b69_6c6c,
        paused,
        stopped.clone(),
    ));
    let saboteur = tokio::spawn(faults::forge_receipts(
        Arc::clone(&sqlx),
        name.clone(),
        Arc::clone(&book),
        Duration::from_millis(5),
        config.seed ^ 0x666f_7267,
        stopped,
    ));

    let mut report = Report {
        seed: config.seed,
        ..Report::default()
    };
    let mut crash = None;
    let mut produced = None;
    let mut admin = None;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if began.elapsed() > config.deadline {
            report.timed_out = true;
            break;
        }
        while producers.try_join_next().is_some() {}
        let producing = !producers.is_empty();
        if !producing && produced.is_none() {
            produced = Some(began.elapsed());
            if std::env::var_os("PGMQ_TORTURE_TRACE").is_some() {
                eprintln!("producers done {:.1} s in", began.elapsed().as_secs_f64());
            }
        }
        let acked = lock(&book).acts.len() as u64;
        if let (true, None, Some(c)) = (restart, crash, &cluster) {
            if acked >= config.messages / 5 {
                let _ = pause.send(true);
                let at = Instant::now();
                let c = Arc::clone(c);
                let down = tokio::task::spawn_blocking(move || c.crash_restart())
                    .await
                    .map_err(|e| e.to_string())??;
                crash = Some((at, Instant::now()));
                if std::env::var_os("PGMQ_TORTURE_TRACE").is_some() {
                    eprintln!("crash {:.1} s in", at.duration_since(began).as_secs_f64());
                }
                report.down = Some(down);
                report.restarts += 1;
                let _ = pause.send(false);
                admin = None;
            }
        }
        if producing || (restart && crash.is_none()) {
            continue;
        }
        if admin.is_none() {
            admin = connect(&url).await;
        }
        let Some(client) = &admin else { continue };
        match client
            .query_one(&format!("SELECT count(*) FROM pgmq.q_{name}"), &[])
            .await
        {
            Ok(row) if row.get::<_, i64>(0) == 0 => break,
            Ok(_) => {}
            Err(_) => admin = None,
        }
    }
    let _ = stop.send(true);
    while let Some(done) = workers.join_next().await {
        let s = match done {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                report.worker_errors.push(e.to_string());
                continue;
            }
            Err(e) => {
                report.worker_errors.push(e.to_string());
                continue;
            }
        };
        {
            let add = [
                s.processed,
                s.failed,
                s.lost_claims,
                s.stale_acks,
                s.ack_errors,
                s.aborted,
            ];
            for (total, n) in report.workers.iter_mut().zip(add) {
                *total += n;
            }
        }
    }
    producers.abort_all();
    let kills = killer.await.unwrap_or_default();
    let forged = saboteur.await.unwrap_or_default();
    report.elapsed = began.elapsed();

    let client = connect(&url)
        .await
        .ok_or("cannot connect for the end checks")?;
    let stored = check::stored(&client, &name)
        .await
        .map_err(|e| e.to_string())?;
    {
        let book = lock(&book);
        let ids = sent
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let verdict = check::check(&book, &ids, &stored);
        if let Some((at, back)) = crash {
            (report.rate_before, report.recovery) = report::recovery(&book.ack_times, at, back);
        } else if std::env::var_os("PGMQ_TORTURE_TRACE").is_some() {
            // No crash: the same timeline, from 2 s after the workers started, to compare.
            let at = working + Duration::from_secs(2);
            let _ = report::recovery(&book.ack_times, at, at);
        }
        report.sent = verdict.sent;
        report.acked = verdict.acked;
        report.lost = verdict.lost;
        report.double = verdict.double;
        report.overlaps = verdict.overlaps;
        report.unanswered_stored = verdict.unanswered_stored;
        report.examples = verdict.examples;
        report.stale_refused = book.stale_refused + forged.refused;
        report.stale_accepted = forged.accepted;
        report.kills = kills.backends;
        report.listener_kills = kills.listeners;
        report.ambiguous_sends = sent.ambiguous.load(std::sync::atomic::Ordering::Relaxed);
        report.errors = book.errors.iter().map(|(k, v)| (*k, *v)).collect();
        if book.unanswered > 0 {
            report
                .errors
                .insert("set_vt_receipts never answered", book.unanswered);
        }
    }
    if report.is_clean() {
        let _ = sqlx.drop_queue(&name).await;
    }
    Ok(report)
}

/// A cluster of our own (restartable) unless a URL was given; the harness' server if local
/// binaries are missing.
fn server(config: &Config) -> Result<(Option<Arc<LocalCluster>>, String), String> {
    if let Some(url) = &config.url {
        return Ok((None, url.clone()));
    }
    match LocalCluster::start(&[("max_connections", "200")]) {
        Ok(cluster) => {
            let url = cluster.url().to_owned();
            Ok((Some(Arc::new(cluster)), url))
        }
        Err(why) => {
            eprintln!(
                "torture: no cluster of our own ({why}); using the test server, without a restart"
            );
            harness::database_url()
                .map(|url| (None, url))
                .map_err(|e| e.to_string())
        }
    }
}

/// The handlers' injected panics are expected; keep them out of the output.
fn silence_injected_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&INJECTED_PANIC) {
            previous(info);
        }
    }));
}
