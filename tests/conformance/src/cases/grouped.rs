//! FIFO message groups ([`ReadOptions::grouped`]): each strategy's batches, blocking and
//! unblocking, messages without a group, filters, bad input and the FIFO index. The expected
//! lists are what the pgmq extension 1.13's `read_grouped`, `read_grouped_rr` and
//! `read_grouped_head` return for the same queue.

use std::collections::HashMap;
use std::time::Duration;

use pgmq_core::{
    CreateOptions, Fence, GroupOrder, Message, Queue, QueueExt, QueueName, ReadOptions,
    SendOptions, GROUP_HEADER, MAX_BATCH, MAX_DELAY,
};
use serde_json::{json, Value};

use super::{assert_invalid, assert_not_found, cleanup, fresh, missing};
use crate::unique_queue_name;

/// A new queue made with the FIFO index grouped reads need.
pub(crate) async fn fifo_queue(q: &dyn Queue, tag: &str) -> QueueName {
    let name = unique_queue_name(tag);
    q.create(&name, CreateOptions::new().with_fifo_index())
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    name
}

/// Sends `body` with `headers`; returns its id.
pub(crate) async fn send_with(q: &dyn Queue, name: &QueueName, body: &str, headers: Value) -> i64 {
    q.send(name, &json!(body), SendOptions::new().headers(headers))
        .await
        .unwrap_or_else(|e| panic!("send {body}: {e:?}"))
}

/// Sends `body` to `group`; returns its id.
pub(crate) async fn send_to(q: &dyn Queue, name: &QueueName, group: &str, body: &str) -> i64 {
    send_with(q, name, body, json!({ GROUP_HEADER: group })).await
}

/// A grouped read; panics on error.
pub(crate) async fn grouped(
    q: &dyn Queue,
    name: &QueueName,
    order: GroupOrder,
    options: ReadOptions,
) -> Vec<Message> {
    q.read_json(name, options.grouped(order))
        .await
        .unwrap_or_else(|e| panic!("{order:?} read: {e:?}"))
}

/// The bodies of `got` (each a string), in the order returned.
fn bodies(got: &[Message]) -> Vec<String> {
    got.iter()
        .map(|m| m.message.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Deletes `got` with its receipts; every one must act.
pub(crate) async fn ack(q: &dyn Queue, name: &QueueName, got: &[Message]) {
    let receipts: Vec<_> = got.iter().map(Message::receipt).collect();
    let fences = q.delete_receipts(name, &receipts).await.expect("ack");
    assert!(fences.iter().all(|f| *f == Fence::Acted), "{fences:?}");
}

/// A1 B1 A2 C1 B2 A3, sent one by one; the bodies name them.
async fn three_groups(q: &dyn Queue, tag: &str) -> QueueName {
    let name = fifo_queue(q, tag).await;
    for (group, body) in [
        ("A", "A1"),
        ("B", "B1"),
        ("A", "A2"),
        ("C", "C1"),
        ("B", "B2"),
        ("A", "A3"),
    ] {
        send_to(q, &name, group, body).await;
    }
    name
}

/// On A1 B1 A2 C1 B2 A3 (groups A, B, C), a read of 4 then a read of 10 return, as the
/// extension's functions do (and listed in `msg_id` order, as every read is):
/// - `Oldest` (`read_grouped`): A1 A2 A3 B1 (A's whole run, then B's oldest), then C1 (A and
///   B are blocked behind A3 and B1);
/// - `RoundRobin` (`read_grouped_rr`): A1 B1 A2 C1 (every group's first, then A's second),
///   then nothing (every group's oldest is in flight);
/// - `Heads` (`read_grouped_head`): A1 B1 C1 (one per group), then nothing.
pub async fn grouped_reads_fill_a_batch_as_the_extension_does(q: &dyn Queue) {
    let expected: [(GroupOrder, &[&str], &[&str]); 3] = [
        (GroupOrder::Oldest, &["A1", "B1", "A2", "A3"], &["C1"]),
        (GroupOrder::RoundRobin, &["A1", "B1", "A2", "C1"], &[]),
        (GroupOrder::Heads, &["A1", "B1", "C1"], &[]),
    ];
    for (order, first, second) in expected {
        let name = three_groups(q, "grp_order").await;
        let got = grouped(q, &name, order, ReadOptions::new().qty(4)).await;
        assert_eq!(bodies(&got), first, "{order:?}, first read");
        assert!(got.iter().all(|m| m.read_ct == 1), "{got:?}");
        let ids: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "not in msg_id order");
        let got = grouped(q, &name, order, ReadOptions::new().qty(10)).await;
        assert_eq!(bodies(&got), second, "{order:?}, second read");
        cleanup(q, &name).await;
    }
}

/// A group stays blocked while its oldest message is in flight: acknowledging it (with its
/// receipt) unblocks the group, and so does its visibility timeout passing (the message
/// comes back first, with `read_ct` 2, and its old receipt is stale).
pub async fn a_group_is_blocked_while_its_oldest_message_is_in_flight(q: &dyn Queue) {
    let name = fifo_queue(q, "grp_block").await;
    for (group, body) in [("A", "A1"), ("B", "B1"), ("A", "A2"), ("B", "B2")] {
        send_to(q, &name, group, body).await;
    }
    let short = ReadOptions::new().qty(10).vt(Duration::from_millis(600));
    let first = grouped(q, &name, GroupOrder::Heads, short).await;
    assert_eq!(bodies(&first), ["A1", "B1"]);
    for order in [
        GroupOrder::Oldest,
        GroupOrder::RoundRobin,
        GroupOrder::Heads,
    ] {
        let got = grouped(q, &name, order, ReadOptions::new().qty(10)).await;
        assert!(
            got.is_empty(),
            "{order:?} got {got:?} while A1 and B1 are in flight"
        );
    }
    ack(q, &name, &first[..1]).await;
    let a2 = grouped(q, &name, GroupOrder::Oldest, ReadOptions::new().qty(10)).await;
    assert_eq!(bodies(&a2), ["A2"], "acknowledging A1 unblocks A, not B");
    tokio::time::sleep(Duration::from_millis(900)).await;
    let b = grouped(q, &name, GroupOrder::Oldest, ReadOptions::new().qty(10)).await;
    assert_eq!(
        bodies(&b),
        ["B1", "B2"],
        "B1's timeout passed: B is open again"
    );
    assert_eq!((b[0].read_ct, b[1].read_ct), (2, 1));
    let stale = q.delete_receipt(&name, first[1].receipt()).await;
    assert_eq!(stale.expect("ack"), Fence::Stale);
    ack(q, &name, &b).await;
    ack(q, &name, &a2).await;
    assert!(
        grouped(q, &name, GroupOrder::Heads, ReadOptions::new().qty(10))
            .await
            .is_empty()
    );
    cleanup(q, &name).await;
}

/// As in the extension, messages without a group (no headers, headers without the key, a
/// `null` key, headers that are not an object, or the key `"_default_fifo_group"`) are one
/// group, delivered one at a time in order. A key that is neither a string nor `null` is
/// refused at the send (`InvalidArgument("headers")`, nothing written); the extension would
/// group it by its JSON text.
pub async fn messages_without_a_group_share_one_group_as_in_the_extension(q: &dyn Queue) {
    let name = fifo_queue(q, "grp_default").await;
    let none = q
        .send(&name, &json!("N1"), SendOptions::new())
        .await
        .expect("send");
    send_with(q, &name, "N2", json!({"other": 1})).await;
    send_to(q, &name, "A", "A1").await;
    let numeric = SendOptions::new().headers(json!({ GROUP_HEADER: 5 }));
    assert_invalid(q.send(&name, &json!("F5"), numeric).await, "headers");
    send_with(q, &name, "N3", json!({ GROUP_HEADER: null })).await;
    send_with(q, &name, "N4", json!([GROUP_HEADER, "A"])).await;
    send_to(q, &name, "_default_fifo_group", "N5").await;
    let rounds: [&[&str]; 5] = [&["N1", "A1"], &["N2"], &["N3"], &["N4"], &["N5"]];
    for (i, expected) in rounds.iter().enumerate() {
        let got = grouped(q, &name, GroupOrder::Heads, ReadOptions::new().qty(10)).await;
        assert_eq!(bodies(&got), *expected, "round {i}");
        if i == 0 {
            assert_eq!(got[0].msg_id, none);
        }
        ack(q, &name, &got).await;
    }
    cleanup(q, &name).await;
}

/// With a filter, a group is served only from its oldest message on, while its messages
/// match: a group whose oldest message does not match is left alone entirely.
pub async fn a_filtered_grouped_read_serves_a_group_only_from_its_oldest_message(q: &dyn Queue) {
    let name = fifo_queue(q, "grp_filter").await;
    let mut ids = HashMap::new();
    for (group, body, kind) in [
        ("A", "A1", 1),
        ("A", "A2", 2),
        ("B", "B1", 2),
        ("B", "B2", 1),
    ] {
        let id = q
            .send(
                &name,
                &json!({"name": body, "kind": kind}),
                SendOptions::new().headers(json!({ GROUP_HEADER: group })),
            )
            .await
            .expect("send");
        ids.insert(body, id);
    }
    let kind2 = ReadOptions::new().qty(10).filter(json!({"kind": 2}));
    for order in [
        GroupOrder::Oldest,
        GroupOrder::RoundRobin,
        GroupOrder::Heads,
    ] {
        let got = grouped(q, &name, order, kind2.clone().vt_secs(0)).await;
        let got: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
        assert_eq!(
            got,
            [ids["B1"]],
            "{order:?}: A2 matches but waits behind A1; B2 does not"
        );
    }
    cleanup(q, &name).await;
}

/// A grouped read checks its input as a plain read does, before any SQL: a quantity outside
/// `1..=MAX_BATCH`, a visibility timeout over the maximum; an unknown queue is
/// `QueueNotFound`.
pub async fn grouped_read_bad_input_is_rejected(q: &dyn Queue) {
    let name = fifo_queue(q, "grp_bad").await;
    for order in [
        GroupOrder::Oldest,
        GroupOrder::RoundRobin,
        GroupOrder::Heads,
    ] {
        for qty in [0, MAX_BATCH + 1] {
            let r = q
                .read_json(&name, ReadOptions::new().qty(qty).grouped(order))
                .await;
            assert_invalid(r, "quantity");
        }
        let too_long = ReadOptions::new().vt(MAX_DELAY + Duration::from_secs(1));
        assert_invalid(
            q.read_json(&name, too_long.grouped(order)).await,
            "visibility timeout",
        );
        let unknown = missing("grp_unknown");
        assert_not_found(
            q.read_json(&unknown, ReadOptions::new().grouped(order))
                .await,
            &unknown,
        );
    }
    cleanup(q, &name).await;
}

/// A queue made without the FIFO index (the default) refuses grouped reads with
/// `InvalidArgument` naming the fix, and the message stays; `create_fifo_index` adds the
/// index, after which grouped reads work, and calling it again changes nothing. On a queue
/// that does not exist, or no longer does, it is `QueueNotFound`.
pub async fn create_fifo_index_is_idempotent_and_needs_the_queue(q: &dyn Queue) {
    let name = fresh(q, "grp_index").await;
    send_to(q, &name, "A", "A0").await;
    let refused = q
        .read_json(&name, ReadOptions::new().grouped(GroupOrder::Heads))
        .await;
    assert_invalid(refused, "grouped");
    let plain = q.read_json(&name, ReadOptions::new()).await.expect("read");
    assert_eq!(
        bodies(&plain),
        ["A0"],
        "the message stayed and reads plainly"
    );
    ack(q, &name, &plain).await;
    for _ in 0..2 {
        q.create_fifo_index(&name).await.expect("create_fifo_index");
    }
    send_to(q, &name, "A", "A1").await;
    let got = grouped(q, &name, GroupOrder::Heads, ReadOptions::new()).await;
    assert_eq!(bodies(&got), ["A1"]);
    cleanup(q, &name).await;
    assert_not_found(q.create_fifo_index(&name).await, &name);
    let unknown = missing("grp_noindex");
    assert_not_found(q.create_fifo_index(&unknown).await, &unknown);
}
