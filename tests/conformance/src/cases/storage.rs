//! Storage parameters for churn ([`StorageParams`]) on the queue's tables, read back through
//! [`Queue::storage`], and the vacuum a caller or the [`Worker`] runs.

use std::sync::Arc;
use std::time::Duration;

use pgmq_core::serde_json::json;
use pgmq_core::{
    CreateOptions, DbErrorKind, Error, PartitionInterval, Queue, QueueExt, QueueName, QueueStorage,
    ReadOptions, SendOptions, StorageParams, StorageValue, VacuumOutcome, Worker, WorkerOptions,
    CHURN_ARCHIVE, CHURN_QUEUE_TABLE,
};
use tokio::sync::oneshot;
use tokio::time::{sleep, Instant};

use super::{assert_invalid, assert_not_found, cleanup, length, missing};
use crate::{in_transaction, unique_queue_name, TransactionalBackend, TxEnd};

/// `value` as Postgres stores it in `reloptions` when pgmq-rs set it.
fn stored(value: &StorageValue) -> String {
    match value {
        StorageValue::Int(v) => v.to_string(),
        StorageValue::Real(v) => v.to_string(),
        StorageValue::Bool(v) => v.to_string(),
        StorageValue::Auto => "auto".to_owned(),
        other => panic!("a value this suite does not know: {other:?}"),
    }
}

/// `list` as the `(name, value)` pairs [`QueueStorage`] reports.
fn pairs(list: &[(&str, StorageValue)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| ((*name).to_owned(), stored(value)))
        .collect()
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

async fn storage_of(q: &dyn Queue, name: &QueueName) -> QueueStorage {
    q.storage(name)
        .await
        .unwrap_or_else(|e| panic!("storage of {name}: {e:?}"))
}

/// Creates `tag`'s queue with `options`; returns its name.
async fn created(q: &dyn Queue, tag: &str, options: CreateOptions) -> QueueName {
    let name = unique_queue_name(tag);
    q.create(&name, options)
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    name
}

/// A new queue gets [`StorageParams::churn`] by default: every parameter of
/// [`CHURN_QUEUE_TABLE`] on its table and of [`CHURN_ARCHIVE`] on its archive, as
/// `pg_class.reloptions` holds them. Creating it again, with other storage options, leaves
/// them as they are: only a new queue gets them.
pub async fn create_tunes_a_new_queues_tables_for_churn(q: &dyn Queue) {
    let name = created(q, "sto_churn", CreateOptions::new()).await;
    let s = storage_of(q, &name).await;
    assert_eq!(s.queue_table, pairs(CHURN_QUEUE_TABLE));
    assert_eq!(s.archive, pairs(CHURN_ARCHIVE));
    assert!(
        s.queue_table
            .contains(&pair("autovacuum_vacuum_scale_factor", "0")),
        "{s:?}"
    );
    assert!(
        s.archive
            .contains(&pair("autovacuum_vacuum_insert_scale_factor", "0.05")),
        "{s:?}"
    );
    for options in [
        CreateOptions::new().without_storage_tuning(),
        CreateOptions::new()
            .storage(StorageParams::server_defaults().queue_table("fillfactor", 50)),
    ] {
        q.create(&name, options).await.expect("create again");
        let again = storage_of(q, &name).await;
        assert_eq!(
            again.queue_table, s.queue_table,
            "an existing queue keeps its own"
        );
        assert_eq!(again.archive, s.archive, "an existing queue keeps its own");
    }
    cleanup(q, &name).await;
    assert_not_found(q.storage(&name).await, &name);
    let unknown = missing("sto_unknown");
    assert_not_found(q.storage(&unknown).await, &unknown);
}

/// `without_storage_tuning` leaves both tables with the server's defaults (no
/// `reloptions`); custom parameters, alone or overriding the churn defaults, are exactly what
/// each table gets.
pub async fn create_with_custom_or_no_storage_tuning_gives_the_tables_exactly_that(q: &dyn Queue) {
    let plain = created(
        q,
        "sto_plain",
        CreateOptions::new().without_storage_tuning(),
    )
    .await;
    let s = storage_of(q, &plain).await;
    assert!(s.queue_table.is_empty() && s.archive.is_empty(), "{s:?}");

    let custom = StorageParams::server_defaults()
        .queue_table("fillfactor", 90)
        .queue_table("autovacuum_vacuum_threshold", 250)
        .archive("autovacuum_enabled", false);
    let mine = created(q, "sto_custom", CreateOptions::new().storage(custom)).await;
    let s = storage_of(q, &mine).await;
    assert_eq!(
        s.queue_table,
        [
            pair("fillfactor", "90"),
            pair("autovacuum_vacuum_threshold", "250")
        ]
    );
    assert_eq!(s.archive, [pair("autovacuum_enabled", "false")]);

    let overridden = StorageParams::churn()
        .queue_table("autovacuum_vacuum_threshold", 50)
        .queue_table("vacuum_index_cleanup", StorageValue::Auto)
        .reset_archive("autovacuum_vacuum_insert_scale_factor");
    let tuned = created(q, "sto_override", CreateOptions::new().storage(overridden)).await;
    let s = storage_of(q, &tuned).await;
    let mut expected = pairs(CHURN_QUEUE_TABLE);
    for (name, value) in &mut expected {
        if name == "autovacuum_vacuum_threshold" {
            *value = "50".to_owned();
        }
    }
    expected.push(pair("vacuum_index_cleanup", "auto"));
    assert_eq!(s.queue_table, expected);
    assert!(s.archive.is_empty(), "{s:?}");
    for name in [plain, mine, tuned] {
        cleanup(q, &name).await;
    }
}

/// `set_storage` tunes a queue created without tuning: its tables then have the parameters,
/// the same as a new queue's; applying them again changes nothing; the queue's messages stay
/// and read as before. Resets take a parameter off. An unknown queue is `QueueNotFound`.
pub async fn set_storage_tunes_an_existing_queue_idempotently_and_keeps_its_messages(
    q: &dyn Queue,
) {
    let name = created(q, "sto_set", CreateOptions::new().without_storage_tuning()).await;
    let ids = q
        .send_batch(&name, &[1, 2, 3], SendOptions::new())
        .await
        .expect("send");
    let mut seen = Vec::new();
    for _ in 0..2 {
        q.set_storage(&name, &StorageParams::churn())
            .await
            .expect("set_storage");
        let s = storage_of(q, &name).await;
        assert_eq!(s.queue_table, pairs(CHURN_QUEUE_TABLE));
        assert_eq!(s.archive, pairs(CHURN_ARCHIVE));
        seen.push(s);
    }
    assert_eq!(seen[0].queue_table, seen[1].queue_table, "idempotent");
    assert_eq!(seen[0].archive, seen[1].archive, "idempotent");
    let read = q
        .read_json(&name, ReadOptions::new().qty(10))
        .await
        .expect("read");
    let got: Vec<i64> = read.iter().map(|m| m.msg_id).collect();
    assert_eq!(got, ids, "the messages stayed");

    q.set_storage(
        &name,
        &StorageParams::server_defaults()
            .reset_queue_table("autovacuum_vacuum_threshold")
            .queue_table("fillfactor", 80),
    )
    .await
    .expect("reset one, set another");
    let s = storage_of(q, &name).await;
    assert!(
        !s.queue_table
            .iter()
            .any(|(p, _)| p == "autovacuum_vacuum_threshold"),
        "{s:?}"
    );
    assert!(s.queue_table.contains(&pair("fillfactor", "80")), "{s:?}");
    assert_eq!(s.archive, pairs(CHURN_ARCHIVE), "the archive was not named");
    q.set_storage(&name, &StorageParams::server_defaults())
        .await
        .expect("nothing to apply");
    assert_eq!(storage_of(q, &name).await.queue_table, s.queue_table);

    cleanup(q, &name).await;
    assert_not_found(q.set_storage(&name, &StorageParams::churn()).await, &name);
    let unknown = missing("sto_set_unknown");
    assert_not_found(
        q.set_storage(&unknown, &StorageParams::server_defaults())
            .await,
        &unknown,
    );
}

/// A parameter outside the list, or a value of the wrong kind, is `InvalidArgument`
/// (`"storage parameter"`) before any SQL, from `set_storage` and from `create` (which then
/// creates nothing). A value Postgres finds out of range (fillfactor 5) is its typed error,
/// SQLSTATE `22023`, and nothing changes, not even the valid parameters beside it.
pub async fn bad_storage_parameters_are_rejected_and_change_nothing(q: &dyn Queue) {
    let name = created(q, "sto_bad", CreateOptions::new().without_storage_tuning()).await;
    for params in [
        StorageParams::churn().queue_table("fill_factor", 90),
        StorageParams::server_defaults().archive("autovacuum_vacuum_threshold); --", 1),
        StorageParams::server_defaults().reset_archive("FILLFACTOR"),
        StorageParams::server_defaults().queue_table("fillfactor", 0.5),
        StorageParams::server_defaults().queue_table("autovacuum_enabled", 1),
        StorageParams::server_defaults().queue_table("autovacuum_vacuum_scale_factor", f64::NAN),
    ] {
        assert_invalid(q.set_storage(&name, &params).await, "storage parameter");
        let never = unique_queue_name("sto_never");
        assert_invalid(
            q.create(&never, CreateOptions::new().storage(params)).await,
            "storage parameter",
        );
        assert_not_found(q.storage(&never).await, &never);
    }
    let out_of_range = StorageParams::churn().queue_table("fillfactor", 5);
    match q.set_storage(&name, &out_of_range).await {
        Err(
            e @ Error::Database {
                kind: DbErrorKind::DataException,
                ..
            },
        ) => assert_eq!(e.sqlstate(), Some("22023"), "{e:?}"),
        other => panic!("expected the database's 22023, got {other:?}"),
    }
    let s = storage_of(q, &name).await;
    assert!(
        s.queue_table.is_empty() && s.archive.is_empty(),
        "nothing changed: {s:?}"
    );
    let never = unique_queue_name("sto_never");
    let refused = q
        .create(&never, CreateOptions::new().storage(out_of_range))
        .await;
    assert_eq!(
        refused.map_err(|e| e.sqlstate().map(str::to_owned)),
        Err(Some("22023".into()))
    );
    assert_not_found(q.storage(&never).await, &never);
    cleanup(q, &name).await;
}

/// A partitioned queue (pg_partman; skipped without it): each partition of its table and
/// archive gets the churn parameters at `create`, and so do the partitions maintenance adds
/// later (through pg_partman's template table); `set_storage` reaches them all.
pub async fn a_partitioned_queue_gets_its_storage_parameters_on_every_partition(q: &dyn Queue) {
    let name = unique_queue_name("sto_part");
    let ten = PartitionInterval::Messages(10);
    let options = CreateOptions::partitioned(ten, PartitionInterval::Messages(1000));
    match q.create(&name, options).await {
        Ok(()) => {}
        Err(Error::PartmanUnavailable { reason }) => {
            eprintln!("skipped: partitioned queues need pg_partman on the test server: {reason}");
            return;
        }
        Err(e) => panic!("create partitioned {name}: {e:?}"),
    }
    let s = storage_of(q, &name).await;
    assert_eq!(s.queue_table, pairs(CHURN_QUEUE_TABLE));
    assert_eq!(s.archive, pairs(CHURN_ARCHIVE));
    let before = q
        .partition_maintenance(Some(&name))
        .await
        .expect("maintenance");
    let batch = (0..45).map(|n| json!(n)).collect();
    q.send_batch_json(&name, batch, SendOptions::new())
        .await
        .expect("send 45");
    let after = q
        .partition_maintenance(Some(&name))
        .await
        .expect("maintenance");
    assert_ne!(before, after, "maintenance added partitions");
    let s = storage_of(q, &name).await;
    assert_eq!(
        s.queue_table,
        pairs(CHURN_QUEUE_TABLE),
        "new partitions too"
    );
    q.set_storage(
        &name,
        &StorageParams::server_defaults().queue_table("fillfactor", 90),
    )
    .await
    .expect("set_storage");
    let s = storage_of(q, &name).await;
    assert!(s.queue_table.contains(&pair("fillfactor", "90")), "{s:?}");
    let vacuumed = q.vacuum(&name).await.expect("vacuum");
    assert_ne!(vacuumed, VacuumOutcome::NotPermitted);
    cleanup(q, &name).await;
}

/// Waits (up to 5 s: the statistics may trail) until `name`'s manual vacuum count passes
/// `before`.
async fn until_vacuumed(q: &dyn Queue, name: &QueueName, before: u64) -> QueueStorage {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = storage_of(q, name).await;
        if s.vacuum_count > before {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: vacuum_count still {} (was {before})",
            s.vacuum_count
        );
        sleep(Duration::from_millis(50)).await;
    }
}

/// `vacuum` on a queue with dead rows (messages sent, read and deleted) answers `Vacuumed`,
/// and the server's statistics show the vacuum: the table's vacuum count rises and its last
/// vacuum is set. The queue keeps working. An unknown queue is `QueueNotFound`.
pub async fn vacuum_runs_on_a_queue_with_dead_rows(q: &dyn Queue) {
    let name = created(q, "sto_vacuum", CreateOptions::new()).await;
    let bodies: Vec<i64> = (0..100).collect();
    q.send_batch(&name, &bodies, SendOptions::new())
        .await
        .expect("send");
    let read = q
        .read_json(&name, ReadOptions::new().qty(100))
        .await
        .expect("read");
    let ids: Vec<i64> = read.iter().map(|m| m.msg_id).collect();
    assert_eq!(
        q.delete_batch(&name, &ids).await.expect("delete").len(),
        100
    );
    let before = storage_of(q, &name).await.vacuum_count;
    // Nothing else locks this table, so no vacuum is skipped; retry briefly all the same.
    let mut outcome = q.vacuum(&name).await.expect("vacuum");
    for _ in 0..20 {
        if outcome != VacuumOutcome::Skipped {
            break;
        }
        sleep(Duration::from_millis(100)).await;
        outcome = q.vacuum(&name).await.expect("vacuum");
    }
    assert_eq!(outcome, VacuumOutcome::Vacuumed);
    let after = until_vacuumed(q, &name, before).await;
    assert!(after.last_vacuum.is_some(), "{after:?}");
    q.send(&name, &json!("after"), SendOptions::new())
        .await
        .expect("send after the vacuum");
    assert_eq!(length(q, &name).await, 1);
    cleanup(q, &name).await;
    assert_not_found(q.vacuum(&name).await, &name);
    let unknown = missing("sto_vac_unknown");
    assert_not_found(q.vacuum(&unknown).await, &unknown);
}

/// A worker with `vacuum_every(50)` that handles 200 messages vacuums its queue table:
/// its summary counts at least one vacuum, and so do the server's statistics.
pub async fn worker_vacuums_its_queue_table_every_n_messages(q: Arc<dyn Queue>) {
    let name = created(&*q, "sto_worker", CreateOptions::new()).await;
    let bodies: Vec<i64> = (0..200).collect();
    for chunk in bodies.chunks(100) {
        q.send_batch(&name, chunk, SendOptions::new())
            .await
            .expect("send");
    }
    let before = storage_of(&*q, &name).await.vacuum_count;
    let options = WorkerOptions::new()
        .concurrency(16)
        .batch_size(16)
        .poll_interval(Duration::from_millis(20))
        .vacuum_every(50);
    let worker = Worker::new(Arc::clone(&q), name.clone(), options).expect("a worker");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        worker
            .run(|_| async { Ok::<(), String>(()) }, async {
                let _ = stopped.await;
            })
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while length(&*q, &name).await > 0 {
        assert!(Instant::now() < deadline, "the worker did not empty {name}");
        sleep(Duration::from_millis(25)).await;
    }
    let _ = stop.send(());
    let summary = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the worker stops")
        .expect("the worker task ran")
        .expect("the worker ran");
    assert_eq!(summary.processed, 200, "{summary:?}");
    assert!(summary.vacuums >= 1, "{summary:?}");
    until_vacuumed(&*q, &name, before).await;
    cleanup(&*q, &name).await;
}

/// `VACUUM` cannot run inside a transaction block: `vacuum` on a queue bound to the
/// caller's transaction fails with the database's SQLSTATE `25001`, and the queue outside
/// is unharmed.
pub async fn vacuum_inside_a_transaction_is_the_databases_25001(b: &dyn TransactionalBackend) {
    let q = b.queue();
    let name = created(q, "sto_txvac", CreateOptions::new()).await;
    let inside = name.clone();
    let result = in_transaction(b, move |tx, _| {
        Box::pin(async move {
            let result = tx.vacuum(&inside).await;
            (TxEnd::Rollback, result)
        })
    })
    .await
    .expect("transaction");
    match result {
        Err(
            e @ Error::Database {
                kind: DbErrorKind::Other,
                ..
            },
        ) => assert_eq!(e.sqlstate(), Some("25001"), "{e:?}"),
        other => panic!("expected the database's 25001, got {other:?}"),
    }
    assert_eq!(
        q.vacuum(&name).await.expect("vacuum outside"),
        VacuumOutcome::Vacuumed
    );
    cleanup(q, &name).await;
}
