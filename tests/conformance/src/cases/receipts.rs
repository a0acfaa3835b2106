use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pgmq_core::{
    Fence, Message, Queue, QueueExt, QueueName, ReadOptions, Receipt, SendOptions, VisibleAt,
    MAX_BATCH,
};
use serde_json::json;

use super::{assert_invalid, assert_not_found, cleanup, fresh, length, missing};

/// A visibility timeout short enough to wait out in a test.
const SHORT_VT: Duration = Duration::from_millis(400);

/// Long enough for [`SHORT_VT`] to have run out.
const PAST_SHORT_VT: Duration = Duration::from_millis(900);

/// Reads exactly one message for `vt`, panicking otherwise.
async fn read_one(q: &dyn Queue, name: &QueueName, vt: Duration) -> Message {
    let mut got = q
        .read_json(name, ReadOptions::new().vt(vt))
        .await
        .expect("read");
    assert_eq!(got.len(), 1, "expected one message, read {got:?}");
    got.remove(0)
}

/// Whether a read now finds nothing (without keeping what it finds: it is released).
async fn nothing_visible(q: &dyn Queue, name: &QueueName) -> bool {
    let got = q
        .read_json(name, ReadOptions::new().qty(MAX_BATCH))
        .await
        .expect("read");
    let ids: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
    q.set_vt_batch(name, &ids, VisibleAt::now())
        .await
        .expect("release");
    got.is_empty()
}

/// A message, read once (receipt `first`), then read again by another reader once the
/// first reader's timeout ran out (receipt `second`, hidden for a minute).
async fn read_twice(q: &dyn Queue, name: &QueueName) -> (i64, Receipt, Receipt) {
    let id = q
        .send(name, &json!({"job": 1}), SendOptions::new())
        .await
        .expect("send");
    let first = read_one(q, name, SHORT_VT).await.receipt();
    tokio::time::sleep(PAST_SHORT_VT).await;
    let second = read_one(q, name, Duration::from_secs(60)).await.receipt();
    assert_eq!(first, Receipt::new(id, 1));
    assert_eq!(second, Receipt::new(id, 2));
    (id, first, second)
}

/// Every read (`read_json`, typed `read`, a read with a wait) hands out messages whose
/// receipt is their id and the read count of that read.
pub async fn a_read_message_carries_its_receipt(q: &dyn Queue) {
    let name = fresh(q, "rcpt").await;
    let ids = q
        .send_batch(&name, &[1, 2], SendOptions::new())
        .await
        .expect("send");
    let json = read_one(q, &name, SHORT_VT).await;
    assert_eq!(json.receipt(), Receipt::new(json.msg_id, json.read_ct));
    assert_eq!(json.receipt(), Receipt::new(ids[0], 1));
    assert_eq!(Receipt::from(&json), json.receipt());
    let typed: Vec<Message<i32>> = q
        .read(&name, ReadOptions::new().vt_secs(60))
        .await
        .expect("typed read");
    assert_eq!(typed.len(), 1);
    assert_eq!(typed[0].receipt(), Receipt::new(ids[1], 1));
    tokio::time::sleep(PAST_SHORT_VT).await;
    let waited = q
        .read_json(&name, ReadOptions::new().wait(Duration::from_secs(5)))
        .await
        .expect("read with wait");
    assert_eq!(waited.len(), 1);
    assert_eq!(waited[0].receipt(), Receipt::new(ids[0], 2));
    cleanup(q, &name).await;
}

/// A receipt from the latest read deletes the message and answers `Acted`; the same receipt
/// again answers `Stale`.
pub async fn delete_with_a_fresh_receipt_acts(q: &dyn Queue) {
    let name = fresh(q, "rcptdel").await;
    q.send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let receipt = read_one(q, &name, Duration::from_secs(60)).await.receipt();
    assert_eq!(
        q.delete_receipt(&name, receipt).await.expect("delete"),
        Fence::Acted
    );
    assert_eq!(length(q, &name).await, 0);
    assert_eq!(
        q.delete_receipt(&name, receipt)
            .await
            .expect("delete again"),
        Fence::Stale
    );
    cleanup(q, &name).await;
}

/// A receipt from the latest read archives the message, as read, and answers `Acted`.
pub async fn archive_with_a_fresh_receipt_acts(q: &dyn Queue) {
    let name = fresh(q, "rcptarch").await;
    let id = q
        .send(&name, &json!({"keep": "me"}), SendOptions::new())
        .await
        .expect("send");
    let read = read_one(q, &name, Duration::from_secs(60)).await;
    assert_eq!(
        q.archive_receipt(&name, read.receipt())
            .await
            .expect("archive"),
        Fence::Acted
    );
    assert_eq!(length(q, &name).await, 0);
    let archived = q.read_archive(&name, &[id]).await.expect("read_archive");
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].message.receipt(), read.receipt());
    assert_eq!(archived[0].message.message, json!({"keep": "me"}));
    assert_eq!(
        q.archive_receipt(&name, read.receipt())
            .await
            .expect("archive again"),
        Fence::Stale
    );
    cleanup(q, &name).await;
}

/// `set_vt` with a receipt extends the claim and keeps `read_ct`, so the same receipt then
/// deletes the message: how a long handler holds on to its work.
pub async fn set_vt_with_a_receipt_extends_and_keeps_the_receipt_valid(q: &dyn Queue) {
    let name = fresh(q, "rcptext").await;
    q.send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let receipt = read_one(q, &name, SHORT_VT).await.receipt();
    let before = Utc::now();
    let extended = q
        .set_vt_receipt(&name, receipt, VisibleAt::secs(60))
        .await
        .expect("set_vt_receipt")
        .expect("a fresh receipt acts");
    assert_eq!(
        extended.receipt(),
        receipt,
        "set_vt must not count as a read"
    );
    assert!(
        extended.vt > before + TimeDelta::seconds(55),
        "vt {} not ~60 s ahead",
        extended.vt
    );
    tokio::time::sleep(PAST_SHORT_VT).await;
    assert!(
        nothing_visible(q, &name).await,
        "the extension did not hold past the first timeout"
    );
    assert_eq!(
        q.delete_receipt(&name, receipt)
            .await
            .expect("delete after extending"),
        Fence::Acted
    );
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
}

/// A receipt whose visibility timeout ran out still acts as long as nobody has read the
/// message since: the fence is the read count, not the clock.
pub async fn a_receipt_still_acts_after_its_timeout_if_nobody_read_the_message(q: &dyn Queue) {
    let name = fresh(q, "rcptlate").await;
    q.send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let receipt = read_one(q, &name, SHORT_VT).await.receipt();
    tokio::time::sleep(PAST_SHORT_VT).await;
    assert_eq!(
        q.delete_receipt(&name, receipt).await.expect("delete"),
        Fence::Acted
    );
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
}

/// Once a message's timeout ran out and another reader got it, the first reader's receipt
/// is stale: its delete, archive and set_vt answer stale and change nothing, and the second
/// reader's receipt still works.
pub async fn a_receipt_goes_stale_once_the_message_is_read_again(q: &dyn Queue) {
    let name = fresh(q, "rcptstale").await;
    let (id, first, second) = read_twice(q, &name).await;

    assert_eq!(
        q.delete_receipt(&name, first).await.expect("stale delete"),
        Fence::Stale
    );
    assert_eq!(
        length(q, &name).await,
        1,
        "a stale delete removed the message"
    );

    assert_eq!(
        q.archive_receipt(&name, first)
            .await
            .expect("stale archive"),
        Fence::Stale
    );
    assert!(q
        .read_archive(&name, &[id])
        .await
        .expect("read_archive")
        .is_empty());
    assert_eq!(
        length(q, &name).await,
        1,
        "a stale archive moved the message"
    );

    assert_eq!(
        q.set_vt_receipt(&name, first, VisibleAt::now())
            .await
            .expect("stale set_vt"),
        None
    );
    assert!(
        nothing_visible(q, &name).await,
        "a stale set_vt released the second reader's message"
    );

    assert_eq!(
        q.archive_receipt(&name, second)
            .await
            .expect("second reader's archive"),
        Fence::Acted
    );
    let archived = q.read_archive(&name, &[id]).await.expect("read_archive");
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].message.receipt(), second);
    assert_eq!(archived[0].message.message, json!({"job": 1}));
    cleanup(q, &name).await;
}

/// A receipt for a message already acknowledged, or that never existed, is answered stale
/// by every receipt operation, not with an error.
pub async fn a_receipt_for_a_missing_message_is_stale_not_an_error(q: &dyn Queue) {
    let name = fresh(q, "rcptgone").await;
    let id = q
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let gone = read_one(q, &name, Duration::from_secs(60)).await.receipt();
    assert!(q.delete(&name, id).await.expect("unfenced delete"));
    let never = Receipt::new(id + 1_000_000, 1);
    for receipt in [gone, never] {
        assert_eq!(
            q.delete_receipt(&name, receipt).await.expect("delete"),
            Fence::Stale
        );
        assert_eq!(
            q.archive_receipt(&name, receipt).await.expect("archive"),
            Fence::Stale
        );
        assert_eq!(
            q.set_vt_receipt(&name, receipt, VisibleAt::secs(10))
                .await
                .expect("set_vt"),
            None
        );
    }
    assert!(q
        .read_archive(&name, &[id, never.msg_id])
        .await
        .expect("read_archive")
        .is_empty());
    cleanup(q, &name).await;
}

/// Three messages read once (`fresh` receipts), and for the middle one a stale receipt from
/// before a second read (whose receipt is last in `fresh`).
async fn fresh_and_stale(q: &dyn Queue, name: &QueueName) -> (Vec<i64>, Vec<Receipt>, Receipt) {
    let ids = q
        .send_batch(name, &[1, 2, 3], SendOptions::new())
        .await
        .expect("send");
    let read = q
        .read_json(name, ReadOptions::new().vt_secs(60).qty(3))
        .await
        .expect("read");
    let mut fresh: Vec<Receipt> = read.iter().map(Message::receipt).collect();
    assert_eq!(fresh.len(), 3);
    let stale = fresh.remove(1);
    // The middle message's timeout runs out and another reader gets it.
    q.set_vt_batch(name, &[stale.msg_id], VisibleAt::now())
        .await
        .expect("release");
    let again = read_one(q, name, Duration::from_secs(60)).await.receipt();
    assert_eq!(again, Receipt::new(stale.msg_id, 2));
    fresh.push(again);
    (ids, fresh, stale)
}

/// `delete_receipts` answers per receipt, in input order, for a mix of fresh, stale and
/// unknown receipts, and deletes only the fresh ones. No receipts, no answers.
pub async fn delete_receipts_answers_each_receipt_in_input_order(q: &dyn Queue) {
    let name = fresh(q, "rcptdelb").await;
    let (ids, fresh, stale) = fresh_and_stale(q, &name).await;
    let unknown = Receipt::new(ids[2] + 1_000_000, 1);
    let answers = q
        .delete_receipts(&name, &[fresh[1], stale, unknown, fresh[0]])
        .await
        .expect("delete_receipts");
    assert_eq!(
        answers,
        [Fence::Acted, Fence::Stale, Fence::Stale, Fence::Acted]
    );
    assert_eq!(length(q, &name).await, 1);
    assert!(q
        .delete_receipts(&name, &[])
        .await
        .expect("empty")
        .is_empty());
    assert_eq!(
        q.delete_receipts(&name, &[stale, fresh[2]])
            .await
            .expect("delete_receipts"),
        [Fence::Stale, Fence::Acted]
    );
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
}

/// `archive_receipts` answers per receipt, in input order, and archives only the messages
/// whose receipts are fresh.
pub async fn archive_receipts_answers_each_receipt_in_input_order(q: &dyn Queue) {
    let name = fresh(q, "rcptarchb").await;
    let (ids, fresh, stale) = fresh_and_stale(q, &name).await;
    let answers = q
        .archive_receipts(&name, &[stale, fresh[2], fresh[0]])
        .await
        .expect("archive_receipts");
    assert_eq!(answers, [Fence::Stale, Fence::Acted, Fence::Acted]);
    let archived: Vec<Receipt> = q
        .read_archive(&name, &ids)
        .await
        .expect("read_archive")
        .iter()
        .map(|a| a.message.receipt())
        .collect();
    assert_eq!(archived, [fresh[0], fresh[2]]);
    assert_eq!(length(q, &name).await, 1);
    assert!(q
        .archive_receipts(&name, &[])
        .await
        .expect("empty")
        .is_empty());
    cleanup(q, &name).await;
}

/// `set_vt_receipts` answers per receipt, in input order: the updated message for a fresh
/// receipt, `None` for a stale or unknown one, whose message keeps its visibility.
pub async fn set_vt_receipts_answers_each_receipt_in_input_order(q: &dyn Queue) {
    let name = fresh(q, "rcptvtb").await;
    let (ids, fresh, stale) = fresh_and_stale(q, &name).await;
    let unknown = Receipt::new(ids[2] + 1_000_000, 1);
    let answers = q
        .set_vt_receipts(
            &name,
            &[fresh[1], unknown, stale, fresh[0]],
            VisibleAt::now(),
        )
        .await
        .expect("set_vt_receipts");
    let answered: Vec<Option<Receipt>> = answers
        .iter()
        .map(|m| m.as_ref().map(Message::receipt))
        .collect();
    assert_eq!(answered, [Some(fresh[1]), None, None, Some(fresh[0])]);
    let visible = q
        .read_json(&name, ReadOptions::new().vt_secs(60).qty(3))
        .await
        .expect("read");
    let visible_ids: Vec<i64> = visible.iter().map(|m| m.msg_id).collect();
    assert_eq!(
        visible_ids,
        [ids[0], ids[2]],
        "only the fresh receipts released"
    );
    assert!(q
        .set_vt_receipts(&name, &[], VisibleAt::now())
        .await
        .expect("empty")
        .is_empty());
    cleanup(q, &name).await;
}

/// A receipt serialised with serde (to hand to another process) and read back is the same
/// receipt, and acts.
pub async fn a_receipt_round_trips_through_serde_json(q: &dyn Queue) {
    let name = fresh(q, "rcptjson").await;
    let id = q
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let receipt = read_one(q, &name, Duration::from_secs(60)).await.receipt();
    let wire = serde_json::to_string(&receipt).expect("serialise");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&wire).expect("json"),
        json!({"msg_id": id, "read_ct": 1})
    );
    let back: Receipt = serde_json::from_str(&wire).expect("deserialise");
    assert_eq!(back, receipt);
    assert_eq!(
        q.delete_receipt(&name, back).await.expect("delete"),
        Fence::Acted
    );
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
}

/// More receipts than `MAX_BATCH` in one delete, archive or set_vt is `InvalidArgument`
/// (`"receipt list"`), and nothing changes.
pub async fn acknowledging_more_receipts_than_the_maximum_is_rejected(q: &dyn Queue) {
    let name = fresh(q, "rcptbig").await;
    q.send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let receipt = read_one(q, &name, Duration::from_secs(60)).await.receipt();
    let mut receipts: Vec<Receipt> = (1..=MAX_BATCH as i64)
        .map(|i| Receipt::new(receipt.msg_id + i, 1))
        .collect();
    receipts.push(receipt);
    assert_invalid(q.delete_receipts(&name, &receipts).await, "receipt list");
    assert_invalid(q.archive_receipts(&name, &receipts).await, "receipt list");
    assert_invalid(
        q.set_vt_receipts(&name, &receipts, VisibleAt::now()).await,
        "receipt list",
    );
    assert_eq!(length(q, &name).await, 1);
    assert!(nothing_visible(q, &name).await, "the message was released");
    assert_eq!(
        q.delete_receipt(&name, receipt).await.expect("delete"),
        Fence::Acted,
        "the receipt was spent"
    );
    cleanup(q, &name).await;
}

/// Receipt operations on a queue that does not exist are `QueueNotFound`.
pub async fn receipts_on_an_unknown_queue_are_queue_not_found(q: &dyn Queue) {
    let name = missing("rcptnone");
    let receipt = Receipt::new(1, 1);
    assert_not_found(q.delete_receipts(&name, &[receipt]).await, &name);
    assert_not_found(q.archive_receipts(&name, &[receipt]).await, &name);
    assert_not_found(
        q.set_vt_receipts(&name, &[receipt], VisibleAt::now()).await,
        &name,
    );
    assert_not_found(q.delete_receipt(&name, receipt).await, &name);
    assert_not_found(q.archive_receipt(&name, receipt).await, &name);
    assert_not_found(
        q.set_vt_receipt(&name, receipt, VisibleAt::now()).await,
        &name,
    );
}
