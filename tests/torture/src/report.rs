//! [`Report`]: what a torture run did and what the end checks found.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

/// What a torture run did and found. [`is_clean`](Self::is_clean) is the verdict.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// Sends answered with an id.
    pub sent: u64,
    /// Of those, acknowledged (found in the archive).
    pub acked: u64,
    /// Answered sends never acknowledged, plus messages left in the queue.
    pub lost: u64,
    /// Messages acknowledged more than once or handed out after their acknowledgement.
    pub double: u64,
    /// Reads of a message while an earlier claim was within its visibility time.
    pub overlaps: u64,
    /// Stale receipts refused: the workers' own stale acknowledgements and extensions, and
    /// the forged ones.
    pub stale_refused: u64,
    /// Stale receipts that acted (a broken fence).
    pub stale_accepted: u64,
    /// Backends terminated.
    pub kills: u64,
    /// Of those, listening connections.
    pub listener_kills: u64,
    /// Server crashes and restarts.
    pub restarts: u64,
    /// How long the restarted server was down (crash to accepting connections).
    pub down: Option<Duration>,
    /// Acknowledgements per second in the second before the crash (a short window: the rate
    /// drifts down over a run as the queue table churns, see `RELIABILITY.md`).
    pub rate_before: f64,
    /// From the server accepting connections again to the end of the first 1 s window
    /// whose rate is at least 90% of [`rate_before`](Self::rate_before).
    pub recovery: Option<Duration>,
    /// Sends answered with an error (they may or may not have been stored).
    pub ambiguous_sends: u64,
    /// Archived messages whose send was answered with an error.
    pub unanswered_stored: u64,
    /// Failed statements per operation.
    pub errors: BTreeMap<&'static str, u64>,
    /// The workers' summaries, summed: processed, failed, lost claims, stale acks, ack
    /// errors, aborted.
    pub workers: [u64; 6],
    /// Workers that stopped with an error instead of at shutdown, and why.
    pub worker_errors: Vec<String>,
    /// Whether the run hit its deadline before the queue drained.
    pub timed_out: bool,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The seed, to repeat the run's choices.
    pub seed: u64,
    /// A few examples of what broke.
    pub examples: Vec<String>,
}

impl Report {
    /// No message lost, none doubled, no overlapping claims, no stale receipt accepted, and
    /// the queue drained within the deadline.
    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.double == 0
            && self.overlaps == 0
            && self.stale_accepted == 0
            && !self.timed_out
            && self.worker_errors.is_empty()
            && self.sent > 0
            && self.acked == self.sent
    }

    /// The one summary line.
    pub fn summary_line(&self) -> String {
        format!(
            "sent={} acked={} lost={} double={} overlaps={} stale_refused={} faults={}",
            self.sent,
            self.acked,
            self.lost,
            self.double,
            self.overlaps,
            self.stale_refused,
            self.kills + self.restarts
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary_line())?;
        let [processed, failed, lost_claims, stale_acks, ack_errors, aborted] = self.workers;
        writeln!(
            f,
            "faults: {} backends terminated ({} listening), {} crash-restart(s), down {:?}",
            self.kills, self.listener_kills, self.restarts, self.down
        )?;
        match self.recovery {
            Some(r) => writeln!(
                f,
                "recovery: {:.0} acks/s before the crash; >= 90% of it again {} ms after the server was back",
                self.rate_before,
                r.as_millis()
            )?,
            None => writeln!(
                f,
                "recovery: {:.0} acks/s before the crash; no 1 s window after it reached 90% \
                 (or no crash)",
                self.rate_before
            )?,
        }
        writeln!(
            f,
            "workers: processed={processed} failed={failed} lost_claims={lost_claims} \
             stale_acks={stale_acks} ack_errors={ack_errors} aborted={aborted}"
        )?;
        writeln!(
            f,
            "sends: {} answered with an error, {} of which were stored; stale receipts accepted: {}",
            self.ambiguous_sends, self.unanswered_stored, self.stale_accepted
        )?;
        writeln!(f, "failed statements: {:?}", self.errors)?;
        for e in &self.worker_errors {
            writeln!(f, "  a worker stopped: {e}")?;
        }
        writeln!(
            f,
            "elapsed {:.1} s, seed {}{}",
            self.elapsed.as_secs_f64(),
            self.seed,
            if self.timed_out { ", TIMED OUT" } else { "" }
        )?;
        for e in &self.examples {
            writeln!(f, "  broken: {e}")?;
        }
        Ok(())
    }
}

/// Acknowledgements per second in the second before `crash`, and how long after `back` the
/// rate first held 90% of that for a whole second.
pub(crate) fn recovery(
    acks: &[(Instant, u32)],
    crash: Instant,
    back: Instant,
) -> (f64, Option<Duration>) {
    let window = Duration::from_secs(1);
    let from = crash.checked_sub(window).unwrap_or(crash);
    let count = |a: Instant, b: Instant| -> u64 {
        acks.iter()
            .filter(|(t, _)| *t >= a && *t < b)
            .map(|(_, n)| u64::from(*n))
            .sum()
    };
    let before = count(from, crash) as f64 / crash.duration_since(from).as_secs_f64().max(0.001);
    let last = acks.iter().map(|(t, _)| *t).max().unwrap_or(back);
    if std::env::var_os("PGMQ_TORTURE_TRACE").is_some() {
        let mut t = from;
        while t < last {
            let n = count(t, t + Duration::from_millis(500));
            eprintln!(
                "{:>7.1}s {n}",
                t.saturating_duration_since(crash).as_secs_f64()
                    - crash.saturating_duration_since(t).as_secs_f64()
            );
            t += Duration::from_millis(500);
        }
    }
    let step = Duration::from_millis(100);
    let second = Duration::from_secs(1);
    let mut offset = Duration::ZERO;
    while back + offset + second <= last {
        let start = back + offset;
        if count(start, start + second) as f64 >= 0.9 * before {
            return (before, Some(offset + second));
        }
        offset += step;
    }
    (before, None)
}
