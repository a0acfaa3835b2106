//! Each side's schema installed where the other's already lives, in both orders: neither
//! install fails, changes the other's objects, or loses a message.

use std::collections::BTreeSet;

use pgmq_core::{CreateOptions, QueueAttributes, QueueExt, ReadOptions, SendOptions};
use serde_json::json;
use sqlx::PgPool;

use crate::extension as ext;
use crate::fixture::{name, Db};

/// Every object of `schema` and its definition: relations (kind, persistence), columns (type,
/// nullability, default), functions (arguments, source), triggers, composite types. Two equal
/// snapshots mean nothing in the schema was created, dropped or replaced in between.
async fn snapshot(pool: &PgPool, schema: &str) -> BTreeSet<String> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT 'relation ' || c.relname || ' ' || c.relkind::text || c.relpersistence::text
         FROM pg_class c WHERE c.relnamespace = $1::regnamespace
         UNION ALL
         SELECT 'column ' || c.relname || '.' || a.attname || ' '
                || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' '
                || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = $1::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
         UNION ALL
         SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid)
                || ') ' || md5(p.prosrc) || ' ' || p.prosecdef::text
         FROM pg_proc p WHERE p.pronamespace = $1::regnamespace
         UNION ALL
         SELECT 'trigger ' || pg_get_triggerdef(t.oid)
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE c.relnamespace = $1::regnamespace AND NOT t.tgisinternal
         UNION ALL
         SELECT 'type ' || t.typname FROM pg_type t
         WHERE t.typnamespace = $1::regnamespace AND t.typtype = 'c' AND t.typrelid IN
               (SELECT oid FROM pg_class WHERE relkind = 'c')",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap_or_else(|e| panic!("snapshot of {schema}: {e}"));
    rows.into_iter().collect()
}

/// The extension first (with a queue, a message and notifications of its own), then this
/// library's `install`, twice: the extension's schema is left exactly as it was, and both
/// sides keep working.
pub(crate) async fn this_library_installs_over_the_extension(db: Db) {
    let (queue, sql) = (&db.queue, &db.sql);
    db.install_extension()
        .await
        .expect("install the extension's SQL");
    ext::create(sql, "ext_made").await;
    ext::execute(sql, "SELECT pgmq.enable_notify_insert('ext_made', 0)").await;
    let kept = ext::send(sql, "ext_made", json!("kept"), None, 0).await;
    let before = snapshot(sql, "pgmq").await;

    queue.install().await.expect("install over the extension");
    queue.install().await.expect("install again");
    assert_eq!(
        snapshot(sql, "pgmq").await,
        before,
        "the extension's schema"
    );

    let read = queue
        .read_json(&name("ext_made"), ReadOptions::new())
        .await
        .expect("read");
    assert_eq!(read[0].msg_id, kept);
    ext::create(sql, "ext_after").await;
    let sent = queue
        .send(&name("ext_after"), &json!("x"), SendOptions::new())
        .await
        .expect("send");
    assert_eq!(ext::pop(sql, "ext_after", 1).await[0].msg_id, sent);
    let ours = name("rs_made");
    queue
        .create(&ours, CreateOptions::new())
        .await
        .expect("create");
    let theirs = ext::send(sql, "rs_made", json!("y"), None, 0).await;
    assert!(queue.delete(&ours, theirs).await.expect("delete"));
    db.install_extension()
        .await
        .expect("the extension's installer again: nothing to do");
}

/// This library first (queues with attributes, notifications and messages), then the
/// extension's SQL: its script runs without an error, this library's objects are left as they
/// were, and both sides keep working.
pub(crate) async fn the_extension_installs_over_this_library(db: Db) {
    let (queue, sql) = (&db.queue, &db.sql);
    queue.install().await.expect("install");
    let ours = name("rs_made");
    let attributes = QueueAttributes::new().max_message_bytes(1 << 20);
    queue
        .create(&ours, CreateOptions::new().attributes(attributes.clone()))
        .await
        .expect("create");
    queue
        .create(&name("rs_unlogged"), CreateOptions::unlogged())
        .await
        .expect("create unlogged");
    let kept = queue
        .send(&ours, &json!("kept"), SendOptions::new())
        .await
        .expect("send");
    let (ours_before, pgmq_before) = (snapshot(sql, "pgmq_rs").await, snapshot(sql, "pgmq").await);

    if let Err(e) = db.install_extension().await {
        panic!("the extension's pgmq.sql over this library's schema: {e}");
    }
    assert_eq!(snapshot(sql, "pgmq_rs").await, ours_before, "pgmq_rs");
    let pgmq_after = snapshot(sql, "pgmq").await;
    let changed: Vec<&String> = pgmq_before.difference(&pgmq_after).collect();
    assert!(
        changed.is_empty(),
        "changed or removed in pgmq: {changed:?}"
    );

    // The extension reads this library's message; this library reads the extension's.
    assert_eq!(ext::read(sql, "rs_made", 30, 5).await[0].msg_id, kept);
    ext::create(sql, "ext_made").await;
    let theirs = ext::send(sql, "ext_made", json!("z"), None, 0).await;
    let got = queue
        .read_json(&name("ext_made"), ReadOptions::new())
        .await
        .expect("read");
    assert_eq!(got[0].msg_id, theirs);
    assert_eq!(
        queue.attributes(&ours).await.expect("attributes"),
        attributes
    );
    assert_eq!(
        ext::list_queues(sql).await,
        [
            ("ext_made".to_owned(), false, false),
            ("rs_made".to_owned(), false, false),
            ("rs_unlogged".to_owned(), false, true)
        ]
    );

    let pgmq_before = snapshot(sql, "pgmq").await;
    queue.install().await.expect("this library's install again");
    assert_eq!(snapshot(sql, "pgmq").await, pgmq_before);
}
