//! Partitioned queues (pg_partman). On a server without pg_partman, `create` answers
//! `PartmanUnavailable`: each case then says so on stderr and checks nothing more (CI creates
//! pg_partman, so there they always run).

use std::time::Duration;

use pgmq_core::{
    CreateOptions, Error, Fence, PartitionInfo, PartitionInterval, Partitioning, Queue, QueueExt,
    QueueName, ReadOptions, SendOptions,
};
use serde_json::json;

use super::cleanup;

const HOUR: Duration = Duration::from_secs(3600);

/// A new queue partitioned as given, or `None` (with a note) without pg_partman.
async fn partitioned(
    q: &dyn Queue,
    tag: &str,
    interval: PartitionInterval,
    retention: PartitionInterval,
) -> Option<QueueName> {
    let name = crate::unique_queue_name(tag);
    match q
        .create(&name, CreateOptions::partitioned(interval, retention))
        .await
    {
        Ok(()) => Some(name),
        Err(Error::PartmanUnavailable { reason }) => {
            eprintln!("skipped: partitioned queues need pg_partman on the test server: {reason}");
            None
        }
        Err(e) => panic!("create partitioned {name}: {e:?}"),
    }
}

async fn counts(q: &dyn Queue, name: &QueueName) -> PartitionInfo {
    let infos = q
        .partition_maintenance(Some(name))
        .await
        .expect("partition_maintenance");
    assert_eq!(infos.len(), 1, "{infos:?}");
    infos.into_iter().next().expect("one")
}

/// Every operation on a queue partitioned every 10 ids, across four partitions.
async fn works_across_partitions(q: &dyn Queue, name: &QueueName) {
    let info = q.list_queues().await.expect("list");
    let info = info.iter().find(|i| i.queue_name == name.as_str());
    assert!(info.expect("listed").is_partitioned);
    let sent = q
        .send_batch_json(
            name,
            (0..35).map(|n| json!({ "n": n })).collect(),
            SendOptions::new(),
        )
        .await
        .expect("send 35");
    assert_eq!(sent.len(), 35);
    // One batch shares one visibility instant: a read of all of it gets all of it.
    let got = q
        .read_json(name, ReadOptions::new().qty(35).vt_secs(30))
        .await
        .expect("read");
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), sent);
    let archived = q
        .archive_batch(name, &[sent[1], sent[12], sent[25]])
        .await
        .expect("archive");
    assert_eq!(archived.len(), 3);
    assert_eq!(
        q.delete_receipts(name, &[got[5].receipt(), got[15].receipt()])
            .await
            .expect("delete_receipts"),
        [Fence::Acted, Fence::Acted]
    );
    assert_eq!(
        q.delete_batch(name, &[sent[33]]).await.expect("delete"),
        [sent[33]]
    );
    let now = pgmq_core::VisibleAt::now();
    let released = q.set_vt_batch(name, &[sent[9], sent[30]], now).await;
    assert_eq!(released.expect("set_vt").len(), 2);
    let popped = q.pop_json(name, 1).await.expect("pop");
    assert_eq!(popped[0].msg_id, sent[9]);
    let m = q.metrics(name).await.expect("metrics");
    assert_eq!((m.queue_length, m.total_messages), (28, 35));
    assert_eq!(m.queue_visible_length, 1);
    let read_back = q.read_archive(name, &archived).await.expect("read_archive");
    assert_eq!(read_back.len(), 3);
    assert_eq!(q.purge(name).await.expect("purge"), 28);
}

/// A queue partitioned by message id takes sends, reads, receipts, archives, metrics and
/// purge across partition boundaries, and is listed as partitioned.
pub async fn a_queue_partitioned_by_id_works_across_partitions(q: &dyn Queue) {
    let ten = PartitionInterval::Messages(10);
    let Some(name) = partitioned(q, "part_id", ten, PartitionInterval::Messages(1000)).await else {
        return;
    };
    works_across_partitions(q, &name).await;
    let parts = counts(q, &name).await;
    assert!(
        parts.queue_partitions >= 5 && parts.archive_partitions >= 5,
        "{parts:?}"
    );
    cleanup(q, &name).await;
}

/// A queue partitioned by time (queue by `enqueued_at`, archive by `archived_at`) works.
pub async fn a_queue_partitioned_by_time_works(q: &dyn Queue) {
    let day = PartitionInterval::Time(24 * HOUR);
    let Some(name) = partitioned(q, "part_time", PartitionInterval::Time(HOUR), day).await else {
        return;
    };
    works_across_partitions(q, &name).await;
    let parts = counts(q, &name).await;
    assert!(
        parts.queue_partitions > 1 && parts.archive_partitions > 1,
        "{parts:?}"
    );
    cleanup(q, &name).await;
}

/// A waiting read on a partitioned queue wakes on a send (its insert trigger is on the
/// partitioned table).
pub async fn a_waiting_read_on_a_partitioned_queue_wakes_on_a_send(q: &dyn Queue) {
    let ten = PartitionInterval::Messages(10);
    let Some(name) = partitioned(q, "part_wait", ten, PartitionInterval::Messages(100)).await
    else {
        return;
    };
    let wait = ReadOptions::new().wait(Duration::from_secs(10));
    let (got, sent) = tokio::join!(q.read_json(&name, wait), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        q.send_json(&name, json!("wake"), SendOptions::new()).await
    });
    let got = got.expect("read with a wait");
    assert_eq!(
        got.iter().map(|m| m.msg_id).collect::<Vec<_>>(),
        [sent.expect("send")]
    );
    cleanup(q, &name).await;
}

/// Maintenance makes partitions ahead of the newest message and drops those past the
/// retention, messages and all.
pub async fn partition_maintenance_adds_partitions_ahead_and_drops_old_ones(q: &dyn Queue) {
    let ten = PartitionInterval::Messages(10);
    let Some(name) = partitioned(q, "part_maint", ten, PartitionInterval::Messages(20)).await
    else {
        return;
    };
    // pg_partman made partitions for ids 0 to 49; maintenance must run before sends pass
    // them (beyond, they land in the default partition, which maintenance cannot split).
    let before = counts(q, &name).await;
    let batch = (0..45).map(|n| json!(n)).collect();
    q.send_batch_json(&name, batch, SendOptions::new())
        .await
        .expect("send 45");
    let after = counts(q, &name).await;
    assert_ne!(
        before.queue_partitions, after.queue_partitions,
        "{before:?} {after:?}"
    );
    let left = q.metrics(&name).await.expect("metrics").queue_length;
    assert!(
        left < 75,
        "retention dropped the oldest partitions: {left} left"
    );
    let m = q
        .read_json(&name, ReadOptions::new().qty(100))
        .await
        .expect("read");
    assert_eq!(m.len() as i64, left);
    assert!(q
        .partition_maintenance(None)
        .await
        .expect("maintain all")
        .iter()
        .any(|i| i.queue_name == name.as_str()));
    cleanup(q, &name).await;
}

/// Dropping a partitioned queue removes pg_partman's configuration of it: maintenance no
/// longer lists it and the same name can be made partitioned again.
pub async fn dropping_a_partitioned_queue_clears_its_partman_configuration(q: &dyn Queue) {
    let ten = PartitionInterval::Messages(10);
    let Some(name) = partitioned(q, "part_drop", ten, PartitionInterval::Messages(100)).await
    else {
        return;
    };
    assert!(q.drop_queue(&name).await.expect("drop"));
    let all = q.partition_maintenance(None).await.expect("maintain all");
    assert!(!all.iter().any(|i| i.queue_name == name.as_str()));
    assert!(matches!(
        q.partition_maintenance(Some(&name)).await,
        Err(Error::QueueNotFound { .. })
    ));
    q.create(
        &name,
        CreateOptions::partitioned(ten, PartitionInterval::Messages(100)),
    )
    .await
    .expect("the same name again");
    q.send_json(&name, json!(1), SendOptions::new())
        .await
        .expect("send");
    cleanup(q, &name).await;
}

/// Settings pg_partman refuses, or that cannot hold, are typed errors and create nothing.
pub async fn bad_partition_settings_are_rejected_and_create_nothing(q: &dyn Queue) {
    let hour = PartitionInterval::Time(HOUR);
    let Some(probe) = partitioned(q, "part_bad", hour, hour).await else {
        return;
    };
    cleanup(q, &probe).await;
    let name = crate::unique_queue_name("part_bad");
    let short =
        CreateOptions::partitioned(PartitionInterval::Time(Duration::from_millis(500)), hour);
    match q.create(&name, short).await {
        Err(Error::InvalidArgument { argument, reason }) => {
            assert_eq!(argument, "partition interval");
            assert!(
                reason.contains("1 second"),
                "pg_partman's message: {reason}"
            );
        }
        other => panic!("a half-second interval: {other:?}"),
    }
    let mixed = CreateOptions::partitioned(PartitionInterval::Messages(10), hour);
    assert!(matches!(
        q.create(&name, mixed).await,
        Err(Error::InvalidArgument { .. })
    ));
    let mut unlogged = CreateOptions::partitioned(hour, hour);
    unlogged.unlogged = true;
    assert!(matches!(
        q.create(&name, unlogged).await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(
        !q.drop_queue(&name).await.expect("drop"),
        "nothing was created"
    );
}

/// `convert_archive_partitioned` gives a plain queue a partitioned archive that archiving
/// then uses; converting again changes nothing.
pub async fn convert_archive_partitioned_partitions_a_plain_archive(q: &dyn Queue) {
    // The longest name a queue may have: the renamed index must still fit in 63 bytes.
    let base = crate::unique_queue_name("part_conv").to_string();
    let padded = format!(
        "{base}{}",
        "x".repeat(QueueName::MAX_LEN.saturating_sub(base.len()))
    );
    let name = QueueName::new(&padded).expect("a 47-character name");
    assert_eq!(name.as_str().len(), QueueName::MAX_LEN);
    q.create(&name, CreateOptions::new()).await.expect("create");
    let by_id = Partitioning {
        interval: PartitionInterval::Messages(10),
        retention: PartitionInterval::Messages(100),
    };
    match q.convert_archive_partitioned(&name, by_id).await {
        Err(Error::PartmanUnavailable { reason }) => {
            eprintln!("skipped: converting an archive needs pg_partman: {reason}");
            return cleanup(q, &name).await;
        }
        other => other.expect("convert"),
    }
    q.convert_archive_partitioned(&name, by_id)
        .await
        .expect("again");
    let parts = counts(q, &name).await;
    assert_eq!(parts.queue_partitions, 0);
    assert!(parts.archive_partitions > 1, "{parts:?}");
    let id = q
        .send_json(&name, json!(1), SendOptions::new())
        .await
        .expect("send");
    assert!(q.archive(&name, id).await.expect("archive"));
    assert_eq!(
        q.read_archive(&name, &[id])
            .await
            .expect("read_archive")
            .len(),
        1
    );
    let missing = crate::unique_queue_name("part_conv");
    assert!(matches!(
        q.convert_archive_partitioned(&missing, by_id).await,
        Err(Error::QueueNotFound { .. })
    ));
    cleanup(q, &name).await;
}
