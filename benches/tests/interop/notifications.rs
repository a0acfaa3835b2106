//! Insert notifications across the two: the extension's triggers wake this library's waiting
//! readers, and this library's triggers notify a plain `LISTEN` on the extension's channel.

use std::time::{Duration, Instant};

use pgmq_core::{CreateOptions, QueueExt, QueueName, ReadOptions, SendOptions};
use serde_json::json;
use sqlx::postgres::{PgListener, PgNotification};

use crate::extension as ext;
use crate::fixture::{name, Db};

/// A notification must arrive within this long.
const PROMPT: Duration = Duration::from_secs(5);

/// A reader that waits up to 20 s and would look again only after 30 s without a
/// notification: it returns early only if one wakes it. Answers the ids read and when.
fn park(db: &Db, q: &QueueName) -> tokio::task::JoinHandle<(Vec<i64>, Instant)> {
    let (queue, q) = (db.queue.clone(), q.clone());
    tokio::spawn(async move {
        let wait = ReadOptions::new()
            .wait(Duration::from_secs(20))
            .poll_interval(Duration::from_secs(30));
        let got = queue.read_json(&q, wait).await.expect("read with a wait");
        (got.iter().map(|m| m.msg_id).collect(), Instant::now())
    })
}

/// Parks a reader on `q`, lets it settle, sends with `send`, and checks the reader was woken
/// promptly with that message.
async fn woken_by<F>(db: &Db, q: &QueueName, send: F)
where
    F: std::future::Future<Output = i64>,
{
    let reader = park(db, q);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent_at = Instant::now();
    let id = send.await;
    let (got, returned_at) = reader.await.expect("reader");
    assert_eq!(got, [id]);
    let after = returned_at.duration_since(sent_at);
    assert!(after < PROMPT, "woken {after:?} after the send");
}

/// `pgmq.enable_notify_insert` (the extension's trigger and throttle) on a queue of this
/// library, and on one of the extension's: this library's waiting readers wake on sends from
/// either side.
pub(crate) async fn extension_notifications_wake_our_waiting_readers(db: Db) {
    db.install_both().await;
    let (queue, sql) = (&db.queue, &db.sql);
    let ours = name("rs_quiet");
    queue
        .create(&ours, CreateOptions::new().without_notify_insert())
        .await
        .expect("create");
    ext::execute(sql, "SELECT pgmq.enable_notify_insert('rs_quiet')").await;
    woken_by(
        &db,
        &ours,
        ext::send(sql, "rs_quiet", json!("from sql"), None, 0),
    )
    .await;

    ext::create(sql, "ext_loud").await;
    ext::execute(sql, "SELECT pgmq.enable_notify_insert('ext_loud', 0)").await;
    let theirs = name("ext_loud");
    let send = async {
        queue
            .send(&theirs, &json!("from rs"), SendOptions::new())
            .await
            .expect("send")
    };
    woken_by(&db, &theirs, send).await;
}

async fn next(listener: &mut PgListener) -> PgNotification {
    tokio::time::timeout(PROMPT, listener.recv())
        .await
        .expect("a notification in time")
        .expect("the listening connection")
}

/// This library's `enable_notify_insert` (and `create`'s default notifications) notify a plain
/// `LISTEN "pgmq.q_<name>.INSERT"` on a connection of the test's own, for sends from either
/// side; the extension's `list_notify_insert_throttles` and `disable_notify_insert` see and
/// remove this library's trigger.
pub(crate) async fn our_notifications_reach_a_plain_listen(db: Db) {
    db.install_both().await;
    let (queue, sql) = (&db.queue, &db.sql);
    let mut listener = PgListener::connect(&db.url).await.expect("listener");

    ext::create(sql, "ext_heard").await;
    let heard = name("ext_heard");
    queue
        .enable_notify_insert(&heard, Duration::ZERO)
        .await
        .expect("enable_notify_insert");
    listener
        .listen("pgmq.q_ext_heard.INSERT")
        .await
        .expect("LISTEN");
    queue
        .send(&heard, &json!(1), SendOptions::new())
        .await
        .expect("send");
    assert_eq!(
        next(&mut listener).await.channel(),
        "pgmq.q_ext_heard.INSERT"
    );
    ext::send(sql, "ext_heard", json!(2), None, 0).await;
    assert_eq!(
        next(&mut listener).await.channel(),
        "pgmq.q_ext_heard.INSERT"
    );
    let throttles: Vec<(String, i32)> = sqlx::query_as(
        "SELECT queue_name, throttle_interval_ms FROM pgmq.list_notify_insert_throttles()",
    )
    .fetch_all(sql)
    .await
    .expect("pgmq.list_notify_insert_throttles");
    assert_eq!(throttles, [("ext_heard".to_owned(), 0)]);

    ext::execute(sql, "SELECT pgmq.disable_notify_insert('ext_heard')").await;
    queue
        .send(&heard, &json!(3), SendOptions::new())
        .await
        .expect("send");
    let silent = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await;
    assert!(silent.is_err(), "notified after disable: {silent:?}");

    let made = name("rs_default");
    queue
        .create(&made, CreateOptions::new())
        .await
        .expect("create");
    listener
        .listen("pgmq.q_rs_default.INSERT")
        .await
        .expect("LISTEN");
    ext::send(sql, "rs_default", json!(4), None, 0).await;
    assert_eq!(
        next(&mut listener).await.channel(),
        "pgmq.q_rs_default.INSERT"
    );
}
