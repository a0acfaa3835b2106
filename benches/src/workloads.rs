//! W1–W6 (and W2's variants), written once over [`System`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::system::{Payload, Res, System};

/// How much each workload does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    pub(crate) w1_sends: usize,
    pub(crate) w2_reads: usize,
    pub(crate) w3_batches: usize,
    pub(crate) w4_batches: usize,
    pub(crate) w5_messages: usize,
    pub(crate) w6_in_flight: usize,
    pub(crate) w6_reads: usize,
    /// W7: messages sent to one waiting consumer, 50 ms apart.
    pub(crate) w7_messages: usize,
    /// W7: how long 16 consumers wait on an empty queue while the database's transactions
    /// are counted.
    pub(crate) w7_idle: Duration,
    /// W7: how long the waiting consumers settle before the count starts (what they ran to
    /// get parked reaches the statistics up to 10 s late).
    pub(crate) w7_settle: Duration,
    /// W8: messages through the batching producer and the worker.
    pub(crate) w8_messages: usize,
    /// W9: messages sent by 64 tasks.
    pub(crate) w9_messages: usize,
    /// W10: how long the soak runs, and the messages per second it offers (about 70% of
    /// what W8 measured the worker at with 16 handlers).
    pub(crate) w10_secs: u64,
    pub(crate) w10_rate: f64,
}

impl Sizes {
    pub(crate) fn quick() -> Self {
        Self {
            w1_sends: 2_000,
            w2_reads: 2_000,
            w3_batches: 100,
            w4_batches: 60,
            w5_messages: 3_000,
            w6_in_flight: 100_000,
            w6_reads: 500,
            w7_messages: 50,
            w7_idle: Duration::from_secs(10),
            w7_settle: Duration::from_secs(11),
            w8_messages: 5_000,
            w9_messages: 5_000,
            w10_secs: 120,
            w10_rate: 3_500.0,
        }
    }

    pub(crate) fn full() -> Self {
        Self {
            w1_sends: 20_000,
            w2_reads: 20_000,
            w3_batches: 1_000,
            w4_batches: 500,
            w5_messages: 30_000,
            w6_in_flight: 100_000,
            w6_reads: 5_000,
            w7_messages: 200,
            w7_idle: Duration::from_secs(60),
            w7_settle: Duration::from_secs(11),
            w8_messages: 20_000,
            w9_messages: 20_000,
            w10_secs: 600,
            w10_rate: 3_500.0,
        }
    }

    pub(crate) fn tiny() -> Self {
        Self {
            w1_sends: 50,
            w2_reads: 50,
            w3_batches: 5,
            w4_batches: 5,
            w5_messages: 100,
            w6_in_flight: 1_000,
            w6_reads: 20,
            w7_messages: 5,
            w7_idle: Duration::from_secs(2),
            w7_settle: Duration::from_secs(1),
            w8_messages: 300,
            w9_messages: 300,
            w10_secs: 20,
            w10_rate: 500.0,
        }
    }
}

fn payloads(start: usize, n: usize) -> Vec<Payload> {
    (start..start + n).map(|i| Payload::new(i as u64)).collect()
}

pub(crate) async fn fill(s: &dyn System, n: usize, delay_secs: u64) -> Res<()> {
    let mut sent = 0;
    while sent < n {
        let k = (n - sent).min(1000);
        s.send_batch(&payloads(sent, k), delay_secs).await?;
        sent += k;
    }
    Ok(())
}

pub(crate) fn rate(n: usize, since: Instant) -> f64 {
    n as f64 / since.elapsed().as_secs_f64()
}

/// W1: single sends on one connection; messages/s.
pub(crate) async fn w1(s: &dyn System, n: usize) -> Res<f64> {
    for i in 0..20 {
        s.send(&Payload::new(i)).await?;
    }
    let msgs = payloads(0, n);
    let start = Instant::now();
    for m in &msgs {
        s.send(m).await?;
    }
    Ok(rate(n, start))
}

/// W2: read one, delete it; messages/s.
pub(crate) async fn w2(s: &dyn System, n: usize) -> Res<f64> {
    fill(s, n + 20, 0).await?;
    for _ in 0..20 {
        let ids = s.read(1).await?;
        s.delete(ids[0]).await?;
    }
    let start = Instant::now();
    for _ in 0..n {
        let ids = s.read(1).await?;
        let id = *ids.first().ok_or("queue ran dry")?;
        s.delete(id).await?;
    }
    Ok(rate(n, start))
}

/// W2-receipt: read one, delete it with the read's receipt (fenced); messages/s. Every
/// delete must act: a stale answer fails the run.
pub(crate) async fn w2_receipt(s: &dyn System, n: usize) -> Res<f64> {
    fill(s, n + 20, 0).await?;
    for _ in 0..20 {
        let receipts = s.read_receipts(1).await?;
        s.delete_receipt(receipts[0]).await?;
    }
    let start = Instant::now();
    for _ in 0..n {
        let receipts = s.read_receipts(1).await?;
        let receipt = *receipts.first().ok_or("queue ran dry")?;
        s.delete_receipt(receipt).await?;
    }
    Ok(rate(n, start))
}

/// W3: batches of 100; messages/s.
pub(crate) async fn w3(s: &dyn System, batches: usize) -> Res<f64> {
    let batch = payloads(0, 100);
    s.send_batch(&batch, 0).await?;
    let start = Instant::now();
    for _ in 0..batches {
        s.send_batch(&batch, 0).await?;
    }
    Ok(rate(batches * 100, start))
}

/// W4: read 100, archive them; messages/s.
pub(crate) async fn w4(s: &dyn System, batches: usize) -> Res<f64> {
    fill(s, (batches + 1) * 100, 0).await?;
    let warm = s.read(100).await?;
    s.archive_batch(&warm).await?;
    let start = Instant::now();
    let mut done = 0;
    for _ in 0..batches {
        let ids = s.read(100).await?;
        done += ids.len();
        s.archive_batch(&ids).await?;
    }
    Ok(rate(done, start))
}

/// A W5 consumer that finds the queue empty sleeps this long, doubling up to [`IDLE_MAX`].
pub(crate) const IDLE_MIN: Duration = Duration::from_millis(5);
pub(crate) const IDLE_MAX: Duration = Duration::from_millis(64);

/// W5: 4 producers and `consumers` consumers, single messages; end-to-end messages/s.
pub(crate) async fn w5(s: Arc<dyn System>, consumers: usize, total: usize) -> Res<f64> {
    const PRODUCERS: usize = 4;
    // Open every connection the run will use (and prepare the read on it) before the clock
    // starts: pools connect lazily, and 68 connection set-ups would otherwise be timed.
    let warm = (0..PRODUCERS + consumers).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.read(1).await.map(drop) })
    });
    for t in warm.collect::<Vec<_>>() {
        t.await??;
    }
    let consumed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for i in (p..total).step_by(PRODUCERS) {
                s.send(&Payload::new(i as u64)).await?;
            }
            Res::Ok(())
        }));
    }
    for _ in 0..consumers {
        let (s, consumed) = (Arc::clone(&s), Arc::clone(&consumed));
        tasks.push(tokio::spawn(async move {
            let mut idle = IDLE_MIN;
            while consumed.load(Ordering::Relaxed) < total {
                match s.read(1).await?.first() {
                    Some(id) => {
                        s.delete(*id).await?;
                        consumed.fetch_add(1, Ordering::Relaxed);
                        idle = IDLE_MIN;
                    }
                    // An idle worker backs off, as a real one does: the same for every system.
                    None => {
                        tokio::time::sleep(idle).await;
                        idle = (idle * 2).min(IDLE_MAX);
                    }
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

/// W5-drain: `total` messages already queued, no producers, `consumers` consumers reading
/// and deleting until the queue is empty; messages/s. No consumer ever polls an empty queue
/// while work remains, so this isolates contention on the claim itself.
pub(crate) async fn w5_drain(s: Arc<dyn System>, consumers: usize, total: usize) -> Res<f64> {
    fill(s.as_ref(), total, 0).await?;
    let warm = (0..consumers).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.touch().await })
    });
    for t in warm.collect::<Vec<_>>() {
        t.await??;
    }
    let consumed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..consumers)
        .map(|_| {
            let (s, consumed) = (Arc::clone(&s), Arc::clone(&consumed));
            tokio::spawn(async move {
                // SKIP LOCKED may answer empty while others hold the last rows: then we're done.
                while let Some(id) = s.read(1).await?.first().copied() {
                    s.delete(id).await?;
                    consumed.fetch_add(1, Ordering::Relaxed);
                }
                Res::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(rate(consumed.load(Ordering::Relaxed), start))
}

/// W6: median µs of one read + delete, on a queue prepared by the caller.
pub(crate) async fn w6_latency(s: &dyn System, reads: usize) -> Res<f64> {
    let mut samples = Vec::with_capacity(reads);
    for _ in 0..reads {
        let start = Instant::now();
        let ids = s.read(1).await?;
        let id = *ids.first().ok_or("queue ran dry")?;
        s.delete(id).await?;
        samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}
