//! Transactional enqueue on tokio-postgres: an order row and its "order placed" message are
//! written in one transaction of the application's own, so both appear or neither does.
//!
//! ```text
//! cargo run -p pgmq-examples --example transactional_tokio_postgres
//! ```
//!
//! The database comes from `DATABASE_URL`, else a throwaway local cluster, else Docker.

#![allow(clippy::print_stdout)] // an example reports each step

use pgmq_tokio_postgres::prelude::*;
use serde_json::json;

type AnyError = Box<dyn std::error::Error>;

/// What someone outside the transaction sees: order rows and queued messages.
async fn visible(queue: &TokioPostgresQueue, events: &QueueName) -> Result<String, AnyError> {
    let conn = queue.pool().get().await?;
    let orders: i64 = conn
        .query_one("SELECT count(*) FROM example_orders", &[])
        .await?
        .get(0);
    let messages = queue.metrics(events).await?.queue_length;
    Ok(format!("{orders} order(s), {messages} message(s)"))
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let url = pgmq_conformance::harness::database_url()?;
    let queue = TokioPostgresQueue::connect(&url).await?;
    let events = QueueName::new("example_order_events")?;
    queue.create(&events, CreateOptions::new()).await?;
    queue.purge(&events).await?;

    let mut client = queue.pool().get().await?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS example_orders (id bigint PRIMARY KEY, item text NOT NULL);
             TRUNCATE example_orders",
        )
        .await?;
    println!("start: {}", visible(&queue, &events).await?);

    for (id, item, commit) in [(1_i64, "book", true), (2, "lamp", false)] {
        let mut tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO example_orders (id, item) VALUES ($1, $2)",
            &[&id, &item],
        )
        .await?;
        let msg_id = TokioPostgresConnQueue::new(&mut tx)
            .send(
                &events,
                &json!({"order": id, "item": item}),
                SendOptions::new(),
            )
            .await?;
        println!(
            "order {id}: row inserted and message {msg_id} sent in one transaction; outside sees {}",
            visible(&queue, &events).await?
        );
        if commit {
            tx.commit().await?;
            println!(
                "order {id}: committed; outside sees {}",
                visible(&queue, &events).await?
            );
        } else {
            tx.rollback().await?;
            println!(
                "order {id}: rolled back; outside sees {}",
                visible(&queue, &events).await?
            );
        }
    }

    for msg in queue.read_json(&events, ReadOptions::new().qty(10)).await? {
        println!("worker: message {} says {}", msg.msg_id, msg.message);
        queue.archive(&events, msg.msg_id).await?;
    }

    client.batch_execute("DROP TABLE example_orders").await?;
    queue.drop_queue(&events).await?;
    println!("cleaned up");
    Ok(())
}
