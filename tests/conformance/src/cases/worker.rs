//! The consumer [`Worker`] on this backend. These cases own the backend (`Arc<dyn Queue>`),
//! as the worker's tasks hold its queue.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pgmq_core::serde_json::{json, Value};
use pgmq_core::{
    AckMode, Fence, Message, Queue, QueueAttributes, QueueExt, QueueName, ReadOptions, Result,
    SendOptions, Worker, WorkerOptions, WorkerSummary,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};

use crate::recording::Recording;

use super::{assert_invalid, assert_not_found, cleanup, fresh, length, missing};

/// Every attempt a handler saw, as (msg_id, read_ct), in order.
type Attempts = Arc<Mutex<Vec<(i64, i32)>>>;

fn record(attempts: &Attempts, message: &Message) {
    attempts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((message.msg_id, message.read_ct));
}

fn seen(attempts: &Attempts) -> Vec<(i64, i32)> {
    attempts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// A running worker and the switch that shuts it down.
pub(crate) struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<WorkerSummary>>,
}

impl Running {
    /// Shuts the worker down and returns its summary (within 20 s).
    pub(crate) async fn stop(self) -> WorkerSummary {
        let _ = self.stop.send(());
        let joined = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the worker stops within 20 s");
        joined
            .expect("the worker task ran")
            .expect("the worker ran")
    }
}

/// Starts a worker for `name` on `q` with `handler`.
pub(crate) fn start<F, Fut>(
    q: Arc<dyn Queue>,
    name: &QueueName,
    options: WorkerOptions,
    f: F,
) -> Running
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<(), String>> + Send + 'static,
{
    let worker = Worker::new(q, name.clone(), options).expect("a worker");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        worker
            .run(f, async {
                let _ = stopped.await;
            })
            .await
    });
    Running { stop, task }
}

/// Waits (up to 10 s) until `name` on `q` holds `n` messages.
async fn until_length(q: &dyn Queue, name: &QueueName, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = length(q, name).await;
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} still holds {now} messages, not {n}"
        );
        sleep(Duration::from_millis(25)).await;
    }
}

/// Small backoff and polling, so retries come quickly.
fn quick() -> WorkerOptions {
    WorkerOptions::new()
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .poll_interval(Duration::from_millis(20))
}

/// 50 messages through a worker with 8 handlers at once: each handled exactly once,
/// every one acknowledged (the queue ends empty), in far fewer ack statements than messages.
pub async fn worker_processes_each_message_once_and_coalesces_its_acks(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_once").await;
    let bodies: Vec<Value> = (0..50).map(|i| json!({ "i": i })).collect();
    let ids = q
        .send_batch(&name, &bodies, SendOptions::new())
        .await
        .expect("send");
    let counting = Recording::new(&q);
    let attempts = Attempts::default();
    let seen_by = Arc::clone(&attempts);
    let options = quick().concurrency(8).batch_size(8);
    let worker = start(counting.clone(), &name, options, move |m| {
        record(&seen_by, &m);
        async move {
            sleep(Duration::from_millis(5)).await;
            Ok(())
        }
    });
    until_length(&*q, &name, 0).await;
    let summary = worker.stop().await;
    let mut handled: Vec<i64> = seen(&attempts).into_iter().map(|(id, _)| id).collect();
    handled.sort_unstable();
    assert_eq!(handled, ids, "each message handled exactly once");
    assert_eq!(summary.processed, 50, "{summary:?}");
    assert_eq!(summary.failed + summary.stale_acks + summary.ack_errors, 0);
    let statements = counting.delete_receipt_statements();
    assert!(
        statements * 2 <= 50,
        "{statements} ack statements for 50 messages: not coalescing"
    );
    cleanup(&*q, &name).await;
}

/// A handler that fails on a message's first receive: the message comes back after the
/// backoff and is processed on its second.
pub async fn worker_retries_a_failed_message_after_its_backoff(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_retry").await;
    let id = q
        .send(&name, &json!("flaky"), SendOptions::new())
        .await
        .expect("send");
    let attempts = Attempts::default();
    let seen_by = Arc::clone(&attempts);
    let worker = start(Arc::clone(&q), &name, quick(), move |m| {
        record(&seen_by, &m);
        let first = m.read_ct == 1;
        async move {
            if first {
                Err("not yet".to_owned())
            } else {
                Ok(())
            }
        }
    });
    until_length(&*q, &name, 0).await;
    let summary = worker.stop().await;
    assert_eq!(seen(&attempts), vec![(id, 1), (id, 2)]);
    assert_eq!((summary.processed, summary.failed), (1, 1), "{summary:?}");
    assert_eq!(summary.dead_lettered, 0);
    cleanup(&*q, &name).await;
}

/// A handler that panics does not stop the worker: the message comes back and a later
/// attempt processes it.
pub async fn worker_survives_a_panicking_handler_and_retries_its_message(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_panic").await;
    let id = q
        .send(&name, &json!("boom once"), SendOptions::new())
        .await
        .expect("send");
    let attempts = Attempts::default();
    let seen_by = Arc::clone(&attempts);
    let worker = start(Arc::clone(&q), &name, quick(), move |m| {
        record(&seen_by, &m);
        let first = m.read_ct == 1;
        async move {
            assert!(!first, "a handler panics (as this case wants)");
            Ok(())
        }
    });
    until_length(&*q, &name, 0).await;
    let summary = worker.stop().await;
    assert_eq!(seen(&attempts), vec![(id, 1), (id, 2)]);
    assert_eq!((summary.processed, summary.failed), (1, 1), "{summary:?}");
    cleanup(&*q, &name).await;
}

/// A handler that runs 2.5 s on a 1 s visibility timeout keeps its claim through the
/// heartbeats: a plain reader polling all along never gets the message, and it is
/// acknowledged once.
pub async fn worker_heartbeats_keep_a_slow_handlers_claim(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_slow").await;
    q.send(&name, &json!("slow"), SendOptions::new())
        .await
        .expect("send");
    let attempts = Attempts::default();
    let seen_by = Arc::clone(&attempts);
    let options = quick().vt(Duration::from_secs(1)).concurrency(1);
    let worker = start(Arc::clone(&q), &name, options, move |m| {
        record(&seen_by, &m);
        async move {
            sleep(Duration::from_millis(2500)).await;
            Ok(())
        }
    });
    // Wait for the worker to take it, then poll as a competing reader until it is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen(&attempts).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the worker never took the message"
        );
        sleep(Duration::from_millis(10)).await;
    }
    let mut stolen = Vec::new();
    while length(&*q, &name).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the message was never acknowledged"
        );
        let got = q
            .read_json(&name, ReadOptions::new().vt_secs(30))
            .await
            .expect("read");
        stolen.extend(got.into_iter().map(|m| m.receipt()));
        sleep(Duration::from_millis(100)).await;
    }
    let summary = worker.stop().await;
    assert!(stolen.is_empty(), "another reader got {stolen:?}");
    assert_eq!(seen(&attempts).len(), 1, "handled once");
    assert_eq!(summary.processed, 1, "{summary:?}");
    assert_eq!(summary.lost_claims + summary.stale_acks, 0, "{summary:?}");
    cleanup(&*q, &name).await;
}

/// Shutting down while a handler runs: the worker reads nothing more, waits for the
/// handler, acknowledges it, and says so in its summary. (Without reading ahead, so the
/// second message is never read.)
pub async fn worker_shutdown_waits_for_handlers_in_flight_and_acks_them(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_stop").await;
    let ids = q
        .send_batch(&name, &[1, 2], SendOptions::new())
        .await
        .expect("send");
    let (started, on_start) = oneshot::channel::<()>();
    let started = Arc::new(Mutex::new(Some(started)));
    let options = quick().concurrency(1).batch_size(1).read_ahead(0);
    let worker = start(Arc::clone(&q), &name, options, move |_| {
        if let Some(tx) = started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = tx.send(());
        }
        async move {
            sleep(Duration::from_millis(800)).await;
            Ok(())
        }
    });
    on_start.await.expect("a handler started");
    let summary = worker.stop().await;
    assert_eq!(summary.processed, 1, "{summary:?}");
    assert_eq!(summary.aborted, 0, "{summary:?}");
    // The first was acknowledged; the second was never read and is visible.
    let left = q
        .read_json(&name, ReadOptions::new().qty(10))
        .await
        .expect("read");
    let left: Vec<(i64, i32)> = left.iter().map(|m| (m.msg_id, m.read_ct)).collect();
    assert_eq!(left, vec![(ids[1], 1)]);
    cleanup(&*q, &name).await;
}

/// Waits (up to 10 s) until `name` on `q` has `n` messages in flight (read, not yet
/// visible again).
async fn until_in_flight(q: &dyn Queue, name: &QueueName, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = q
            .metrics(name)
            .await
            .expect("metrics")
            .queue_in_flight_length;
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} has {now} messages in flight, not {n}"
        );
        sleep(Duration::from_millis(10)).await;
    }
}

/// 24 messages, 4 handlers at once and 3 read ahead: never more than 4 handlers run at
/// once (and 4 do); the worker never holds more than 7 messages whose handler has not
/// finished (counted from what its reads returned), and does hold more than 4 at some point
/// (it reads ahead); every message is handled exactly once.
pub async fn worker_runs_at_most_concurrency_handlers_and_reads_ahead_a_bounded_few(
    q: Arc<dyn Queue>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    let name = fresh(&*q, "wrk_bound").await;
    let bodies: Vec<Value> = (0..24).map(|i| json!({ "i": i })).collect();
    let ids = q
        .send_batch(&name, &bodies, SendOptions::new())
        .await
        .expect("send");
    let counting = Recording::new(&q);
    let (running, most, finished) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let attempts = Attempts::default();
    let (run2, most2, fin2, seen_by) = (
        Arc::clone(&running),
        Arc::clone(&most),
        Arc::clone(&finished),
        Arc::clone(&attempts),
    );
    let options = quick().concurrency(4).read_ahead(3).batch_size(10);
    let worker = start(counting.clone(), &name, options, move |m| {
        record(&seen_by, &m);
        let (running, most, finished) = (Arc::clone(&run2), Arc::clone(&most2), Arc::clone(&fin2));
        async move {
            let now = running.fetch_add(1, SeqCst) + 1;
            most.fetch_max(now, SeqCst);
            sleep(Duration::from_millis(60)).await;
            running.fetch_sub(1, SeqCst);
            finished.fetch_add(1, SeqCst);
            Ok(())
        }
    });
    // Sample what the worker holds while it works through the queue. What its reads
    // returned is read first: the difference can only understate what it holds.
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while finished.load(SeqCst) < 24 {
        let read = counting.messages_read();
        held.push(read.saturating_sub(finished.load(SeqCst)));
        assert!(Instant::now() < deadline, "the worker did not finish");
        sleep(Duration::from_millis(5)).await;
    }
    until_length(&*q, &name, 0).await;
    let summary = worker.stop().await;
    assert_eq!(
        most.load(SeqCst),
        4,
        "handlers at once: at most (and at some point) 4"
    );
    let peak = held.iter().copied().max().unwrap_or(0);
    assert!(
        (5..=7).contains(&peak),
        "held at once: {held:?}; expected more than 4 (read ahead), at most 7"
    );
    let mut handled: Vec<i64> = seen(&attempts).into_iter().map(|(id, _)| id).collect();
    assert_eq!(handled.len(), 24, "each handled once: {handled:?}");
    handled.sort_unstable();
    assert_eq!(handled, ids);
    assert_eq!(summary.processed, 24, "{summary:?}");
    cleanup(&*q, &name).await;
}

/// A message read ahead when the shutdown comes is handled in the grace period like the
/// ones running (it is claimed; dropping it would cost it a receive), and a message never
/// read stays unread.
pub async fn worker_shutdown_handles_messages_read_ahead(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_stop_ahead").await;
    let ids = q
        .send_batch(&name, &[1, 2, 3], SendOptions::new())
        .await
        .expect("send");
    let attempts = Attempts::default();
    let seen_by = Arc::clone(&attempts);
    let finished = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let fin = Arc::clone(&finished);
    let options = quick().concurrency(1).batch_size(1).read_ahead(1);
    let worker = start(Arc::clone(&q), &name, options, move |m| {
        record(&seen_by, &m);
        let fin = Arc::clone(&fin);
        async move {
            sleep(Duration::from_millis(1500)).await;
            fin.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    });
    // One handler started, and one message read ahead behind it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen(&attempts).is_empty() {
        assert!(Instant::now() < deadline, "the worker never took a message");
        sleep(Duration::from_millis(10)).await;
    }
    until_in_flight(&*q, &name, 2).await;
    assert_eq!(
        finished.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the first handler ended before the shutdown could begin"
    );
    let summary = worker.stop().await;
    assert_eq!((summary.processed, summary.aborted), (2, 0), "{summary:?}");
    // Which of the two starts first is up to the scheduler.
    let mut handled = seen(&attempts);
    handled.sort_unstable();
    assert_eq!(handled, vec![(ids[0], 1), (ids[1], 1)]);
    let left = q
        .read_json(&name, ReadOptions::new().qty(10))
        .await
        .expect("read");
    let left: Vec<(i64, i32)> = left.iter().map(|m| (m.msg_id, m.read_ct)).collect();
    assert_eq!(left, vec![(ids[2], 1)], "the third was never read");
    cleanup(&*q, &name).await;
}

/// A handler still running when the grace period ends is aborted and its message made
/// visible again at once.
pub async fn worker_aborts_handlers_past_the_grace_period_and_releases_them(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_abort").await;
    let id = q
        .send(&name, &json!("stuck"), SendOptions::new())
        .await
        .expect("send");
    let attempts = Attempts::default();
    let seen_by = Arc::clone(&attempts);
    let options = quick().grace(Duration::from_millis(200));
    let worker = start(Arc::clone(&q), &name, options, move |m| {
        record(&seen_by, &m);
        async move {
            sleep(Duration::from_secs(60)).await;
            Ok(())
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen(&attempts).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the worker never took the message"
        );
        sleep(Duration::from_millis(10)).await;
    }
    let summary = worker.stop().await;
    assert_eq!((summary.aborted, summary.processed), (1, 0), "{summary:?}");
    let again = q.read_json(&name, ReadOptions::new()).await.expect("read");
    let again: Vec<(i64, i32)> = again.iter().map(|m| (m.msg_id, m.read_ct)).collect();
    assert_eq!(again, vec![(id, 2)], "released at once");
    cleanup(&*q, &name).await;
}

/// With a dead-letter policy of 2 receives and a handler that always fails, the message
/// ends in the dead-letter queue, and the summary counts it as dead-lettered.
pub async fn worker_leaves_an_always_failing_message_to_the_dead_letter_queue(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_dlq").await;
    let dlq = fresh(&*q, "wrk_dlq_dead").await;
    q.set_attributes(&name, QueueAttributes::new().dead_letter(dlq.clone(), 2))
        .await
        .expect("set_attributes");
    q.send(&name, &json!("poison"), SendOptions::new())
        .await
        .expect("send");
    let calls = Arc::new(Mutex::new(HashMap::<i32, usize>::new()));
    let counted = Arc::clone(&calls);
    let worker = start(Arc::clone(&q), &name, quick(), move |m| {
        *counted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(m.read_ct)
            .or_default() += 1;
        async move { Err("always".to_owned()) }
    });
    until_length(&*q, &dlq, 1).await;
    until_length(&*q, &name, 0).await;
    let summary = worker.stop().await;
    assert_eq!(
        (summary.failed, summary.dead_lettered),
        (2, 1),
        "{summary:?}"
    );
    assert_eq!(summary.processed, 0);
    let calls = calls.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(calls, HashMap::from([(1, 1), (2, 1)]));
    cleanup(&*q, &name).await;
    cleanup(&*q, &dlq).await;
}

/// Options out of range are `InvalidArgument`; a worker for a queue that does not exist
/// fails with `QueueNotFound` before reading.
pub async fn worker_rejects_invalid_options_and_unknown_queues(q: Arc<dyn Queue>) {
    let name = missing("wrk_none");
    let new = |options| Worker::new(Arc::clone(&q), name.clone(), options);
    assert_invalid(new(WorkerOptions::new().concurrency(0)), "concurrency");
    assert_invalid(new(WorkerOptions::new().batch_size(0)), "batch_size");
    assert_invalid(
        new(WorkerOptions::new().vt(Duration::from_millis(10))),
        "visibility timeout",
    );
    // Not a panic adding them to the clock.
    assert_invalid(new(WorkerOptions::new().grace(Duration::MAX)), "grace");
    assert_invalid(
        new(WorkerOptions::new().poll_interval(Duration::MAX)),
        "poll interval",
    );
    let worker = new(WorkerOptions::new()).expect("a worker");
    let ran = worker
        .run(|_| async { Ok::<(), String>(()) }, std::future::pending())
        .await;
    assert_not_found(ran, &name);
}

/// `Worker::messages` hands out each message once, read in batches, and waits while the
/// queue is empty; the caller acknowledges with the receipts.
pub async fn worker_messages_hands_out_each_message_once_and_waits_when_empty(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_msgs").await;
    let ids = q
        .send_batch(&name, &[1, 2, 3, 4, 5], SendOptions::new())
        .await
        .expect("send");
    let options = quick().batch_size(2);
    let worker = Worker::new(Arc::clone(&q), name.clone(), options).expect("a worker");
    let mut messages = worker.messages();
    let mut got = Vec::new();
    for _ in 0..5 {
        let m = messages.next().await.expect("next");
        assert!(messages.buffered() <= 1, "reads more than its batch size");
        assert_eq!(m.read_ct, 1);
        got.push(m.msg_id);
        assert_eq!(
            q.delete_receipt(&name, m.receipt()).await.expect("ack"),
            Fence::Acted
        );
    }
    assert_eq!(got, ids);
    let waited = tokio::time::timeout(Duration::from_millis(300), messages.next()).await;
    assert!(waited.is_err(), "an empty queue gave {waited:?}");
    let late = q
        .send(&name, &json!("late"), SendOptions::new())
        .await
        .expect("send");
    let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .expect("a message sent later arrives")
        .expect("next");
    assert_eq!(m.msg_id, late);
    cleanup(&*q, &name).await;
}

/// With `AckMode::Archive`, a success moves the message to the archive instead of
/// deleting it.
pub async fn worker_archives_acknowledged_messages_when_asked(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_arch").await;
    let ids = q
        .send_batch(&name, &[1, 2, 3], SendOptions::new())
        .await
        .expect("send");
    let options = quick().ack_mode(AckMode::Archive);
    let worker = start(Arc::clone(&q), &name, options, |_| async { Ok(()) });
    until_length(&*q, &name, 0).await;
    let summary = worker.stop().await;
    assert_eq!(summary.processed, 3, "{summary:?}");
    let archived = q.read_archive(&name, &ids).await.expect("read_archive");
    let mut archived: Vec<i64> = archived.iter().map(|m| m.message.msg_id).collect();
    archived.sort_unstable();
    assert_eq!(archived, ids);
    cleanup(&*q, &name).await;
}

/// An idle worker parks on the queue's notifications: with a polling interval far longer
/// than the test, a message sent to its empty queue is still handled within moments (on a
/// backend that cannot listen, the worker polls, quickly here).
pub async fn worker_wakes_on_a_send_to_its_idle_queue(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "wrk_wake").await;
    let listens = q.subscribe(&name).await.expect("subscribe").can_listen();
    let poll = if listens {
        Duration::from_secs(30)
    } else {
        Duration::from_millis(20)
    };
    let (handled, mut got) = tokio::sync::mpsc::unbounded_channel();
    let worker = start(
        Arc::clone(&q),
        &name,
        WorkerOptions::new().poll_interval(poll),
        move |m| {
            let _ = handled.send((m.msg_id, Instant::now()));
            async { Ok(()) }
        },
    );
    // Let it find the queue empty and park.
    sleep(Duration::from_millis(500)).await;
    for round in 0..2 {
        let id = q
            .send(&name, &json!({ "round": round }), SendOptions::new())
            .await
            .expect("send");
        let sent = Instant::now();
        let (got_id, at) = tokio::time::timeout(Duration::from_secs(10), got.recv())
            .await
            .expect("handled within 10 s")
            .expect("the worker runs");
        assert_eq!(got_id, id);
        if listens {
            let late = at.duration_since(sent);
            assert!(
                late < Duration::from_secs(2),
                "handled {late:?} after the send"
            );
        }
        sleep(Duration::from_millis(300)).await;
    }
    let summary = worker.stop().await;
    assert_eq!(summary.processed, 2, "{summary:?}");
    cleanup(&*q, &name).await;
}
