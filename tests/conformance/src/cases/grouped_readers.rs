//! FIFO message groups under concurrency and over time: many grouped readers at once, a
//! grouped read that waits, and the dead-letter policy.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgmq_core::{
    GroupOrder, Message, Queue, QueueAttributes, ReadOptions, Worker, WorkerOptions, GROUP_HEADER,
};
use serde_json::json;
use tokio::time::{sleep, Instant};

use super::grouped::{ack, fifo_queue, grouped, send_to};
use super::lifecycle::futures_join;
use super::{cleanup, fresh, length};

/// What the concurrent readers share: who holds each group, the last id delivered per
/// group, and every id delivered.
#[derive(Default)]
struct Ledger {
    holders: HashMap<String, usize>,
    last: HashMap<String, i64>,
    delivered: HashSet<i64>,
}

fn group_of(m: &Message) -> String {
    let header = m.headers.as_ref().and_then(|h| h.get(GROUP_HEADER));
    header
        .and_then(|g| g.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Eight readers (the three strategies, batches of 1 to 3) loop over 12 groups of 8
/// interleaved messages, each holding what it read for a moment, then acknowledging it with
/// its receipts. No reader ever gets a group another holds; each group's messages come in
/// `msg_id` order; every message is delivered exactly once, never twice (`read_ct` 1).
pub async fn concurrent_grouped_readers_never_share_a_group(q: &dyn Queue) {
    let name = fifo_queue(q, "grp_concurrent").await;
    let (groups, per_group) = (12, 8);
    for i in 0..per_group {
        for g in 0..groups {
            send_to(q, &name, &format!("g{g}"), &format!("{g}.{i}")).await;
        }
    }
    let total = groups * per_group;
    let ledger = Mutex::new(Ledger::default());
    let deadline = Instant::now() + Duration::from_secs(60);
    let reader = |me: usize| {
        let (name, ledger) = (&name, &ledger);
        async move {
            let order = [
                GroupOrder::Oldest,
                GroupOrder::RoundRobin,
                GroupOrder::Heads,
            ][me % 3];
            let options = ReadOptions::new().qty(1 + me % 3).vt_secs(60);
            loop {
                if ledger.lock().expect("ledger").delivered.len() == total {
                    return;
                }
                assert!(Instant::now() < deadline, "reader {me} timed out");
                let got = grouped(q, name, order, options.clone()).await;
                if got.is_empty() {
                    sleep(Duration::from_millis(5)).await;
                    continue;
                }
                let mine: HashSet<String> = got.iter().map(group_of).collect();
                {
                    let mut l = ledger.lock().expect("ledger");
                    for g in &mine {
                        if let Some(other) = l.holders.insert(g.clone(), me) {
                            panic!("readers {other} and {me} both hold group {g}");
                        }
                    }
                    for m in &got {
                        assert_eq!(m.read_ct, 1, "{m:?} was delivered before");
                        assert!(l.delivered.insert(m.msg_id), "{} delivered twice", m.msg_id);
                        let last = l.last.insert(group_of(m), m.msg_id);
                        assert!(last < Some(m.msg_id), "{m:?} came after {last:?}");
                    }
                }
                sleep(Duration::from_millis(2 + (me as u64 % 3))).await;
                // Let go of the groups first: once acknowledged, another reader may take them.
                {
                    let mut l = ledger.lock().expect("ledger");
                    for g in &mine {
                        l.holders.remove(g);
                    }
                }
                ack(q, name, &got).await;
            }
        }
    };
    futures_join((0..8).map(reader)).await;
    assert_eq!(ledger.lock().expect("ledger").delivered.len(), total);
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
}

/// A grouped read with a wait on a queue whose only group is blocked parks like a plain read,
/// and wakes when a message of another group is sent.
pub async fn a_waiting_grouped_read_wakes_on_a_send(q: &dyn Queue) {
    let name = fifo_queue(q, "grp_wait").await;
    let listens = q.subscribe(&name).await.expect("subscribe").can_listen();
    send_to(q, &name, "A", "A1").await;
    send_to(q, &name, "A", "A2").await;
    let a1 = grouped(q, &name, GroupOrder::Heads, ReadOptions::new().vt_secs(60)).await;
    assert_eq!(a1.len(), 1);
    let poll = Duration::from_millis(if listens { 2000 } else { 20 });
    let wait = ReadOptions::new()
        .qty(10)
        .wait(Duration::from_secs(20))
        .poll_interval(poll);
    let reader = grouped(q, &name, GroupOrder::Oldest, wait);
    let sender = async {
        sleep(Duration::from_millis(400)).await;
        send_to(q, &name, "B", "B1").await
    };
    let started = Instant::now();
    let (got, b1) = tokio::join!(reader, sender);
    let ids: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
    assert_eq!(ids, [b1], "A2 waits behind A1; B1 is the one to get");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    cleanup(q, &name).await;
}

/// On a queue with a dead-letter policy, a grouped read never hands out a message received
/// `max_receive_count` times: it moves it to the dead-letter queue, as a plain read does, and
/// the group goes on with its next message.
pub async fn a_grouped_read_dead_letters_instead_of_handing_out(q: &dyn Queue) {
    let dlq = fresh(q, "grp_dl_dlq").await;
    let name = fifo_queue(q, "grp_dl").await;
    q.set_attributes(&name, QueueAttributes::new().dead_letter(dlq.clone(), 1))
        .await
        .expect("set dead-letter policy");
    let a1 = send_to(q, &name, "A", "A1").await;
    let a2 = send_to(q, &name, "A", "A2").await;
    let short = ReadOptions::new().vt(Duration::from_millis(300));
    let first = grouped(q, &name, GroupOrder::Oldest, short).await;
    assert_eq!(first.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [a1]);
    sleep(Duration::from_millis(600)).await;
    let next = grouped(q, &name, GroupOrder::Oldest, ReadOptions::new().qty(10)).await;
    let ids: Vec<i64> = next.iter().map(|m| m.msg_id).collect();
    assert_eq!(
        ids,
        [a2],
        "A1 was received once already: it is dead, A2 is next"
    );
    let dead = q
        .read_json(&dlq, ReadOptions::new().qty(10))
        .await
        .expect("read the dead-letter queue");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message, json!("A1"));
    cleanup(q, &name).await;
    cleanup(q, &dlq).await;
}

/// A `Worker` reading by group (`WorkerOptions::by_group`) with 8 handler slots, over 3
/// groups of 5 interleaved messages, handles each group's messages one at a time and in
/// `msg_id` order (no two handlers of a group ever overlap), while different groups do run
/// at once.
pub async fn a_grouped_worker_handles_each_group_in_order_one_at_a_time(q: Arc<dyn Queue>) {
    let name = fifo_queue(&*q, "grp_worker").await;
    let mut sent: HashMap<String, Vec<i64>> = HashMap::new();
    for i in 0..5 {
        for g in ["a", "b", "c"] {
            let id = send_to(&*q, &name, g, &format!("{g}{i}")).await;
            sent.entry(g.to_owned()).or_default().push(id);
        }
    }
    // (group, msg_id, start, end) of every handler run.
    let runs = Arc::new(Mutex::new(Vec::<(String, i64, Instant, Instant)>::new()));
    let log = Arc::clone(&runs);
    let options = WorkerOptions::new()
        .concurrency(8)
        .batch_size(8)
        .poll_interval(Duration::from_millis(20))
        .by_group();
    let worker = Worker::new(Arc::clone(&q), name.clone(), options).expect("worker");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        worker
            .run(
                move |m: Message| {
                    let log = Arc::clone(&log);
                    async move {
                        let start = Instant::now();
                        sleep(Duration::from_millis(30)).await;
                        let run = (group_of(&m), m.msg_id, start, Instant::now());
                        log.lock().expect("log").push(run);
                        Ok::<(), String>(())
                    }
                },
                async move {
                    let _ = stopped.await;
                },
            )
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while length(&*q, &name).await > 0 && Instant::now() < deadline {
        sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let summary = running.await.expect("worker task").expect("worker run");
    assert_eq!(summary.processed, 15, "{summary:?}");
    let runs = runs.lock().expect("log").clone();
    for (group, ids) in &sent {
        let mine: Vec<_> = runs.iter().filter(|r| &r.0 == group).collect();
        let order: Vec<i64> = mine.iter().map(|r| r.1).collect();
        assert_eq!(
            &order, ids,
            "group {group} handled in msg_id order, once each"
        );
        for pair in mine.windows(2) {
            assert!(
                pair[1].2 >= pair[0].3,
                "group {group}: two handlers overlapped"
            );
        }
    }
    let overlapping = runs
        .iter()
        .any(|a| runs.iter().any(|b| a.0 != b.0 && b.2 < a.3 && a.2 < b.3));
    assert!(overlapping, "different groups never ran at once: {runs:?}");
    cleanup(&*q, &name).await;
}
