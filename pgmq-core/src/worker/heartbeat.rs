//! The handlers in flight, and the heartbeat that extends their claims with receipts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::Id;
use tokio::time::Instant;

use crate::name::QueueName;
use crate::options::{VisibleAt, MAX_BATCH};
use crate::queue::Queue;
use crate::receipt::Receipt;

/// The handler is running or waiting for a slot; the heartbeat extends its claim.
pub(super) const RUNNING: u8 = 0;
/// The handler has finished and its task is acknowledging or releasing the message: the
/// heartbeat leaves it alone (a stale answer now means only that the ack came first).
pub(super) const SETTLING: u8 = 1;
/// A heartbeat found the receipt stale: someone else holds the message. Its handler's
/// outcome is not acted on.
pub(super) const LOST: u8 = 2;

/// One message in flight: its handler running, or waiting for a slot (read ahead).
pub(super) struct Flight {
    pub(super) receipt: Receipt,
    /// [`RUNNING`], [`SETTLING`] or [`LOST`], shared with the handler's task.
    pub(super) state: Arc<AtomicU8>,
    /// When the claim last ran for a full visibility timeout from then (the read, or the
    /// last extension).
    pub(super) claimed_at: Instant,
}

/// The handlers in flight, by task.
pub(super) type Flights = HashMap<Id, Flight>;

/// Moves a `RUNNING` state on to `to`; false when it had already moved (to `LOST` or on).
pub(super) fn settle(state: &AtomicU8, to: u8) -> bool {
    state
        .compare_exchange(RUNNING, to, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// One beat, every `vt / 3`: extends by `vt`, in one `set_vt_receipts` per
/// [`MAX_BATCH`] receipts, the claim of every running handler whose claim is at least
/// `vt / 6` old (so one read just before the beat waits for the next: at most `vt / 2` old
/// then). Returns how many claims it found lost. A failed statement changes nothing; the
/// next beat tries again, still well within the timeout.
pub(super) async fn beat(
    queue: &dyn Queue,
    name: &QueueName,
    flights: &mut Flights,
    vt: Duration,
) -> u64 {
    let now = Instant::now();
    let due: Vec<(Id, Receipt)> = flights
        .iter()
        .filter(|(_, f)| f.state.load(Ordering::Acquire) == RUNNING && now - f.claimed_at >= vt / 6)
        .map(|(id, f)| (*id, f.receipt))
        .collect();
    let mut lost = 0;
    for chunk in due.chunks(MAX_BATCH) {
        let receipts: Vec<Receipt> = chunk.iter().map(|(_, r)| *r).collect();
        let Ok(answers) = queue
            .set_vt_receipts(name, &receipts, VisibleAt::After(vt))
            .await
        else {
            continue;
        };
        for ((id, _), answer) in chunk.iter().zip(answers) {
            let Some(flight) = flights.get_mut(id) else {
                continue;
            };
            match answer {
                Some(_) => flight.claimed_at = now,
                // Stale: only a loss if the handler has not settled (an ack that came
                // first makes the receipt stale too).
                None if settle(&flight.state, LOST) => lost += 1,
                None => {}
            }
        }
    }
    lost
}
