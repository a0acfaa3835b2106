//! Queues the extension creates (`pgmq.create`, `pgmq.create_unlogged`, and
//! `pgmq.create_partitioned` where pg_partman is available), used through this library.

use std::time::{Duration, Instant};

use pgmq_core::{
    Fence, QueueExt, ReadOptions, SendOptions, StorageParams, VacuumOutcome, VisibleAt,
    CHURN_QUEUE_TABLE,
};
use serde_json::json;

use crate::extension as ext;
use crate::fixture::{name, Db};

/// How a queue was made by the extension.
#[derive(Clone, Copy)]
struct Made {
    unlogged: bool,
    partitioned: bool,
}

/// The extension's SQL only, its queues made by its own functions, and then this library
/// (whose own objects it installs on first need: no `install` call here).
pub(crate) async fn extension_queues_work_through_this_library(db: Db) {
    db.install_extension()
        .await
        .expect("install the extension's SQL");
    ext::create(&db.sql, "ext_logged").await;
    ext::create_unlogged(&db.sql, "ext_unlogged").await;
    let logged = Made {
        unlogged: false,
        partitioned: false,
    };
    work_here(&db, "ext_logged", logged).await;
    let unlogged = Made {
        unlogged: true,
        ..logged
    };
    work_here(&db, "ext_unlogged", unlogged).await;
    partitioned(&db).await;
}

/// Sends from both sides, reads with and without a wait, every kind of acknowledgement,
/// metrics, listing and dropping, by this library on the extension's queue `text`.
async fn work_here(db: &Db, text: &str, made: Made) {
    let (queue, sql) = (&db.queue, &db.sql);
    let q = name(text);
    let listed = queue.list_queues().await.expect("list");
    let info = listed
        .iter()
        .find(|i| i.queue_name == text)
        .expect("listed");
    assert_eq!(
        (info.is_unlogged, info.is_partitioned),
        (made.unlogged, made.partitioned)
    );

    let theirs = ext::send(sql, text, json!({"side": "sql"}), None, 0).await;
    let ours = queue
        .send_batch_json(
            &q,
            vec![json!({"side": "rs", "n": 1}), json!({"side": "rs", "n": 2})],
            SendOptions::new().headers(json!({"k": "v"})),
        )
        .await
        .expect("send_batch");
    let later = queue
        .send_json(&q, json!("later"), SendOptions::new().delay_secs(3600))
        .await
        .expect("send");
    let got = queue
        .read_json(&q, ReadOptions::new().qty(10).vt_secs(30))
        .await
        .expect("read");
    let got_ids: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
    assert_eq!(got_ids, [theirs, ours[0], ours[1]]);
    assert_eq!(got[0].headers, None);
    assert_eq!(got[1].headers, Some(json!({"k": "v"})));
    let seen = ext::read(sql, text, 30, 10).await;
    assert!(seen.is_empty(), "all in flight or delayed: {seen:?}");

    let acked = queue
        .delete_receipt(&q, got[0].receipt())
        .await
        .expect("delete_receipt");
    assert_eq!(acked, Fence::Acted);
    assert!(queue.archive(&q, got[1].msg_id).await.expect("archive"));
    let archived: i64 = ext::scalar(sql, &format!("SELECT count(*) FROM pgmq.a_{text}")).await;
    assert_eq!(archived, 1);
    let released = queue
        .set_vt_receipt(&q, got[2].receipt(), VisibleAt::now())
        .await
        .expect("set_vt_receipt");
    assert!(released.is_some());
    let popped = queue.pop_json(&q, 5).await.expect("pop");
    assert_eq!(
        popped.iter().map(|m| m.msg_id).collect::<Vec<_>>(),
        [ours[1]]
    );

    // No notifications on this queue: a waiting reader polls, and still gets a send of the
    // extension's.
    let waiter = {
        let (queue, q) = (db.queue.clone(), q.clone());
        tokio::spawn(async move {
            let wait = ReadOptions::new()
                .wait(Duration::from_secs(10))
                .poll_interval(Duration::from_millis(50));
            let started = Instant::now();
            (queue.read_json(&q, wait).await, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = ext::send(sql, text, json!("wake"), None, 0).await;
    let (woken, waited) = waiter.await.expect("waiter");
    let woken = woken.expect("read with a wait");
    assert_eq!(woken.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [sent]);
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    assert!(ext::delete(sql, text, sent).await);

    let m = queue.metrics(&q).await.expect("metrics");
    assert_eq!(
        (
            m.queue_length,
            m.queue_visible_length,
            m.queue_delayed_length,
            m.total_messages
        ),
        (1, 0, 1, 5)
    );
    assert_eq!(ext::metrics(sql, text).await.queue_length, 1);
    let all = queue.metrics_all().await.expect("metrics_all");
    assert!(all
        .iter()
        .any(|m| m.queue_name == text && m.queue_length == 1));
    assert_eq!(ext::set_vt(sql, text, later, 0).await.len(), 1);
    assert_eq!(ext::pop(sql, text, 1).await[0].msg_id, later);

    churn_tuning(db, text).await;

    assert!(queue.drop_queue(&q).await.expect("drop"));
    assert!(!ext::list_queues(sql).await.iter().any(|(n, ..)| n == text));
    let tables: i64 = ext::scalar(
        sql,
        &format!(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'pgmq' AND c.relname IN ('q_{text}', 'a_{text}')"
        ),
    )
    .await;
    assert_eq!(tables, 0);
}

/// The extension made `text` without storage parameters: `set_storage` gives it the churn
/// defaults (as `pg_class` shows them on the table, or on a partition of a partitioned one),
/// keeps its messages, and `vacuum` runs on it.
async fn churn_tuning(db: &Db, text: &str) {
    let (queue, sql) = (&db.queue, &db.sql);
    let q = name(text);
    let reloptions = |table: String| async move {
        let text: Option<String> = ext::scalar(
            sql,
            // The table itself, or for a partitioned one its first partition (Postgres
            // keeps storage parameters on partitions only).
            &format!(
                "SELECT array_to_string(c.reloptions, ',') FROM pg_class c
                 WHERE c.oid = COALESCE(
                   (SELECT relid FROM pg_partition_tree('pgmq.{table}'::regclass)
                    WHERE isleaf ORDER BY relid::text LIMIT 1),
                   'pgmq.{table}'::regclass)"
            ),
        )
        .await;
        text.unwrap_or_default()
    };
    assert_eq!(
        reloptions(format!("q_{text}")).await,
        "",
        "the extension sets none"
    );
    let length = queue.metrics(&q).await.expect("metrics").queue_length;
    queue
        .set_storage(&q, &StorageParams::churn())
        .await
        .expect("set_storage on the extension's queue");
    let expected: Vec<String> = CHURN_QUEUE_TABLE
        .iter()
        .map(|(param, _)| (*param).to_owned())
        .collect();
    let got = reloptions(format!("q_{text}")).await;
    for param in &expected {
        assert!(
            got.contains(&format!("{param}=")),
            "{param} missing from {got}"
        );
    }
    let archive = reloptions(format!("a_{text}")).await;
    assert!(
        archive.contains("autovacuum_vacuum_insert_scale_factor="),
        "the archive's: {archive}"
    );
    let storage = queue.storage(&q).await.expect("storage");
    assert_eq!(storage.queue_table.len(), expected.len(), "{storage:?}");
    assert_eq!(
        queue.metrics(&q).await.expect("metrics").queue_length,
        length
    );
    assert_eq!(
        queue.vacuum(&q).await.expect("vacuum"),
        VacuumOutcome::Vacuumed
    );
}

/// `pgmq.create_partitioned` needs pg_partman on the server; without it, this part is skipped
/// with a note on stderr.
async fn partitioned(db: &Db) {
    let available: bool = ext::scalar(
        &db.sql,
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman')",
    )
    .await;
    if !available {
        eprintln!(
            "interop: pg_partman is not available on this server; partitioned queues \
             (pgmq.create_partitioned) were not checked"
        );
        return;
    }
    ext::execute(
        &db.sql,
        "CREATE SCHEMA IF NOT EXISTS partman;
         CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman",
    )
    .await;
    ext::execute(
        &db.sql,
        "SELECT pgmq.create_partitioned('ext_parted', '10000', '100000')",
    )
    .await;
    let parted = Made {
        unlogged: false,
        partitioned: true,
    };
    work_here(db, "ext_parted", parted).await;
    // This library's drop_queue removes pg_partman's configuration too, as the extension's
    // own drop_queue does.
    let configured: i64 = ext::scalar(
        &db.sql,
        "SELECT count(*) FROM partman.part_config
         WHERE parent_table IN ('pgmq.q_ext_parted', 'pgmq.a_ext_parted')",
    )
    .await;
    assert_eq!(configured, 0, "part_config rows left by drop_queue");

    // And the reverse: a queue this library partitions, used and dropped by the extension.
    let ours = name("rs_parted");
    let by_id = pgmq_core::CreateOptions::partitioned(
        pgmq_core::PartitionInterval::Messages(10_000),
        pgmq_core::PartitionInterval::Messages(100_000),
    );
    db.queue
        .create(&ours, by_id)
        .await
        .expect("create partitioned");
    let sent = ext::send(&db.sql, "rs_parted", json!("x"), None, 0).await;
    assert_eq!(ext::read(&db.sql, "rs_parted", 30, 1).await[0].msg_id, sent);
    let listed = ext::list_queues(&db.sql).await;
    assert!(listed
        .iter()
        .any(|(n, parted, _)| n == "rs_parted" && *parted));
    ext::execute(&db.sql, "SELECT pgmq.drop_queue('rs_parted')").await;
    let configured: i64 = ext::scalar(
        &db.sql,
        "SELECT count(*) FROM partman.part_config WHERE parent_table LIKE 'pgmq.%rs_parted'",
    )
    .await;
    assert_eq!(
        configured, 0,
        "the extension's drop_queue cleans our partitioned queue"
    );
}
