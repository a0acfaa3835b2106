use pgmq_core::{CreateOptions, Error, Queue, QueueExt, QueueName, SendOptions};
use serde_json::json;

use super::{assert_not_found, cleanup, fresh, length, missing};

/// Valid names are accepted, up to 47 characters, and stored lower-case.
pub async fn queue_name_accepts_valid_names_and_lowercases(q: &dyn Queue) {
    for ok in [
        "a",
        "_private",
        "Jobs_2026",
        &"x".repeat(QueueName::MAX_LEN),
    ] {
        let name = QueueName::new(ok).unwrap_or_else(|e| panic!("{ok:?} rejected: {e}"));
        assert_eq!(name.as_str(), ok.to_ascii_lowercase());
    }
    let name = crate::unique_queue_name("MiXeD");
    q.create(&name, CreateOptions::new()).await.expect("create");
    let listed = q.list_queues().await.expect("list");
    assert!(listed.iter().any(|i| i.queue_name == name.as_str()));
    assert!(name.as_str().chars().all(|c| !c.is_ascii_uppercase()));
    cleanup(q, &name).await;
}

/// Hostile and malformed names are rejected with a reason, before any SQL can be built.
pub async fn queue_name_rejects_hostile_and_malformed_names(q: &dyn Queue) {
    let long = "a".repeat(QueueName::MAX_LEN + 1);
    for bad in [
        "",
        "a;drop table x",
        "x'; DROP TABLE pgmq.meta; --",
        "quote\"d",
        "single'quote",
        "spa ce",
        "dash-ed",
        "dot.ted",
        "ünïcödé",
        "名前",
        "1starts_with_digit",
        long.as_str(),
    ] {
        match QueueName::new(bad) {
            Err(Error::InvalidQueueName { name, reason }) => {
                assert_eq!(name, bad);
                assert!(!reason.is_empty(), "no reason for {bad:?}");
            }
            other => panic!("{bad:?} was accepted: {other:?}"),
        }
    }
    // Nothing reached the database: pgmq.meta (if any) is intact and lists no such queue.
    let listed = q.list_queues().await.expect("list after hostile names");
    assert!(listed.iter().all(|i| !i.queue_name.contains(';')));
}

/// `Orders` and `orders` are the same queue, as in the pgmq extension.
pub async fn queue_names_are_case_insensitive(q: &dyn Queue) {
    let lower = crate::unique_queue_name("case");
    let upper = QueueName::new(lower.as_str().to_ascii_uppercase()).expect("upper");
    q.create(&upper, CreateOptions::new())
        .await
        .expect("create");
    let id = q
        .send(&lower, &json!(1), SendOptions::new())
        .await
        .expect("send");
    assert!(q.delete(&upper, id).await.expect("delete"));
    cleanup(q, &lower).await;
}

/// `install` can run many times, from many connections at once.
pub async fn install_is_idempotent_and_concurrent(q: &dyn Queue) {
    let runs = (0..6).map(|_| q.install());
    for r in futures_join(runs).await {
        r.expect("concurrent install");
    }
    q.install().await.expect("install again");
}

/// Creating an existing queue is a no-op that keeps its messages.
pub async fn create_is_idempotent(q: &dyn Queue) {
    let name = fresh(q, "idem").await;
    q.send(&name, &json!({"keep": true}), SendOptions::new())
        .await
        .expect("send");
    q.create(&name, CreateOptions::new())
        .await
        .expect("create again");
    assert_eq!(length(q, &name).await, 1);
    let listed = q.list_queues().await.expect("list");
    assert_eq!(
        listed
            .iter()
            .filter(|i| i.queue_name == name.as_str())
            .count(),
        1
    );
    cleanup(q, &name).await;
}

/// Many tasks creating the same queue at once all succeed and make one queue.
pub async fn create_concurrently_from_many_tasks_succeeds(q: &dyn Queue) {
    let name = crate::unique_queue_name("race");
    let runs = (0..8).map(|_| q.create(&name, CreateOptions::new()));
    for r in futures_join(runs).await {
        r.expect("concurrent create");
    }
    let listed = q.list_queues().await.expect("list");
    assert_eq!(
        listed
            .iter()
            .filter(|i| i.queue_name == name.as_str())
            .count(),
        1
    );
    cleanup(q, &name).await;
}

/// `create_unlogged` makes a working queue flagged unlogged in `pgmq.meta`.
pub async fn create_unlogged_marks_the_queue_unlogged(q: &dyn Queue) {
    let name = crate::unique_queue_name("unlogged");
    q.create_unlogged(&name).await.expect("create_unlogged");
    let info = q.list_queues().await.expect("list");
    let info = info
        .iter()
        .find(|i| i.queue_name == name.as_str())
        .expect("listed");
    assert!(info.is_unlogged);
    let id = q
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    assert!(q.delete(&name, id).await.expect("delete"));
    cleanup(q, &name).await;
}

/// A created queue is listed with its creation time, not partitioned, logged.
pub async fn list_queues_includes_a_created_queue(q: &dyn Queue) {
    let before = chrono::Utc::now() - chrono::TimeDelta::seconds(60);
    let name = fresh(q, "list").await;
    let listed = q.list_queues().await.expect("list");
    let info = listed
        .iter()
        .find(|i| i.queue_name == name.as_str())
        .expect("listed");
    assert!(!info.is_partitioned);
    assert!(!info.is_unlogged);
    assert!(
        info.created_at > before,
        "created_at {} too old",
        info.created_at
    );
    cleanup(q, &name).await;
    let listed = q.list_queues().await.expect("list");
    assert!(listed.iter().all(|i| i.queue_name != name.as_str()));
}

/// `drop_queue` returns true when it dropped something, then false.
pub async fn drop_queue_returns_whether_it_existed(q: &dyn Queue) {
    let name = fresh(q, "drop").await;
    q.send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    assert!(q.drop_queue(&name).await.expect("drop"));
    assert!(!q.drop_queue(&name).await.expect("drop again"));
    assert_not_found(q.metrics(&name).await, &name);
}

/// Dropping a queue that never existed is a plain `false`, not an error.
pub async fn drop_queue_of_unknown_queue_returns_false(q: &dyn Queue) {
    let name = missing("nodrop");
    assert!(!q.drop_queue(&name).await.expect("drop unknown"));
}

/// `purge` deletes every message, visible or not, and returns the count.
pub async fn purge_returns_the_count_and_empties_the_queue(q: &dyn Queue) {
    let name = fresh(q, "purge").await;
    q.send_batch(&name, &[1, 2, 3], SendOptions::new())
        .await
        .expect("send");
    q.send(&name, &4, SendOptions::new().delay_secs(3600))
        .await
        .expect("send delayed");
    assert_eq!(q.purge(&name).await.expect("purge"), 4);
    assert_eq!(length(q, &name).await, 0);
    assert_eq!(q.purge(&name).await.expect("purge empty"), 0);
    cleanup(q, &name).await;
}

/// Purging a queue that does not exist is `QueueNotFound`.
pub async fn purge_of_unknown_queue_is_queue_not_found(q: &dyn Queue) {
    let name = missing("nopurge");
    assert_not_found(q.purge(&name).await, &name);
}

/// Polls every future to completion concurrently, keeping order.
pub(crate) async fn futures_join<F, T>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<T>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
