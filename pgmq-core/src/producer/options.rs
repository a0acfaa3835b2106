//! [`ProducerOptions`]: how a [`BatchingProducer`](super::BatchingProducer) batches.

use std::time::Duration;

use crate::checks;
use crate::error::{Error, Result};
use crate::options::{delay_params, SendOptions, MAX_BATCH};

/// How a [`BatchingProducer`](super::BatchingProducer) forms its batches.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ProducerOptions {
    /// How long a batch waits for more messages after its first one while other batches are
    /// in flight (an idle producer sends at once), at most [`MAX_WINDOW`](Self::MAX_WINDOW).
    /// Default 1 ms. Zero is allowed: a batch then takes only the messages already waiting.
    pub window: Duration,
    /// The most messages in one batch, 1 to [`MAX_BATCH`]. Default 100.
    pub max_batch: usize,
    /// The most batch statements running at once, 1 to [`MAX_BATCH`]. Default 4. While all
    /// are busy, waiting messages gather into the next batch.
    pub max_in_flight_batches: usize,
    /// The delay and headers of every message (checked as for a send).
    pub send: SendOptions,
}

impl Default for ProducerOptions {
    fn default() -> Self {
        Self {
            window: Duration::from_millis(1),
            max_batch: 100,
            max_in_flight_batches: 4,
            send: SendOptions::new(),
        }
    }
}

impl ProducerOptions {
    /// The longest [`window`](Self::window): every send may wait this long before its batch
    /// goes out.
    pub const MAX_WINDOW: Duration = Duration::from_secs(1);

    /// A 1 ms window, batches of up to 100, 4 batches in flight, default send options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the [`window`](Self::window).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Set the [`max_batch`](Self::max_batch).
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch;
        self
    }

    /// Set the [`max_in_flight_batches`](Self::max_in_flight_batches).
    pub fn max_in_flight_batches(mut self, batches: usize) -> Self {
        self.max_in_flight_batches = batches;
        self
    }

    /// Send every message with `send` (a delay, headers).
    pub fn send_options(mut self, send: SendOptions) -> Self {
        self.send = send;
        self
    }

    pub(super) fn check(&self) -> Result<()> {
        if self.window > Self::MAX_WINDOW {
            let reason = format!("{:?} is longer than the limit of 1 s", self.window);
            return Err(Error::invalid("batch window", reason));
        }
        for (argument, n) in [
            ("max_batch", self.max_batch),
            ("max_in_flight_batches", self.max_in_flight_batches),
        ] {
            if n == 0 || n > MAX_BATCH {
                return Err(Error::invalid(
                    argument,
                    format!("{n} is outside 1..={MAX_BATCH}"),
                ));
            }
        }
        checks::headers(self.send.headers.as_ref())?;
        delay_params(self.send.delay).map(drop)
    }
}
