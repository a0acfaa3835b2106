//! The quick start: connect, create a queue, send a struct, read it under a visibility
//! timeout, archive it.
//!
//! Uses `DATABASE_URL` when set; otherwise a throwaway local Postgres (or a container), so
//! `cargo run --example basic` works with no setup.

#![allow(clippy::print_stdout)]

use pgmq_sqlx::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct SignupEmail {
    to: String,
    name: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = pgmq_conformance::harness::database_url()?;
    let queue = SqlxQueue::connect(&url).await?;
    println!("connected");

    let name = QueueName::new("my_example_queue")?;
    queue.create(&name, CreateOptions::new()).await?;
    println!("created queue {name}");

    let email = SignupEmail {
        to: "ada@example.com".into(),
        name: "Ada".into(),
    };
    let msg_id = queue.send(&name, &email, SendOptions::new()).await?;
    println!("sent message {msg_id}: {email:?}");

    let received = queue
        .read::<SignupEmail>(&name, ReadOptions::new().vt_secs(30))
        .await?;
    let Some(message) = received.into_iter().next() else {
        return Err("the message we just sent was not there".into());
    };
    println!(
        "received message {} (read {} time(s), invisible until {}): {:?}",
        message.msg_id, message.read_ct, message.vt, message.message
    );

    let archived = queue.archive(&name, message.msg_id).await?;
    println!("archived message {}: {archived}", message.msg_id);

    let metrics = queue.metrics(&name).await?;
    println!(
        "queue {} now holds {} message(s); {} sent in total",
        metrics.queue_name, metrics.queue_length, metrics.total_messages
    );
    Ok(())
}
