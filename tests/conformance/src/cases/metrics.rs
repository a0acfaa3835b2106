use chrono::{TimeDelta, Utc};
use pgmq_core::{Queue, QueueExt, ReadOptions, SendOptions};
use serde_json::json;

use super::{assert_not_found, cleanup, fresh, missing};

/// Metrics count all and visible messages, age them, and total every message ever sent.
pub async fn metrics_report_lengths_ages_and_totals(q: &dyn Queue) {
    let name = fresh(q, "metrics").await;
    q.send_batch(&name, &[1, 2, 3, 4], SendOptions::new())
        .await
        .expect("send");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let newest = q
        .send(&name, &json!(5), SendOptions::new())
        .await
        .expect("send");
    q.read_json(&name, ReadOptions::new().qty(2))
        .await
        .expect("read");
    q.delete(&name, newest).await.expect("delete");
    let before = Utc::now() - TimeDelta::seconds(5);
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!(m.queue_name, name.as_str());
    assert_eq!(m.queue_length, 4);
    assert_eq!(m.queue_visible_length, 2);
    assert_eq!(m.total_messages, 5);
    let oldest = m.oldest_msg_age_sec.expect("oldest age");
    assert!((1..60).contains(&oldest), "oldest age {oldest}");
    assert_eq!(
        m.newest_msg_age_sec,
        Some(oldest),
        "newest remaining is from the same batch"
    );
    assert!(m.scrape_time > before);
    cleanup(q, &name).await;
}

/// An empty queue has length 0 and no ages; its total still counts past messages.
pub async fn metrics_of_an_empty_queue_have_no_ages(q: &dyn Queue) {
    let name = fresh(q, "metricsempty").await;
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!(
        (m.queue_length, m.queue_visible_length, m.total_messages),
        (0, 0, 0)
    );
    assert_eq!((m.newest_msg_age_sec, m.oldest_msg_age_sec), (None, None));
    q.send(&name, &1, SendOptions::new()).await.expect("send");
    q.pop_json(&name, 1).await.expect("pop");
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!((m.queue_length, m.total_messages), (0, 1));
    cleanup(q, &name).await;
}

/// `metrics_all` has an entry for each queue.
pub async fn metrics_all_includes_every_queue(q: &dyn Queue) {
    let a = fresh(q, "mall_a").await;
    let b = fresh(q, "mall_b").await;
    q.send(&b, &1, SendOptions::new()).await.expect("send");
    let all = q.metrics_all().await.expect("metrics_all");
    let find = |n: &pgmq_core::QueueName| all.iter().find(|m| m.queue_name == n.as_str()).cloned();
    assert_eq!(find(&a).expect("a listed").queue_length, 0);
    assert_eq!(find(&b).expect("b listed").queue_length, 1);
    cleanup(q, &a).await;
    cleanup(q, &b).await;
}

/// Metrics of a queue that does not exist are `QueueNotFound`.
pub async fn metrics_of_unknown_queue_is_queue_not_found(q: &dyn Queue) {
    let name = missing("nometrics");
    assert_not_found(q.metrics(&name).await, &name);
}

/// Visible, in-flight (read, not yet visible again) and delayed (never read, not yet
/// visible) messages are counted apart, and together they are the queue's length.
pub async fn metrics_count_visible_in_flight_and_delayed(q: &dyn Queue) {
    let name = fresh(q, "mcounts").await;
    q.send_batch(&name, &[1, 2, 3, 4, 5], SendOptions::new())
        .await
        .expect("send now");
    q.send_batch(&name, &[6, 7], SendOptions::new().delay_secs(3600))
        .await
        .expect("send delayed");
    let long = || ReadOptions::new().vt_secs(3600);
    let read = q.read_json(&name, long().qty(3)).await.expect("read");
    assert_eq!(read.len(), 3);
    // Read again and made visible at once: visible, not in flight.
    let back = q.read_json(&name, long()).await.expect("read one");
    q.set_vt(&name, back[0].msg_id, pgmq_core::VisibleAt::now())
        .await
        .expect("set_vt");
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!(m.queue_length, 7);
    assert_eq!(
        (
            m.queue_visible_length,
            m.queue_in_flight_length,
            m.queue_delayed_length
        ),
        (2, 3, 2),
        "(visible, in flight, delayed) in {m:?}"
    );
    assert_eq!(
        m.queue_visible_length + m.queue_in_flight_length + m.queue_delayed_length,
        m.queue_length
    );
    assert_eq!(m.total_messages, 7);
    assert_eq!(
        (m.dead_letter_queue, m.dead_letter_queue_length),
        (None, None)
    );
    cleanup(q, &name).await;
}

/// The age of the oldest visible message counts only visible messages, from when they were
/// sent; with nothing visible there is none.
pub async fn metrics_report_the_age_of_the_oldest_visible_message(q: &dyn Queue) {
    let name = fresh(q, "mvisage").await;
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!(m.oldest_visible_msg_age_sec, None, "empty queue");
    q.send(&name, &json!("hidden"), SendOptions::new().delay_secs(3600))
        .await
        .expect("send delayed");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    q.send(&name, &json!("visible"), SendOptions::new())
        .await
        .expect("send");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let m = q.metrics(&name).await.expect("metrics");
    let oldest = m.oldest_msg_age_sec.expect("oldest age");
    let visible = m
        .oldest_visible_msg_age_sec
        .expect("a visible message has an age");
    assert!(
        (1..60).contains(&visible),
        "oldest visible age {visible} in {m:?}"
    );
    assert!(
        visible < oldest,
        "the older message is invisible, so it does not count: {m:?}"
    );
    q.read_json(&name, ReadOptions::new().vt_secs(3600))
        .await
        .expect("read");
    let m = q.metrics(&name).await.expect("metrics");
    assert_eq!(m.queue_length, 2);
    assert_eq!(
        m.oldest_visible_msg_age_sec, None,
        "only invisible messages left: {m:?}"
    );
    cleanup(q, &name).await;
}

/// `metrics_all` answers for every queue at once, in name order, each with its own numbers,
/// the same as `metrics` gives for it; a dropped queue is no longer in it.
pub async fn metrics_all_returns_every_queue_in_one_call(q: &dyn Queue) {
    let a = fresh(q, "mone_a").await;
    let b = fresh(q, "mone_b").await;
    let c = fresh(q, "mone_c").await;
    q.send_batch(&b, &[1, 2], SendOptions::new())
        .await
        .expect("send b");
    q.send_batch(&c, &[1, 2], SendOptions::new())
        .await
        .expect("send c");
    q.send(&c, &3, SendOptions::new().delay_secs(3600))
        .await
        .expect("send c delayed");
    q.read_json(&c, ReadOptions::new().vt_secs(3600))
        .await
        .expect("read c");
    let all = q.metrics_all().await.expect("metrics_all");
    let position = |n: &pgmq_core::QueueName| {
        all.iter()
            .position(|m| m.queue_name == n.as_str())
            .unwrap_or_else(|| panic!("{n} missing from metrics_all"))
    };
    let (pa, pb, pc) = (position(&a), position(&b), position(&c));
    assert!(pa < pb && pb < pc, "not in name order: {pa}, {pb}, {pc}");
    let counts = |m: &pgmq_core::QueueMetrics| {
        (
            m.queue_length,
            m.queue_visible_length,
            m.queue_in_flight_length,
            m.queue_delayed_length,
            m.total_messages,
        )
    };
    assert_eq!(counts(&all[pa]), (0, 0, 0, 0, 0), "{:?}", all[pa]);
    assert_eq!(counts(&all[pb]), (2, 2, 0, 0, 2), "{:?}", all[pb]);
    assert_eq!(counts(&all[pc]), (3, 1, 1, 1, 3), "{:?}", all[pc]);
    for (name, at) in [(&a, pa), (&b, pb), (&c, pc)] {
        let one = q.metrics(name).await.expect("metrics");
        assert_eq!(counts(&one), counts(&all[at]), "{name}");
        assert_eq!(
            one.oldest_msg_age_sec.is_some(),
            all[at].oldest_msg_age_sec.is_some()
        );
        assert_eq!(all[at].dead_letter_queue_length, None);
    }
    cleanup(q, &a).await;
    let all = q.metrics_all().await.expect("metrics_all");
    assert!(
        all.iter().all(|m| m.queue_name != a.as_str()),
        "{a} was dropped"
    );
    cleanup(q, &b).await;
    cleanup(q, &c).await;
}
