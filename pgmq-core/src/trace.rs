//! One `tracing` span per queue operation, following OpenTelemetry's messaging conventions
//! (`messaging.system = "pgmq"`, `messaging.destination.name`, `messaging.operation.name`,
//! `messaging.batch.message_count`; never message bodies). Behind the `tracing` feature, on
//! by default; without it, [`traced`] only awaits.

use std::future::Future;

use crate::error::Result;
use crate::name::QueueName;

/// Runs `operation` on `queue` (with `count` messages or ids, where that means something)
/// inside its span, and records a failure's kind on it. Without the feature, only awaits.
pub(crate) async fn traced<T, F>(
    operation: &'static str,
    queue: Option<&QueueName>,
    count: Option<usize>,
    body: F,
) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    #[cfg(feature = "tracing")]
    {
        use tracing::Instrument;

        let destination = queue.map(QueueName::as_str);
        let span = tracing::info_span!(
            "pgmq",
            otel.name = %format_args!("{operation} {}", destination.unwrap_or_default()),
            otel.kind = "client",
            messaging.system = "pgmq",
            messaging.operation.name = operation,
            messaging.destination.name = destination,
            messaging.batch.message_count = count,
            error.type = tracing::field::Empty,
        );
        let result = body.instrument(span.clone()).await;
        if let Err(e) = &result {
            span.record("error.type", kind(e).as_str());
        }
        result
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (operation, queue, count);
        body.await
    }
}

/// A worker's handling of one message, inside its own span (`messaging.operation.name =
/// "process"`, the queue and the message id; never the body).
#[cfg(feature = "tracing")]
pub(crate) fn processing<F: Future>(
    queue: &QueueName,
    msg_id: i64,
    read_ct: i32,
    body: F,
) -> impl Future<Output = F::Output> {
    use tracing::Instrument;

    let span = tracing::info_span!(
        "pgmq",
        otel.name = %format_args!("process {}", queue.as_str()),
        otel.kind = "consumer",
        messaging.system = "pgmq",
        messaging.operation.name = "process",
        messaging.operation.type = "process",
        messaging.destination.name = queue.as_str(),
        messaging.message.id = msg_id,
        messaging.pgmq.read_count = read_ct,
    );
    body.instrument(span)
}

/// Without the `tracing` feature: the handling itself.
#[cfg(not(feature = "tracing"))]
pub(crate) fn processing<F: Future>(_: &QueueName, _: i64, _: i32, body: F) -> F {
    body
}

/// The variant of an error, for `error.type` (its `Debug` up to the first field).
#[cfg(feature = "tracing")]
fn kind(e: &crate::Error) -> String {
    let debug = format!("{e:?}");
    debug
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Logs what a worker's vacuum of `queue` did: a refusal at `info` (the worker stops
/// vacuuming, so it is logged once), a failure at `warn`, the rest (and a backend without
/// `vacuum`, which also stops it) at `debug`.
#[cfg(feature = "tracing")]
pub(crate) fn vacuumed(queue: &QueueName, outcome: &Result<crate::VacuumOutcome>) {
    use crate::VacuumOutcome;

    let queue = queue.as_str();
    match outcome {
        Ok(VacuumOutcome::NotPermitted) => tracing::info!(
            messaging.destination.name = queue,
            "this role may not vacuum the queue table: the worker stops vacuuming it"
        ),
        Err(crate::Error::Unsupported { .. }) => tracing::debug!(
            messaging.destination.name = queue,
            "this backend cannot vacuum: the worker stops vacuuming"
        ),
        Err(error) => tracing::warn!(
            messaging.destination.name = queue,
            error = %error,
            "vacuuming the queue table failed; trying again at the next threshold"
        ),
        Ok(outcome) => tracing::debug!(
            messaging.destination.name = queue,
            outcome = ?outcome,
            "vacuum of the queue table"
        ),
    }
}

/// Without the `tracing` feature: nothing.
#[cfg(not(feature = "tracing"))]
pub(crate) fn vacuumed(_: &QueueName, _: &Result<crate::VacuumOutcome>) {}
