use chrono::{TimeDelta, Utc};
use pgmq_core::{Error, Message, Queue, QueueExt, ReadOptions, SendOptions, VisibleAt, MAX_BATCH};
use serde_json::{json, Value};

use super::{assert_invalid, cleanup, fresh, length};

async fn visible(q: &dyn Queue, name: &pgmq_core::QueueName) -> i64 {
    q.metrics(name).await.expect("metrics").queue_visible_length
}

/// `pop` returns up to `qty` messages, oldest first, and removes them.
pub async fn pop_returns_and_removes_messages(q: &dyn Queue) {
    let name = fresh(q, "pop").await;
    let ids = q
        .send_batch(&name, &["a", "b", "c"], SendOptions::new())
        .await
        .expect("send");
    let got: Vec<Message<String>> = q.pop(&name, 2).await.expect("pop");
    let got_ids: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
    assert_eq!(got_ids, ids[..2]);
    assert_eq!(got[0].message, "a");
    assert_eq!(length(q, &name).await, 1);
    let rest: Vec<Message<String>> = q.pop(&name, 5).await.expect("pop rest");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].msg_id, ids[2]);
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
}

/// Popping an empty queue returns nothing.
pub async fn pop_of_empty_queue_returns_nothing(q: &dyn Queue) {
    let name = fresh(q, "popempty").await;
    assert!(q.pop_json(&name, 3).await.expect("pop_json").is_empty());
    let typed: Vec<Message<Value>> = q.pop(&name, 3).await.expect("pop");
    assert!(typed.is_empty());
    cleanup(q, &name).await;
}

/// `pop_json` claims and deletes in one statement; invisible messages are not taken.
pub async fn pop_json_claims_and_deletes_atomically(q: &dyn Queue) {
    let name = fresh(q, "popjson").await;
    let hidden = q
        .send(&name, &json!("hidden"), SendOptions::new().delay_secs(3600))
        .await
        .expect("send");
    let shown = q
        .send(&name, &json!("shown"), SendOptions::new())
        .await
        .expect("send");
    let got = q.pop_json(&name, 10).await.expect("pop_json");
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].msg_id, got[0].read_ct), (shown, 0));
    assert!(
        !q.delete(&name, shown).await.expect("delete popped"),
        "popped message still there"
    );
    assert!(q.delete(&name, hidden).await.expect("delete hidden"));
    cleanup(q, &name).await;
}

/// Popping a message as the wrong type fails with its `msg_id` and deletes nothing.
pub async fn pop_as_wrong_type_keeps_the_message(q: &dyn Queue) {
    let name = fresh(q, "popwrong").await;
    let id = q
        .send(&name, &json!({"not": "a number"}), SendOptions::new())
        .await
        .expect("send");
    match q.pop::<u64>(&name, 1).await {
        Err(Error::Deserialize { msg_id, .. }) => assert_eq!(msg_id, id),
        other => panic!("expected Deserialize, got {other:?}"),
    }
    assert_eq!(length(q, &name).await, 1, "the message was lost");
    cleanup(q, &name).await;
}

/// `set_vt` in seconds hides a visible message (or extends a hidden one) and returns it.
pub async fn set_vt_in_seconds_hides_the_message(q: &dyn Queue) {
    let name = fresh(q, "setvt").await;
    let id = q
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let before = Utc::now();
    let m = q
        .set_vt(&name, id, VisibleAt::secs(60))
        .await
        .expect("set_vt")
        .expect("exists");
    assert_eq!(m.msg_id, id);
    assert!(
        m.vt > before + TimeDelta::seconds(55),
        "vt {} not ~60 s ahead",
        m.vt
    );
    assert_eq!(visible(q, &name).await, 0);
    assert!(q
        .read_json(&name, ReadOptions::new())
        .await
        .expect("read")
        .is_empty());
    cleanup(q, &name).await;
}

/// `set_vt` to an instant (here: now) makes a hidden message visible again.
pub async fn set_vt_to_a_timestamp_makes_the_message_visible(q: &dyn Queue) {
    let name = fresh(q, "setvtts").await;
    let id = q
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    q.read_json(&name, ReadOptions::new().vt_secs(3600))
        .await
        .expect("read");
    assert_eq!(visible(q, &name).await, 0);
    let at = Utc::now() - TimeDelta::seconds(1);
    let m = q
        .set_vt(&name, id, VisibleAt::At(at))
        .await
        .expect("set_vt")
        .expect("exists");
    assert!(
        (m.vt - at).abs() < TimeDelta::milliseconds(1),
        "vt {} != {at}",
        m.vt
    );
    let again = q.read_json(&name, ReadOptions::new()).await.expect("read");
    assert_eq!((again[0].msg_id, again[0].read_ct), (id, 2));
    cleanup(q, &name).await;
}

/// `set_vt_batch` updates the ids that exist and leaves out the rest.
pub async fn set_vt_batch_returns_only_existing_messages(q: &dyn Queue) {
    let name = fresh(q, "setvtbatch").await;
    let ids = q
        .send_batch(&name, &[1, 2, 3], SendOptions::new())
        .await
        .expect("send");
    let asked = [ids[0], ids[2], ids[2] + 1000];
    let got = q
        .set_vt_batch(&name, &asked, VisibleAt::secs(30))
        .await
        .expect("set_vt_batch");
    let got_ids: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
    assert_eq!(got_ids, vec![ids[0], ids[2]]);
    assert_eq!(visible(q, &name).await, 1);
    assert!(q
        .set_vt(&name, ids[2] + 1000, VisibleAt::now())
        .await
        .expect("set_vt")
        .is_none());
    cleanup(q, &name).await;
}

/// A negative span for `set_vt` is `InvalidArgument` and changes nothing.
/// Moving a visibility further than [`MAX_DELAY`](pgmq_core::MAX_DELAY) ahead is
/// `InvalidArgument`, and the message stays visible.
pub async fn set_vt_above_the_maximum_is_rejected(q: &dyn Queue) {
    let name = fresh(q, "setvtlong").await;
    let id = q
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    assert_invalid(
        q.set_vt(&name, id, VisibleAt::secs(u64::MAX)).await,
        "visibility timeout",
    );
    assert_eq!(visible(q, &name).await, 1);
    cleanup(q, &name).await;
}

/// `delete` answers whether it deleted something.
pub async fn delete_returns_whether_it_acted(q: &dyn Queue) {
    let name = fresh(q, "delete").await;
    let id = q
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    assert!(q.delete(&name, id).await.expect("delete"));
    assert!(!q.delete(&name, id).await.expect("delete again"));
    assert_eq!(length(q, &name).await, 0);
    cleanup(q, &name).await;
}

/// `delete_batch` returns exactly the ids it removed.
pub async fn delete_batch_returns_only_the_ids_removed(q: &dyn Queue) {
    let name = fresh(q, "deletebatch").await;
    let ids = q
        .send_batch(&name, &[1, 2, 3], SendOptions::new())
        .await
        .expect("send");
    let gone = q
        .delete_batch(&name, &[ids[2], ids[0], 999_999_999])
        .await
        .expect("delete_batch");
    assert_eq!(gone, vec![ids[0], ids[2]]);
    assert_eq!(length(q, &name).await, 1);
    assert!(q.delete_batch(&name, &[]).await.expect("empty").is_empty());
    cleanup(q, &name).await;
}

/// `archive` moves the message, unchanged, into the archive with `archived_at` set.
pub async fn archive_keeps_the_row_with_archived_at(q: &dyn Queue) {
    let name = fresh(q, "archive").await;
    let headers = json!({"h": 1});
    let id = q
        .send(
            &name,
            &json!({"keep": "me"}),
            SendOptions::new().headers(headers.clone()),
        )
        .await
        .expect("send");
    let read = q.read_json(&name, ReadOptions::new()).await.expect("read");
    let before = Utc::now() - TimeDelta::seconds(5);
    assert!(q.archive(&name, id).await.expect("archive"));
    assert!(!q.archive(&name, id).await.expect("archive again"));
    assert_eq!(length(q, &name).await, 0);
    let archived = q.read_archive(&name, &[id]).await.expect("read_archive");
    assert_eq!(archived.len(), 1);
    let a = &archived[0];
    assert!(a.archived_at > before);
    assert_eq!(a.message.message, json!({"keep": "me"}));
    assert_eq!(a.message.headers, Some(headers));
    assert_eq!(a.message.read_ct, 1);
    assert_eq!(a.message.enqueued_at, read[0].enqueued_at);
    assert_eq!(a.message.last_read_at, read[0].last_read_at);
    cleanup(q, &name).await;
}

/// `archive_batch` returns exactly the ids it archived.
pub async fn archive_batch_returns_only_the_ids_archived(q: &dyn Queue) {
    let name = fresh(q, "archivebatch").await;
    let ids = q
        .send_batch(&name, &[1, 2, 3], SendOptions::new())
        .await
        .expect("send");
    let moved = q
        .archive_batch(&name, &[ids[1], ids[0], -5])
        .await
        .expect("archive_batch");
    assert_eq!(moved, vec![ids[0], ids[1]]);
    assert_eq!(length(q, &name).await, 1);
    let archived = q.read_archive(&name, &ids).await.expect("read_archive");
    let archived_ids: Vec<i64> = archived.iter().map(|a| a.message.msg_id).collect();
    assert_eq!(archived_ids, vec![ids[0], ids[1]]);
    cleanup(q, &name).await;
}

/// More ids than `MAX_BATCH` in one delete, archive or set_vt is `InvalidArgument`.
pub async fn acknowledging_more_ids_than_the_maximum_is_rejected(q: &dyn Queue) {
    let name = fresh(q, "bigack").await;
    let id = q
        .send(&name, &json!(1), SendOptions::new())
        .await
        .expect("send");
    let mut ids: Vec<i64> = (1..=MAX_BATCH as i64).map(|i| id + i).collect();
    ids.push(id);
    assert_invalid(q.delete_batch(&name, &ids).await, "message id list");
    assert_invalid(q.archive_batch(&name, &ids).await, "message id list");
    assert_invalid(
        q.set_vt_batch(&name, &ids, VisibleAt::now()).await,
        "message id list",
    );
    assert_eq!(length(q, &name).await, 1);
    cleanup(q, &name).await;
}
