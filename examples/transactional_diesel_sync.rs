//! Transactional enqueue on plain (blocking) diesel: an order row and its "order placed"
//! message are written in one transaction of the application's own
//! (`Connection::transaction`), so both appear or neither does. No async runtime.
//!
//! ```text
//! cargo run -p pgmq-examples --example transactional_diesel_sync
//! ```
//!
//! The database comes from `DATABASE_URL`, else a throwaway local cluster, else Docker.

#![allow(clippy::print_stdout)] // an example reports each step

use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use pgmq_diesel::core::BoxError;
use pgmq_diesel::prelude::*;
use serde_json::json;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// What someone outside the transaction sees (on a connection of its own): order rows and
/// queued messages.
fn visible(outside: &mut PgConnection, events: &QueueName) -> Result<String, BoxError> {
    let Count { n: orders } =
        diesel::sql_query("SELECT count(*) AS n FROM example_diesel_sync_orders")
            .get_result(outside)?;
    let messages = DieselSyncConnQueue::new(outside)
        .metrics(events)?
        .queue_length;
    Ok(format!("{orders} order(s), {messages} message(s)"))
}

fn main() -> Result<(), BoxError> {
    let url = pgmq_conformance::harness::database_url()?;
    let mut conn = PgConnection::establish(&url)?;
    let mut outside = PgConnection::establish(&url)?;
    let events = QueueName::new("example_diesel_sync_order_events")?;
    {
        let queue = DieselSyncConnQueue::new(&mut conn);
        queue.create(&events, CreateOptions::new())?;
        queue.purge(&events)?;
    }
    diesel::sql_query(
        "CREATE TABLE IF NOT EXISTS example_diesel_sync_orders \
         (id bigint PRIMARY KEY, item text NOT NULL)",
    )
    .execute(&mut conn)?;
    diesel::sql_query("TRUNCATE example_diesel_sync_orders").execute(&mut conn)?;
    println!("start: {}", visible(&mut outside, &events)?);

    for (id, item, commit) in [(1_i64, "book", true), (2, "lamp", false)] {
        let outcome = conn.transaction::<i64, BoxError, _>(|conn| {
            diesel::sql_query("INSERT INTO example_diesel_sync_orders (id, item) VALUES ($1, $2)")
                .bind::<BigInt, _>(id)
                .bind::<Text, _>(item)
                .execute(conn)?;
            let msg_id = DieselSyncConnQueue::new(&mut *conn).send(
                &events,
                &json!({"order": id, "item": item}),
                SendOptions::new(),
            )?;
            println!(
                "order {id}: row inserted and message {msg_id} sent in one transaction; \
                 outside sees {}",
                visible(&mut outside, &events)?
            );
            if commit {
                Ok(msg_id)
            } else {
                // Any error rolls the transaction back; this one says it was on purpose.
                Err(diesel::result::Error::RollbackTransaction.into())
            }
        });
        match outcome {
            Ok(_) => println!(
                "order {id}: committed; outside sees {}",
                visible(&mut outside, &events)?
            ),
            Err(e) if e.downcast_ref() == Some(&diesel::result::Error::RollbackTransaction) => {
                println!(
                    "order {id}: rolled back; outside sees {}",
                    visible(&mut outside, &events)?
                )
            }
            Err(e) => return Err(e),
        }
    }

    let worker = DieselSyncConnQueue::new(&mut conn);
    for msg in worker.read::<serde_json::Value>(&events, ReadOptions::new().qty(10))? {
        println!("worker: message {} says {}", msg.msg_id, msg.message);
        worker.archive(&events, msg.msg_id)?;
    }
    println!("end: {}", visible(&mut outside, &events)?);
    Ok(())
}
