//! Waiting without polling: insert notifications, subscriptions, [`Readiness`], and reads
//! with a wait that park on the listening connection. A backend that cannot listen (one on
//! the caller's own connection) must still deliver every message, by polling.

use std::time::Duration;

use pgmq_core::serde_json::json;
use pgmq_core::{
    CreateOptions, Error, Queue, QueueExt, ReadOptions, SendOptions, DEFAULT_NOTIFY_THROTTLE,
};
use tokio::time::{sleep, timeout, Instant};

use super::{assert_not_found, cleanup, fresh, missing};

/// A polling interval so long that a test finishing well within it proves the reader woke
/// on a notification (or its readiness timer), not on a poll.
const SLOW: Duration = Duration::from_secs(8);

/// The polling interval for a backend that cannot listen.
const FAST: Duration = Duration::from_millis(20);

/// Whether `q` can listen, and the polling interval a waiting read should use on it.
async fn interval(q: &dyn Queue, name: &pgmq_core::QueueName) -> (bool, Duration) {
    let sub = q.subscribe(name).await.expect("subscribe");
    let listens = sub.can_listen();
    (listens, if listens { SLOW } else { FAST })
}

/// A read waiting on an empty queue wakes on a send within moments, not at its next poll.
pub async fn a_waiting_read_wakes_soon_after_a_send(q: &dyn Queue) {
    let name = fresh(q, "wake").await;
    let (listens, poll) = interval(q, &name).await;
    let reader = q.read_json(
        &name,
        ReadOptions::new()
            .wait(Duration::from_secs(20))
            .poll_interval(poll),
    );
    let sender = async {
        sleep(Duration::from_millis(400)).await;
        let id = q
            .send(&name, &json!("wake"), SendOptions::new())
            .await
            .expect("send");
        (id, Instant::now())
    };
    let (got, (id, sent_at)) = tokio::join!(reader, sender);
    let got = got.expect("read with wait");
    let latency = sent_at.elapsed();
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![id]);
    if listens {
        assert!(
            latency < Duration::from_secs(2),
            "woke {latency:?} after the send"
        );
    }
    cleanup(q, &name).await;
}

/// Polls every future in `futs` until all are done; their outputs in order. (Cases here
/// borrow the queue, so they cannot spawn.)
async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;

    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Twelve reads waiting on one empty queue (more than the readers of a process that read
/// at once): a batch of twelve sends reaches every one of them, one message each, none
/// twice, within moments. (On the blocking twin they share one connection: a notification
/// one of them takes wakes the others too.)
pub async fn many_waiting_reads_each_get_one_of_a_batch(q: &dyn Queue) {
    let name = fresh(q, "wake_many").await;
    let (_, poll) = interval(q, &name).await;
    let n = 12;
    let readers: Vec<_> = (0..n)
        .map(|_| {
            q.read_json(
                &name,
                ReadOptions::new()
                    .qty(1)
                    .wait(Duration::from_secs(20))
                    .poll_interval(poll),
            )
        })
        .collect();
    let sender = async {
        sleep(Duration::from_millis(400)).await;
        let bodies: Vec<_> = (0..n).map(|i| json!({ "i": i })).collect();
        let ids = q
            .send_batch(&name, &bodies, SendOptions::new())
            .await
            .expect("send_batch");
        (ids, Instant::now())
    };
    let (got, (ids, sent_at)) = tokio::join!(join_all(readers), sender);
    let took = sent_at.elapsed();
    let mut got: Vec<i64> = got
        .into_iter()
        .map(|r| {
            let r = r.expect("read with wait");
            assert_eq!(r.len(), 1, "each reader gets one message: {r:?}");
            r[0].msg_id
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, ids, "every message to exactly one reader");
    assert!(
        took < Duration::from_secs(5),
        "the last woke {took:?} after the send"
    );
    cleanup(q, &name).await;
}

/// A read waiting on a queue whose only message is delayed wakes when it becomes visible,
/// with no send to wake it.
pub async fn a_waiting_read_wakes_when_a_delayed_message_becomes_visible(q: &dyn Queue) {
    let name = fresh(q, "wakedelay").await;
    let (listens, poll) = interval(q, &name).await;
    let id = q
        .send(
            &name,
            &json!("later"),
            SendOptions::new().delay(Duration::from_millis(1200)),
        )
        .await
        .expect("send");
    let started = Instant::now();
    let got = q
        .read_json(
            &name,
            ReadOptions::new()
                .wait(Duration::from_secs(20))
                .poll_interval(poll),
        )
        .await
        .expect("read with wait");
    let waited = started.elapsed();
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![id]);
    assert!(
        waited >= Duration::from_millis(1000),
        "got it after {waited:?}"
    );
    if listens {
        assert!(waited < Duration::from_secs(4), "got it after {waited:?}");
    }
    cleanup(q, &name).await;
}

/// A subscription wakes on a send to its queue (and a polling one, on a backend that cannot
/// listen, never wakes).
pub async fn a_subscription_wakes_on_a_send_to_its_queue(q: &dyn Queue) {
    let name = fresh(q, "sub").await;
    let mut sub = q.subscribe(&name).await.expect("subscribe");
    q.send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let woke = timeout(Duration::from_secs(3), sub.changed()).await.is_ok();
    assert_eq!(woke, sub.can_listen(), "woke: {woke}");
    if sub.can_listen() {
        assert!(sub.is_listening());
    }
    cleanup(q, &name).await;
}

/// Readiness reports when the next message becomes visible and whether sends notify, with
/// the throttle's window; notifications switch off and on.
pub async fn readiness_reports_the_next_message_and_the_notifications(q: &dyn Queue) {
    let name = fresh(q, "ready").await;
    let r = q.readiness(&name).await.expect("readiness");
    assert_eq!(r.next_visible, None, "{r:?}");
    assert!(r.notifies, "{r:?}");
    assert!(!r.suppressed_in_flight, "{r:?}");
    q.send(&name, &json!(1), SendOptions::new().delay_secs(30))
        .await
        .expect("send");
    let r = q.readiness(&name).await.expect("readiness");
    let next = r.next_visible.expect("a next message");
    assert!(
        next > Duration::from_secs(25) && next <= Duration::from_secs(30),
        "{r:?}"
    );
    q.send(&name, &json!(2), SendOptions::new())
        .await
        .expect("send");
    let r = q.readiness(&name).await.expect("readiness");
    assert_eq!(r.next_visible, Some(Duration::ZERO), "{r:?}");

    q.disable_notify_insert(&name).await.expect("disable");
    assert!(!q.readiness(&name).await.expect("readiness").notifies);
    q.disable_notify_insert(&name).await.expect("disable twice");
    q.enable_notify_insert(&name, Duration::ZERO)
        .await
        .expect("enable");
    let r = q.readiness(&name).await.expect("readiness");
    assert!(r.notifies && r.throttle_window.is_none(), "{r:?}");
    q.enable_notify_insert(&name, Duration::from_secs(60))
        .await
        .expect("enable throttled");
    q.send(&name, &json!(3), SendOptions::new())
        .await
        .expect("send");
    let r = q.readiness(&name).await.expect("readiness");
    let window = r.throttle_window.expect("a throttle window");
    assert!(window > Duration::from_secs(50), "{r:?}");
    cleanup(q, &name).await;
}

/// A queue created without notifications does not notify; its waiting readers poll and
/// still get every message.
pub async fn a_queue_without_notifications_is_polled(q: &dyn Queue) {
    let name = crate::unique_queue_name("nonotify");
    q.create(&name, CreateOptions::new().without_notify_insert())
        .await
        .expect("create");
    assert!(!q.readiness(&name).await.expect("readiness").notifies);
    let reader = q.read_json(
        &name,
        ReadOptions::new()
            .wait(Duration::from_secs(10))
            .poll_interval(Duration::from_millis(50)),
    );
    let sender = async {
        sleep(Duration::from_millis(300)).await;
        q.send(&name, &json!("polled"), SendOptions::new())
            .await
            .expect("send")
    };
    let (got, id) = tokio::join!(reader, sender);
    let got = got.expect("read with wait");
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![id]);
    cleanup(q, &name).await;
}

/// With a throttle, a send that did not notify (it came within the throttle's window of one
/// that did) still reaches a reader that went back to waiting after the first.
pub async fn a_throttled_send_still_reaches_a_waiting_reader(q: &dyn Queue) {
    let name = fresh(q, "throttled").await;
    let (listens, poll) = interval(q, &name).await;
    q.enable_notify_insert(&name, Duration::from_millis(700))
        .await
        .expect("enable throttled");
    let wait = ReadOptions::new()
        .wait(Duration::from_secs(20))
        .poll_interval(poll);
    let reader = async {
        let first = q.read_json(&name, wait.clone()).await.expect("first read");
        let second = q.read_json(&name, wait.clone()).await.expect("second read");
        (first, second, Instant::now())
    };
    let sender = async {
        sleep(Duration::from_millis(300)).await;
        let a = q.send(&name, &json!("a"), SendOptions::new()).await;
        sleep(Duration::from_millis(150)).await;
        let b = q.send(&name, &json!("b"), SendOptions::new()).await;
        (a.expect("send a"), b.expect("send b"), Instant::now())
    };
    let ((first, second, got_b), (a, b, sent_b)) = tokio::join!(reader, sender);
    assert_eq!(first.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![a]);
    assert_eq!(second.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![b]);
    if listens {
        let late = got_b.duration_since(sent_b);
        assert!(
            late < Duration::from_secs(3),
            "got b {late:?} after it was sent"
        );
    }
    cleanup(q, &name).await;
}

/// A read waiting up to 20 s (looking again every `poll`) on the empty queue `name`, and a
/// send of `"b"` 150 ms after it starts: asserts that the read got exactly b; returns when
/// it did, and when b's send returned.
async fn read_while_b_is_sent(
    q: &dyn Queue,
    name: &pgmq_core::QueueName,
    poll: Duration,
) -> (Instant, Instant) {
    let wait = ReadOptions::new()
        .wait(Duration::from_secs(20))
        .poll_interval(poll);
    let reader = async {
        let got = q.read_json(name, wait).await.expect("waiting read");
        (got, Instant::now())
    };
    let sender = async {
        sleep(Duration::from_millis(150)).await;
        let b = q.send(name, &json!("b"), SendOptions::new()).await;
        (b.expect("send b"), Instant::now())
    };
    let ((got, got_at), (b, sent_at)) = tokio::join!(reader, sender);
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![b]);
    (got_at, sent_at)
}

/// A reader that starts waiting inside the throttle's window, after the notification that
/// opened it was committed (this process did not listen yet, so it never received it),
/// still gets a send the throttle leaves silent, soon after the window closes. (With a
/// throttle longer than the assumed default, the wake that follows learning the throttle
/// also rescues it; [`a_reader_looks_again_when_the_throttle_window_closes`] proves the look
/// at the window's end on its own.)
pub async fn a_reader_arriving_inside_the_throttle_window_gets_a_silent_send(q: &dyn Queue) {
    let name = fresh(q, "late_reader").await;
    q.enable_notify_insert(&name, Duration::from_millis(700))
        .await
        .expect("enable throttled");
    // This send notifies before anyone listens on the fresh queue's channel, and opens the
    // window; taking it leaves the queue empty. Only then does this process subscribe.
    q.send(&name, &json!("a"), SendOptions::new())
        .await
        .expect("send a");
    let popped = q.pop_json(&name, 1).await.expect("pop a");
    assert_eq!(popped.len(), 1, "{popped:?}");
    let (listens, poll) = interval(q, &name).await;
    // Under load the subscription may take long enough that b comes after the window
    // and notifies; the reader must get it either way.
    let (got_at, sent_at) = read_while_b_is_sent(q, &name, poll).await;
    if listens {
        // The window closes within 700 ms of the first send; the reader must not sleep
        // towards its 20 s deadline.
        let late = got_at.duration_since(sent_at);
        assert!(
            late < Duration::from_secs(3),
            "got b {late:?} after it was sent"
        );
    }
    cleanup(q, &name).await;
}

/// The look at a throttle window's end, on its own. This process listens on the queue's
/// channel and believes its throttle to be longer than the window: so neither the wake that
/// follows learning a longer throttle nor the trailing wake after the notification that
/// opened the window (due only after the longer throttle) comes before the window closes.
/// A reader that starts waiting inside the window must get the send it left silent once the
/// window closes, not seconds later. (The blocking twin has neither wake: it listens on its
/// own connection only while it waits, so it never received that notification.)
pub async fn a_reader_looks_again_when_the_throttle_window_closes(q: &dyn Queue) {
    const KNOWN: Duration = Duration::from_secs(8);
    const WINDOW: Duration = Duration::from_millis(1500);
    let name = fresh(q, "window_end").await;
    let (_, poll) = interval(q, &name).await;
    q.enable_notify_insert(&name, WINDOW)
        .await
        .expect("enable throttled");
    // Held to the end, so the process keeps listening on the channel with this belief.
    let held = q.subscribe(&name).await.expect("subscribe");
    held.set_throttle(KNOWN);
    // This send notifies and opens the window, which ends no sooner than `WINDOW` after
    // `before_a`; taking the message empties the queue. The pause lets the process take the
    // notification before the reader learns the real throttle, so its trailing wake comes
    // after `KNOWN`.
    let before_a = Instant::now();
    let a = q
        .send(&name, &json!("a"), SendOptions::new())
        .await
        .expect("send a");
    let popped = q.pop_json(&name, 1).await.expect("pop a");
    assert_eq!(popped.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![a]);
    sleep(Duration::from_millis(100)).await;
    let (got_at, sent_b) = read_while_b_is_sent(q, &name, poll).await;
    // Else b notified, and this case proved nothing about the window's end. (A send in
    // the window's last 50 ms notifies for the next window.)
    assert!(
        sent_b.duration_since(before_a) < WINDOW - Duration::from_millis(50),
        "b went out {:?} after a, not before the last stretch of the {WINDOW:?} window",
        sent_b.duration_since(before_a)
    );
    // The window closes within `WINDOW` of a's send returning; the next wake otherwise
    // comes `KNOWN` after the notification (or at the 20 s deadline). A reader that cannot
    // listen polls every 20 ms.
    let since_a = got_at.duration_since(before_a);
    assert!(
        since_a < WINDOW + Duration::from_millis(2500),
        "got b {since_a:?} after a was sent (the window closed after {WINDOW:?})"
    );
    drop(held);
    cleanup(q, &name).await;
}

/// Notifications of a queue that does not exist are `QueueNotFound`; a throttle past the
/// extension's column is rejected before any SQL.
pub async fn notification_settings_reject_bad_input(q: &dyn Queue) {
    let name = missing("nonotifyq");
    assert_not_found(
        q.enable_notify_insert(&name, DEFAULT_NOTIFY_THROTTLE).await,
        &name,
    );
    assert_not_found(q.disable_notify_insert(&name).await, &name);
    assert_not_found(q.readiness(&name).await, &name);
    let name = fresh(q, "badthrottle").await;
    let huge = Duration::from_secs(u64::from(u32::MAX));
    assert!(
        matches!(
            q.enable_notify_insert(&name, huge).await,
            Err(Error::InvalidArgument {
                argument: "notification throttle",
                ..
            })
        ),
        "a throttle of {huge:?} must be rejected"
    );
    let created = q
        .create(&name, CreateOptions::new().notify_insert(huge))
        .await;
    assert!(
        matches!(created, Err(Error::InvalidArgument { .. })),
        "{created:?}"
    );
    cleanup(q, &name).await;
}

/// The typed `read` with a wait parks the same way.
pub async fn a_typed_read_with_a_wait_gets_a_later_send(q: &dyn Queue) {
    let name = fresh(q, "typedwait").await;
    let (_, poll) = interval(q, &name).await;
    let reader = q.read::<String>(
        &name,
        ReadOptions::new()
            .wait(Duration::from_secs(20))
            .poll_interval(poll),
    );
    let sender = async {
        sleep(Duration::from_millis(200)).await;
        q.send(&name, &"typed".to_owned(), SendOptions::new())
            .await
            .expect("send")
    };
    let (got, id) = tokio::join!(reader, sender);
    let got = got.expect("typed read with wait");
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].msg_id, got[0].message.as_str()), (id, "typed"));
    cleanup(q, &name).await;
}
