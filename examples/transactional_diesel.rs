//! Transactional enqueue on diesel-async: an order row and its "order placed" message are
//! written in one transaction of the application's own (`AsyncConnection::transaction`), so
//! both appear or neither does.
//!
//! ```text
//! cargo run -p pgmq-examples --example transactional_diesel
//! ```
//!
//! The database comes from `DATABASE_URL`, else a throwaway local cluster, else Docker.

#![allow(clippy::print_stdout)] // an example reports each step

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use pgmq_diesel::core::BoxError;
use pgmq_diesel::prelude::*;
use serde_json::json;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// What someone outside the transaction sees: order rows and queued messages.
async fn visible(queue: &DieselQueue, events: &QueueName) -> Result<String, BoxError> {
    let mut conn = queue.pool().get().await?;
    let Count { n: orders } = diesel::sql_query("SELECT count(*) AS n FROM example_diesel_orders")
        .get_result(&mut conn)
        .await?;
    let messages = queue.metrics(events).await?.queue_length;
    Ok(format!("{orders} order(s), {messages} message(s)"))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let url = pgmq_conformance::harness::database_url()?;
    let queue = DieselQueue::connect(&url).await?;
    let events = QueueName::new("example_diesel_order_events")?;
    queue.create(&events, CreateOptions::new()).await?;
    queue.purge(&events).await?;

    let mut conn = queue.pool().get().await?;
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS example_diesel_orders (id bigint PRIMARY KEY, item text NOT NULL);
         TRUNCATE example_diesel_orders",
    )
    .await?;
    println!("start: {}", visible(&queue, &events).await?);

    // Borrowed once, so the `async move` closure below copies the references, not the values.
    let (queue, events) = (&queue, &events);
    for (id, item, commit) in [(1_i64, "book", true), (2, "lamp", false)] {
        let outcome = conn
            .transaction::<i64, BoxError, _>(async move |conn| {
                diesel::sql_query("INSERT INTO example_diesel_orders (id, item) VALUES ($1, $2)")
                    .bind::<BigInt, _>(id)
                    .bind::<Text, _>(item)
                    .execute(conn)
                    .await?;
                let msg_id = DieselConnQueue::new(conn)
                    .send(
                        events,
                        &json!({"order": id, "item": item}),
                        SendOptions::new(),
                    )
                    .await?;
                println!(
                    "order {id}: row inserted and message {msg_id} sent in one transaction; \
                     outside sees {}",
                    visible(queue, events).await?
                );
                if commit {
                    Ok(msg_id)
                } else {
                    // Any error rolls the transaction back; this one says it was on purpose.
                    Err(diesel::result::Error::RollbackTransaction.into())
                }
            })
            .await;
        match outcome {
            Ok(_) => println!(
                "order {id}: committed; outside sees {}",
                visible(queue, events).await?
            ),
            Err(e) if e.downcast_ref() == Some(&diesel::result::Error::RollbackTransaction) => {
                println!(
                    "order {id}: rolled back; outside sees {}",
                    visible(queue, events).await?
                )
            }
            Err(e) => return Err(e),
        }
    }

    for msg in queue.read_json(events, ReadOptions::new().qty(10)).await? {
        println!("worker: message {} says {}", msg.msg_id, msg.message);
        queue.archive(events, msg.msg_id).await?;
    }
    println!("end: {}", visible(queue, events).await?);
    Ok(())
}
