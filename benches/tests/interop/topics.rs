//! Topic routing across the two: bindings made on either side are one set
//! (`pgmq.topic_bindings`), route a key to the same queues, and carry sends from either side.

use pgmq_core::{
    CreateOptions, Queue, ReadOptions, RoutingKey, SendOptions, TopicBinding, TopicPattern,
};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::extension as ext;
use crate::fixture::{name, Db};

fn key(text: &str) -> RoutingKey {
    RoutingKey::new(text).expect("a valid routing key")
}

fn pattern(text: &str) -> TopicPattern {
    TopicPattern::new(text).expect("a valid pattern")
}

fn pairs(bindings: Vec<TopicBinding>) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = bindings
        .into_iter()
        .map(|b| (b.pattern, b.queue_name))
        .collect();
    pairs.sort();
    pairs
}

async fn their_pairs(sql: &PgPool, text: &str, bind: Option<&str>) -> Vec<(String, String)> {
    let query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT pattern, queue_name FROM {text} ORDER BY 1, 2"
    )));
    let query = match bind {
        Some(value) => query.bind(value.to_owned()),
        None => query,
    };
    query
        .fetch_all(sql)
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

async fn read_here(queue: &dyn Queue, text: &str) -> Vec<Value> {
    let got = queue
        .read_json(&name(text), ReadOptions::new().qty(10))
        .await
        .expect("read");
    got.into_iter().map(|m| m.message).collect()
}

async fn read_there(sql: &PgPool, text: &str) -> Vec<Value> {
    let got = ext::read(sql, text, 30, 10).await;
    got.into_iter().map(|r| r.message).collect()
}

/// The extension's SQL first, then this library's.
pub(crate) async fn topics_route_across_both_extension_first(db: Db) {
    db.install_both().await;
    route_across_both(&db).await;
}

/// This library's schema first (it creates `pgmq.topic_bindings`), then the extension's SQL.
pub(crate) async fn topics_route_across_both_library_first(db: Db) {
    db.queue.install().await.expect("install");
    db.install_extension()
        .await
        .expect("install the extension's SQL");
    route_across_both(&db).await;
}

async fn route_across_both(db: &Db) {
    let (queue, sql) = (db.queue.as_ref(), &db.sql);
    for text in ["t_eu", "t_other"] {
        queue
            .create(&name(text), CreateOptions::new())
            .await
            .expect("create");
    }
    ext::create(sql, "t_all").await;

    queue
        .bind_topic(&pattern("orders.eu"), &name("t_eu"))
        .await
        .expect("bind_topic");
    queue
        .bind_topic(&pattern("invoices.*"), &name("t_other"))
        .await
        .expect("bind_topic");
    ext::execute(sql, "SELECT pgmq.bind_topic('orders.#', 't_all')").await;
    ext::execute(sql, "SELECT pgmq.bind_topic('orders.*', 't_eu')").await;
    let ours = pairs(queue.topic_bindings(None).await.expect("topic_bindings"));
    assert_eq!(ours.len(), 4);
    assert_eq!(
        ours,
        their_pairs(sql, "pgmq.list_topic_bindings()", None).await
    );
    for text in [
        "orders.eu",
        "orders.eu.paris",
        "orders",
        "ordersXeu",
        "invoices.x",
    ] {
        let ours = pairs(queue.test_routing(&key(text)).await.expect("test_routing"));
        let theirs = their_pairs(sql, "pgmq.test_routing($1)", Some(text)).await;
        assert_eq!(ours, theirs, "routing key {text}");
    }

    // Sent by the extension, read here: once per queue, however many patterns match.
    let reached: i32 = ext::scalar(
        sql,
        "SELECT pgmq.send_topic('orders.eu', '{\"by\": \"sql\"}'::jsonb)",
    )
    .await;
    assert_eq!(reached, 2);
    for text in ["t_eu", "t_all"] {
        assert_eq!(read_here(queue, text).await, [json!({"by": "sql"})]);
    }
    let batch: Vec<(String, i64)> =
        sqlx::query_as("SELECT queue_name, msg_id FROM pgmq.send_batch_topic('invoices.x', $1)")
            .bind(vec![json!(1), json!(2)])
            .fetch_all(sql)
            .await
            .expect("pgmq.send_batch_topic");
    assert_eq!(batch.len(), 2);
    assert_eq!(read_here(queue, "t_other").await, [json!(1), json!(2)]);

    // Sent here, read by the extension.
    let reached = queue
        .send_topic_json(&key("orders.eu"), json!({"by": "rs"}), SendOptions::new())
        .await
        .expect("send_topic");
    assert_eq!(reached, 2);
    for text in ["t_eu", "t_all"] {
        assert_eq!(read_there(sql, text).await, [json!({"by": "rs"})]);
    }
    let deliveries = queue
        .send_batch_topic_json(
            &key("orders.eu.paris"),
            vec![json!("a"), json!("b")],
            SendOptions::new(),
        )
        .await
        .expect("send_batch_topic");
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].queue_name, "t_all");
    let there = ext::read(sql, "t_all", 30, 10).await;
    let ids: Vec<i64> = there.iter().map(|r| r.msg_id).collect();
    assert_eq!(ids, deliveries[0].msg_ids);

    // Unbound across, and dropped queues take their bindings along.
    let unbound: bool = ext::scalar(sql, "SELECT pgmq.unbind_topic('orders.eu', 't_eu')").await;
    assert!(unbound, "bound by this library, unbound by the extension");
    let unbound = queue
        .unbind_topic(&pattern("orders.#"), &name("t_all"))
        .await
        .expect("unbind_topic");
    assert!(unbound, "bound by the extension, unbound here");
    assert!(ext::drop_queue(sql, "t_other").await);
    assert!(queue.drop_queue(&name("t_eu")).await.expect("drop"));
    assert!(queue
        .topic_bindings(None)
        .await
        .expect("topic_bindings")
        .is_empty());
    assert!(their_pairs(sql, "pgmq.list_topic_bindings()", None)
        .await
        .is_empty());
}
