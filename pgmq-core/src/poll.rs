//! Waiting for messages by polling. A later release wakes on LISTEN/NOTIFY instead.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Result;

/// Calls `attempt` until it returns a non-empty list or `wait` has passed, pausing with
/// `sleep` for `interval` (at least 1 ms, never past the deadline) between attempts.
pub(crate) async fn until_some<T, F, Fut, S, SFut>(
    wait: Duration,
    interval: Duration,
    attempt: F,
    sleep: S,
) -> Result<Vec<T>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
    S: Fn(Duration) -> SFut,
    SFut: Future<Output = ()>,
{
    let deadline = Instant::now() + wait;
    let interval = interval.max(Duration::from_millis(1));
    loop {
        let found = attempt().await?;
        let now = Instant::now();
        if !found.is_empty() || now >= deadline {
            return Ok(found);
        }
        sleep(interval.min(deadline - now)).await;
    }
}
