//! Exponential backoff with jitter for failed messages, and the tiny random source it needs
//! (no `rand` dependency: a xorshift seeded from the clock and an address).

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

/// A seed that differs between threads, processes and runs: the clock mixed with the address
/// of a thread-local.
fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let local = 0u8;
    let address = &local as *const u8 as u64;
    // splitmix64 of the mix, never 0 (xorshift's one fixed point).
    let mut z = nanos ^ address.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

/// The next pseudo-random number of this thread (xorshift64; not for cryptography).
fn next_u64() -> u64 {
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    })
}

/// How long a message that failed on its `read_ct`-th receive stays hidden before its next
/// attempt: `base * 2^(read_ct - 1)`, at most `max`, with "equal jitter" (half of that span
/// fixed, the other half random), so retries of many messages that failed together spread
/// out but every retry still waits at least half its span.
pub(super) fn backoff(read_ct: i32, base: Duration, max: Duration) -> Duration {
    let exponent = read_ct.saturating_sub(1).clamp(0, 32) as u32;
    let span = base
        .checked_mul(1u32 << exponent.min(31))
        .unwrap_or(max)
        .min(max);
    jitter(span, next_u64())
}

/// Half of `span`, plus a part of the other half chosen by `random`.
fn jitter(span: Duration, random: u64) -> Duration {
    let half = span / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let extra = if nanos == 0 { 0 } else { random % (nanos + 1) };
    half + Duration::from_nanos(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(10);

    #[test]
    fn backoff_doubles_with_each_receive_within_its_jitter() {
        for read_ct in 1..=6 {
            let span = BASE * (1 << (read_ct - 1));
            for _ in 0..100 {
                let d = backoff(read_ct, BASE, MAX);
                assert!(
                    d >= span / 2 && d <= span,
                    "{read_ct}: {d:?} outside {span:?}"
                );
            }
        }
    }

    #[test]
    fn backoff_is_capped_at_the_maximum_even_for_huge_counts() {
        for read_ct in [8, 20, 40, i32::MAX] {
            let d = backoff(read_ct, BASE, MAX);
            assert!(d >= MAX / 2 && d <= MAX, "{read_ct}: {d:?}");
        }
        assert!(backoff(0, BASE, MAX) <= BASE);
        assert!(backoff(-3, BASE, MAX) <= BASE);
    }

    #[test]
    fn jitter_spreads_and_stays_in_range() {
        let span = Duration::from_secs(1);
        assert_eq!(jitter(span, 0), span / 2);
        assert_eq!(jitter(Duration::ZERO, 12345), Duration::ZERO);
        let many: std::collections::HashSet<Duration> =
            (0..50).map(|_| jitter(span, next_u64())).collect();
        assert!(many.len() > 40, "not spread: {} distinct", many.len());
        assert!(many.iter().all(|d| *d >= span / 2 && *d <= span));
    }
}
