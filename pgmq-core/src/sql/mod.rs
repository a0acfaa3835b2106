//! Every SQL statement pgmq-rs runs. Table names come only from a validated [`QueueName`]
//! and are always quoted; everything else travels as a bind parameter, numbered (and cast)
//! as it is bound.
//!
//! The layout is the pgmq extension's: schema `pgmq`, table `pgmq.meta`, queue tables
//! `pgmq.q_<name>` and archives `pgmq.a_<name>` with the same columns and indexes, so queues
//! made here work with the extension's functions and the reverse.

mod ack;
mod attributes;
mod ddl;
mod dead_letter;
mod fifo_index;
mod grouped;
mod metrics;
mod metrics_function;
mod notify;
mod partitions;
mod read;
mod send;
mod storage;
mod topic_function;
mod topics;

pub use ack::{
    archive, archive_fenced, delete, delete_fenced, read_archive, set_vt, set_vt_fenced,
};
pub use attributes::{attributes, set_attributes, trim_archive, StoredAttributes};
pub use ddl::{create, drop_queue, install, installed, DropQueue};
pub use dead_letter::{dead_letter, oldest_source, redrive};
pub use fifo_index::{create_fifo_index, fifo_index};
pub use grouped::read_grouped;
pub use metrics::{list_queues, metrics, metrics_all, purge};
pub(crate) use notify::LEAD_MS as NOTIFY_LEAD_MS;
pub use notify::{disable as disable_notify, enable as enable_notify, readiness};
pub use partitions::{
    convert_archive_partitioned, create_partitioned, partition_maintenance, partitions,
    PartitionSpec, MISSING, PARTMAN_MISSING, PARTMAN_REJECTED, REJECTED,
};
pub use read::{dead_letters, peek, pop, read};
pub use send::{oversized, send, send_batch};
pub use storage::{set_storage, storage, vacuum, vacuum_check, StorageActions};
pub use topics::{bind_topic, send_topic, test_routing, topic_bindings, unbind_topic};

use crate::adapter::{Column, Param, SqlType, Statement};
use crate::name::QueueName;

use SqlType::Timestamptz;

/// A column list: `columns![name: SqlType, …]`.
macro_rules! columns {
    ($($name:ident: $ty:ident),* $(,)?) => {
        &[$($crate::adapter::Column::new(
            stringify!($name),
            $crate::adapter::SqlType::$ty,
        )),*]
    };
}
pub(crate) use columns;

/// A message row: every statement that returns messages returns these, in this order, and
/// the decoder reads them by these names. The queue table's DDL is built from it too.
pub const MESSAGE: &[Column] = columns![
    msg_id: Int8, read_ct: Int4, enqueued_at: Timestamptz, last_read_at: Timestamptz,
    vt: Timestamptz, message: Jsonb, headers: Jsonb,
];

/// `base` and then `extra`, as one column list.
const fn followed_by<const N: usize>(base: &[Column], extra: Column) -> [Column; N] {
    let mut out = [extra; N];
    let mut i = 0;
    while i < base.len() && i < N {
        out[i] = base[i];
        i += 1;
    }
    out
}

const ARCHIVED_ROW: [Column; 8] = followed_by(MESSAGE, ARCHIVED_AT);
/// An archive row: the message columns, then `archived_at`.
pub const ARCHIVED: &[Column] = &ARCHIVED_ROW;

/// A count of rows acted on.
const COUNT: &[Column] = columns![count: Int8];

/// The archive's extra column.
const ARCHIVED_AT: Column = Column::new("archived_at", Timestamptz);

/// Statements that return only message ids.
pub const IDS: &[Column] = &[MESSAGE[0]];

/// Statements that return what a receipt names: the id and the read count.
pub const RECEIPTS: &[Column] = &[MESSAGE[0], MESSAGE[1]];

/// `a.msg_id, a.read_ct, …` (or unqualified with an empty `alias`).
fn column_list(columns: &[Column], alias: &str) -> String {
    let dot = if alias.is_empty() { "" } else { "." };
    columns
        .iter()
        .map(|c| format!("{alias}{dot}{}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Quoted `pgmq."q_<name>"`.
fn queue_table(q: &QueueName) -> String {
    format!("pgmq.\"q_{q}\"")
}

/// Quoted `pgmq."a_<name>"`.
fn archive_table(q: &QueueName) -> String {
    format!("pgmq.\"a_{q}\"")
}

/// The key of the per-queue advisory lock, the extension's own, so creating and dropping
/// serialize with the extension's functions too. Hashed with `hashtext` by the caller.
fn queue_lock_key(q: &QueueName) -> String {
    format!("pgmq.queue_{q}")
}

/// Bind parameters, numbered as they are bound.
#[derive(Debug, Default)]
struct Binds(Vec<Param>);

impl Binds {
    /// Appends `param` and returns its placeholder with a cast (`$3::bigint`), so that the
    /// number always matches the position and the server can infer the type when preparing.
    fn bind(&mut self, param: Param) -> String {
        let cast = param.type_name();
        self.0.push(param);
        format!("${}::{cast}", self.0.len())
    }

    /// The finished statement: `sql` with these parameters, returning `columns`.
    fn finish(self, sql: String, columns: &'static [Column]) -> Statement {
        Statement {
            sql,
            params: self.0,
            columns,
            persistent: true,
        }
    }
}

/// A statement without parameters that is run once (DDL): not kept prepared.
fn one_off(sql: String, columns: &'static [Column]) -> Statement {
    Statement {
        persistent: false,
        ..Binds::default().finish(sql, columns)
    }
}

/// The visibility instant: `at` when given, else `millis` after `now_expr`.
fn visible_at(b: &mut Binds, (millis, at): VisibleParams, now_expr: &str) -> String {
    let millis = b.bind(Param::Int8(millis));
    let at = b.bind(Param::Timestamptz(at));
    format!("COALESCE({at}, {now_expr} + {millis} * interval '1 millisecond')")
}

/// A visibility as statement parameters: milliseconds from now, or an instant.
pub type VisibleParams = (i64, Option<chrono::DateTime<chrono::Utc>>);

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    pub(super) fn name(s: &str) -> QueueName {
        QueueName::new(s).expect("valid name")
    }

    #[test]
    fn placeholders_are_numbered_in_bind_order_with_casts() {
        let mut b = Binds::default();
        assert_eq!(b.bind(Param::Int8(1)), "$1::bigint");
        assert_eq!(b.bind(Param::Jsonb(None)), "$2::jsonb");
        assert_eq!(b.bind(Param::Int8Array(vec![])), "$3::bigint[]");
        assert_eq!(b.0.len(), 3);
    }

    #[test]
    fn every_placeholder_is_cast_and_every_parameter_is_used() {
        let q = name("jobs");
        let all = [
            send(&q, Value::Null, (Some(0), None), None),
            send_batch(&q, vec![], (None, None), None),
            oversized(&q, vec![]),
            read(&q, Some(0), 1, None),
            read_grouped(&q, crate::GroupOrder::Oldest, Some(0), 1, None),
            read_grouped(&q, crate::GroupOrder::RoundRobin, None, 1, None),
            read_grouped(&q, crate::GroupOrder::Heads, None, 1, None),
            create_fifo_index(&q),
            fifo_index(&q),
            set_storage(&q, &StorageActions::default()),
            storage(&q),
            vacuum_check(&q),
            vacuum(&q),
            pop(&q, 1),
            dead_letters(&q, 10),
            peek(&q, 1),
            attributes(&q),
            set_attributes(&q, StoredAttributes::default())[1].clone(),
            trim_archive(&q, 10),
            dead_letter(&q, &name("dlq"), vec![]),
            oldest_source(&q),
            redrive(&q, &name("dlq"), Some(&name("src")), 10),
            set_vt(&q, vec![], (0, None)),
            delete(&q, vec![]),
            archive(&q, vec![]),
            set_vt_fenced(&q, vec![], (0, None)),
            delete_fenced(&q, vec![]),
            archive_fenced(&q, vec![]),
            read_archive(&q, vec![]),
            metrics(&q),
            drop_queue(&q).lock,
        ];
        for st in all {
            for i in 1..=st.params.len() {
                let bare = format!("${i}");
                let uses: Vec<_> = st
                    .sql
                    .match_indices(&bare)
                    .filter(|(at, _)| !st.sql[at + bare.len()..].starts_with(char::is_numeric))
                    .collect();
                assert!(!uses.is_empty(), "{bare} is bound but unused in {}", st.sql);
                let cast = format!("{bare}::{}", st.params[i - 1].type_name());
                assert_eq!(
                    st.sql.matches(&cast).count(),
                    uses.len(),
                    "uncast or miscast {bare} in {}",
                    st.sql
                );
            }
            let next = format!("${}", st.params.len() + 1);
            assert!(!st.sql.contains(&next), "{next} is unbound in {}", st.sql);
        }
    }

    #[test]
    fn column_lists_come_from_the_one_message_list() {
        assert_eq!(
            column_list(MESSAGE, "m"),
            "m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers"
        );
        assert_eq!(&ARCHIVED[..MESSAGE.len()], MESSAGE);
        assert_eq!(ARCHIVED[MESSAGE.len()].name, "archived_at");
    }
}
