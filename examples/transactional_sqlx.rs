//! Transactional enqueue on sqlx: a payment row and its "payment captured" message are
//! written in one transaction of the application's own, so both appear or neither does.
//!
//! ```text
//! cargo run -p pgmq-examples --example transactional_sqlx
//! ```
//!
//! The database comes from `DATABASE_URL`, else a throwaway local cluster, else Docker.

#![allow(clippy::print_stdout)] // an example reports each step

use pgmq_sqlx::prelude::*;
use serde::Serialize;

type AnyError = Box<dyn std::error::Error>;

#[derive(Serialize)]
struct PaymentCaptured {
    payment: i64,
    cents: i64,
}

/// What someone outside the transaction sees: payment rows and queued messages.
async fn outside(queue: &SqlxQueue, events: &QueueName) -> Result<String, AnyError> {
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM example_payments")
        .fetch_one(queue.pool())
        .await?;
    let messages = queue.metrics(events).await?.queue_length;
    Ok(format!("{rows} payment(s), {messages} message(s)"))
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let url = pgmq_conformance::harness::database_url()?;
    let queue = SqlxQueue::connect(&url).await?;
    let events = QueueName::new("example_payment_events")?;
    queue.create(&events, CreateOptions::new()).await?;
    queue.purge(&events).await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS example_payments (id bigint PRIMARY KEY, cents bigint NOT NULL);
         TRUNCATE example_payments",
    )
    .execute(queue.pool())
    .await?;
    println!("start: {}", outside(&queue, &events).await?);

    for (payment, cents, commit) in [(1_i64, 4_200_i64, true), (2, 990, false)] {
        let mut tx = queue.pool().begin().await?;
        sqlx::query("INSERT INTO example_payments (id, cents) VALUES ($1, $2)")
            .bind(payment)
            .bind(cents)
            .execute(&mut *tx)
            .await?;
        let event = PaymentCaptured { payment, cents };
        let msg_id = SqlxConnQueue::new(&mut *tx)
            .send(&events, &event, SendOptions::new())
            .await?;
        println!(
            "payment {payment}: row and message {msg_id} written in one transaction; outside sees {}",
            outside(&queue, &events).await?
        );
        if commit {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        let outcome = if commit { "committed" } else { "rolled back" };
        println!(
            "payment {payment}: {outcome}; outside sees {}",
            outside(&queue, &events).await?
        );
    }

    for msg in queue.read_json(&events, ReadOptions::new().qty(10)).await? {
        println!("worker: message {} says {}", msg.msg_id, msg.message);
        queue.archive(&events, msg.msg_id).await?;
    }

    sqlx::raw_sql("DROP TABLE example_payments")
        .execute(queue.pool())
        .await?;
    queue.drop_queue(&events).await?;
    println!("cleaned up");
    Ok(())
}
