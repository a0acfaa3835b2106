//! A producer and a worker, the way a service runs them: 64 request handlers each send one
//! message through a `BatchingProducer` (so their sends share commits), and a `Worker` with 16
//! handlers processes the queue. Every 25th message fails on its first try and is retried
//! after a backoff; a queue with a dead-letter policy catches any that keep failing. The
//! worker stops on Ctrl-C or once every message is done, then prints its summary.
//!
//! Uses `DATABASE_URL` when set; otherwise a throwaway local Postgres (or a container):
//! `cargo run --example worker`.

#![allow(clippy::print_stdout)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgmq_sqlx::core::{BatchingProducer, ProducerOptions, QueueAttributes, Worker, WorkerOptions};
use pgmq_sqlx::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

#[derive(Debug, Serialize, Deserialize)]
struct Resize {
    image: u64,
}

const REQUESTS: u64 = 64;

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let url = pgmq_conformance::harness::database_url()?;
    let queue: Arc<dyn Queue> = Arc::new(SqlxQueue::connect(&url).await?);
    let jobs = QueueName::new("worker_example")?;
    let dead = QueueName::new("worker_example_dlq")?;
    queue.create(&dead, CreateOptions::new()).await?;
    let policy = QueueAttributes::new().dead_letter(dead.clone(), 3);
    queue
        .create(&jobs, CreateOptions::new().attributes(policy))
        .await?;

    // The "HTTP handlers": concurrent single sends, batched by the producer.
    let producer = BatchingProducer::new(Arc::clone(&queue), jobs.clone(), ProducerOptions::new())?;
    let started = Instant::now();
    let mut requests = tokio::task::JoinSet::new();
    for image in 0..REQUESTS {
        let producer = producer.clone();
        requests.spawn(async move { producer.send(&Resize { image }).await });
    }
    while let Some(sent) = requests.join_next().await {
        sent??;
    }
    producer.close().await;
    println!("sent {REQUESTS} messages in {:?}", started.elapsed());

    // The worker: 16 handlers, stopping on Ctrl-C or when everything is done.
    let done = Arc::new(AtomicU64::new(0));
    let all_done = Arc::new(Notify::new());
    let worker = Worker::new(
        Arc::clone(&queue),
        jobs.clone(),
        WorkerOptions::new()
            .concurrency(16)
            .vt(Duration::from_secs(10))
            .backoff(Duration::from_millis(100), Duration::from_secs(1))
            .poll_interval(Duration::from_millis(50)),
    )?;
    let handler = {
        let (done, all_done) = (Arc::clone(&done), Arc::clone(&all_done));
        move |message: Message| {
            let (done, all_done) = (Arc::clone(&done), Arc::clone(&all_done));
            async move {
                let job: Resize = serde_json::from_value(message.message)
                    .map_err(|e| format!("message {} is not a Resize: {e}", message.msg_id))?;
                tokio::time::sleep(Duration::from_millis(5)).await; // the work
                if job.image % 25 == 0 && message.read_ct == 1 {
                    return Err(format!("image {} failed on its first try", job.image));
                }
                if done.fetch_add(1, Ordering::SeqCst) + 1 == REQUESTS {
                    all_done.notify_one();
                }
                Ok::<(), String>(())
            }
        }
    };
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => println!("Ctrl-C: shutting down"),
            _ = all_done.notified() => {}
        }
    };
    let summary = worker.run(handler, shutdown).await?;
    println!(
        "worker done: {} processed, {} failed (retried), {} dead-lettered, {} stale acks",
        summary.processed, summary.failed, summary.dead_lettered, summary.stale_acks
    );
    println!(
        "queue {jobs} holds {} message(s); {dead} holds {}",
        queue.metrics(&jobs).await?.queue_length,
        queue.metrics(&dead).await?.queue_length
    );
    queue.drop_queue(&jobs).await?;
    queue.drop_queue(&dead).await?;
    Ok(())
}
