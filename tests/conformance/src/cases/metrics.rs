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
