//! Queues this library creates, used through the extension's SQL functions, and messages the
//! extension's functions send, handled by this library.

use pgmq_core::{
    CreateOptions, Error, Fence, QueueAttributes, QueueExt, ReadOptions, SendOptions, VisibleAt,
};
use serde_json::{json, Value};

use crate::extension::{self as ext, Record};
use crate::fixture::{name, Db};

fn ids(records: &[Record]) -> Vec<i64> {
    records.iter().map(|r| r.msg_id).collect()
}

/// In a fresh database with the extension's SQL installed and then this library's: every
/// extension function works on a queue this library made, and the other way round.
pub(crate) async fn our_queues_work_through_the_extension_functions(db: Db) {
    db.install_both().await;
    let (queue, sql) = (&db.queue, &db.sql);
    let (q, dlq) = (name("ours"), name("ours_dlq"));
    queue
        .create(&dlq, CreateOptions::new())
        .await
        .expect("create");
    let attributes = QueueAttributes::new().dead_letter(dlq.clone(), 5);
    queue
        .create(&q, CreateOptions::new().attributes(attributes))
        .await
        .expect("create");
    let from_us = json!({"from": "pgmq-rs"});

    // Sent by this library, handled by the extension.
    let sent = queue
        .send_batch_json(
            &q,
            (1..=4).map(|n| json!({ "n": n })).collect(),
            SendOptions::new().headers(from_us.clone()),
        )
        .await
        .expect("send_batch");
    let got = ext::read(sql, "ours", 30, 2).await;
    assert_eq!(ids(&got), sent[..2]);
    assert_eq!(got[0].message, json!({"n": 1}));
    assert!(got
        .iter()
        .all(|r| r.read_ct == 1 && r.headers.as_ref() == Some(&from_us)));
    let released = ext::set_vt(sql, "ours", sent[0], 0).await;
    assert_eq!(ids(&released), [sent[0]]);
    let again = ext::read_with_poll(sql, "ours", 30, 1, 1, 50).await;
    assert_eq!((again[0].msg_id, again[0].read_ct), (sent[0], 2));
    assert!(ext::delete(sql, "ours", sent[0]).await);
    assert!(ext::archive(sql, "ours", sent[1]).await);
    assert_eq!(ids(&ext::pop(sql, "ours", 1).await), [sent[2]]);
    let archived = queue.read_archive(&q, &[sent[1]]).await.expect("archive");
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].message.message, json!({"n": 2}));
    assert_eq!(archived[0].message.headers.as_ref(), Some(&from_us));
    let last = queue
        .read_json(&q, ReadOptions::new().qty(10))
        .await
        .expect("read");
    assert_eq!(last.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [sent[3]]);

    // Sent by the extension, handled by this library.
    let from_sql = json!({"from": "sql"});
    let one = ext::send(sql, "ours", json!({"n": 5}), Some(from_sql.clone()), 0).await;
    let batch = ext::send_batch(sql, "ours", vec![json!({"n": 6}), json!({"n": 7})]).await;
    let delayed = ext::send(sql, "ours", json!({"n": 8}), None, 3600).await;
    let read = queue
        .read_json(&q, ReadOptions::new().qty(10).vt_secs(30))
        .await
        .expect("read");
    let read_ids: Vec<i64> = read.iter().map(|m| m.msg_id).collect();
    assert_eq!(read_ids, [one, batch[0], batch[1]]);
    assert!(!read_ids.contains(&delayed));
    assert_eq!(read[0].headers.as_ref(), Some(&from_sql));
    assert_eq!(read[1].headers, None);
    assert_eq!(read[2].message, json!({"n": 7}));
    let m = queue.metrics(&q).await.expect("metrics");
    assert_eq!(
        (
            m.queue_length,
            m.queue_visible_length,
            m.queue_in_flight_length,
            m.queue_delayed_length
        ),
        (5, 0, 4, 1)
    );

    // Acknowledged here, seen there.
    let fences = queue
        .delete_receipts(&q, &[read[0].receipt()])
        .await
        .expect("delete_receipts");
    assert_eq!(fences, [Fence::Acted]);
    assert!(queue.archive(&q, read[1].msg_id).await.expect("archive"));
    assert_eq!(
        ext::archive_batch(sql, "ours", &[read[1].msg_id]).await,
        Vec::<i64>::new(),
        "archived by this library: gone from the queue"
    );
    queue
        .set_vt(&q, read[2].msg_id, VisibleAt::now())
        .await
        .expect("set_vt");
    // The extension re-reads it: this library's receipt from before is stale.
    assert_eq!(ids(&ext::read(sql, "ours", 30, 5).await), [read[2].msg_id]);
    assert_eq!(
        queue
            .delete_receipt(&q, read[2].receipt())
            .await
            .expect("delete_receipt"),
        Fence::Stale
    );

    // Metrics and listings agree.
    let ours = queue.metrics(&q).await.expect("metrics");
    let theirs = ext::metrics(sql, "ours").await;
    assert_eq!(
        (ours.queue_length, ours.total_messages),
        (theirs.queue_length, theirs.total_messages)
    );
    assert_eq!((theirs.queue_length, theirs.total_messages), (3, 8));
    let u = name("ours_unlogged");
    queue
        .create(&u, CreateOptions::unlogged())
        .await
        .expect("create unlogged");
    queue
        .send(&u, &json!("u"), SendOptions::new())
        .await
        .expect("send");
    assert_eq!(
        ext::list_queues(sql).await,
        [
            ("ours".to_owned(), false, false),
            ("ours_dlq".to_owned(), false, false),
            ("ours_unlogged".to_owned(), false, true)
        ]
    );
    assert_eq!(
        ext::metrics_all(sql).await,
        [
            ("ours".to_owned(), 3),
            ("ours_dlq".to_owned(), 0),
            ("ours_unlogged".to_owned(), 1)
        ]
    );
    assert_eq!(
        ext::pop(sql, "ours_unlogged", 1).await[0].message,
        Value::from("u")
    );

    // A dead-letter queue in use cannot be dropped, by the extension either: its whole
    // drop_queue is rolled back.
    let refused = sqlx::query("SELECT pgmq.drop_queue('ours_dlq')")
        .execute(sql)
        .await
        .expect_err("a dead-letter queue in use");
    let code = refused.as_database_error().and_then(|e| e.code());
    assert_eq!(code.as_deref(), Some("23503"), "{refused}");
    assert_eq!(
        queue.metrics(&dlq).await.expect("still there").queue_length,
        0
    );

    // Dropped by the extension: gone for this library too, with this library's rows.
    assert!(ext::drop_queue(sql, "ours").await);
    assert!(ext::drop_queue(sql, "ours_dlq").await);
    let listed = queue.list_queues().await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|i| i.queue_name.as_str())
            .collect::<Vec<_>>(),
        ["ours_unlogged"]
    );
    assert!(listed[0].is_unlogged);
    match queue.send(&q, &json!(1), SendOptions::new()).await {
        Err(Error::QueueNotFound { .. }) => {}
        other => panic!("expected QueueNotFound, got {other:?}"),
    }
    let leftovers: i64 = ext::scalar(
        sql,
        "SELECT (SELECT count(*) FROM pgmq.notify_insert_throttle WHERE queue_name = 'ours')
              + (SELECT count(*) FROM pgmq_rs.queue_attributes WHERE queue_name = 'ours')",
    )
    .await;
    assert_eq!(leftovers, 0);

    // Dropped by this library: gone for the extension.
    assert!(queue.drop_queue(&u).await.expect("drop"));
    assert!(!ext::drop_queue(sql, "ours_unlogged").await);
    assert!(ext::list_queues(sql).await.is_empty());
}
