//! The torture run: 8 producers (half through [`BatchingProducer`](pgmq_core::BatchingProducer))
//! and 16 workers over two backends (sqlx and tokio-postgres, one pool each), handlers that
//! randomly fail, panic or outlive their visibility timeout, backends terminated about twice
//! a second, stale receipts presented throughout, and the server crashed and restarted once
//! mid-run. Every claim is written down (the `ledger` module) and checked at the end: every message
//! acknowledged exactly once, none lost, no message read while an earlier claim on it was
//! still within its visibility time, every stale receipt refused.
//!
//! Run it with `cargo test -p pgmq-torture --release -- --nocapture` (`PGMQ_TORTURE=full`
//! for the full size); see [`Config`].

mod check;
#[cfg(test)]
mod check_tests;
mod faults;
mod ledger;
mod load;
mod report;
mod run;

pub use report::Report;
pub use run::run;

use std::time::Duration;

/// The run's size and where it runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Messages to send, spread over the 8 producers.
    pub messages: u64,
    /// The workers' visibility timeout.
    pub vt: Duration,
    /// How often a backend is terminated (on average).
    pub kill_every: Duration,
    /// Crash and restart the server once mid-run (only on a cluster the run started).
    pub restart: bool,
    /// A server to use instead of starting one (`PGMQ_TORTURE_URL`); it is not restarted.
    pub url: Option<String>,
    /// Give up (and fail) after this long.
    pub deadline: Duration,
    /// Seeds the faults and the handlers' choices; printed, so a run can be repeated.
    pub seed: u64,
}

impl Config {
    /// From the environment: `PGMQ_TORTURE=full` for 100,000 messages (else 20,000, the CI
    /// size), `PGMQ_TORTURE_MESSAGES` to choose, `PGMQ_TORTURE_URL` for a server of your
    /// own (not restarted), `PGMQ_TORTURE_SEED` to repeat a run, `PGMQ_TORTURE_RESTART=0`
    /// for a run without the crash (to compare its throughput over time).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let full = var("PGMQ_TORTURE").is_some_and(|v| v == "full");
        let messages = var("PGMQ_TORTURE_MESSAGES")
            .and_then(|v| v.parse().ok())
            .unwrap_or(if full { 100_000 } else { 20_000 });
        let seed = var("PGMQ_TORTURE_SEED")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        Self {
            messages,
            vt: Duration::from_secs(1),
            kill_every: Duration::from_millis(400),
            restart: var("PGMQ_TORTURE_RESTART").is_none_or(|v| v != "0"),
            url: var("PGMQ_TORTURE_URL"),
            deadline: Duration::from_secs(if full { 1200 } else { 300 }),
            seed,
        }
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A small deterministic generator (SplitMix64), so a seed repeats a run's choices.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
