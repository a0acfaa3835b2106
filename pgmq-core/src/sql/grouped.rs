//! Grouped reads: FIFO message groups (see [`crate::grouped`]), one statement per read.
//!
//! # Why two readers never hold one group
//! A group's *head* is its lowest `msg_id`, visible or not; the group is open while its head
//! is visible. Every grouped read takes a group's messages only together with its head,
//! from the head on, in one statement that first locks the head `FOR UPDATE SKIP LOCKED`,
//! with `vt <= now` in the locking scan's own condition. Under READ COMMITTED a row that
//! another transaction changed since this statement's snapshot is locked in its newest
//! version and its conditions are checked again on that version (EvalPlanQual), so the head
//! is taken only if it is visible *now*: a concurrent reader holding it (uncommitted) makes
//! this one skip it, one that committed has made it invisible, one that deleted it
//! (acknowledged) leaves nothing to lock. Either way this read takes nothing of the group,
//! and while the head stays invisible no read will. The rest of a group's batch (its *run*:
//! the following messages of the group, while they are visible) is locked the same way,
//! and cut at the first one not locked, so a run never has a gap. All of a read's messages
//! get one visibility timeout, from one instant, so a group's head never becomes visible
//! before the rest of its batch. Under REPEATABLE READ a concurrently changed head is a
//! serialization error, never a second holder.
//!
//! # Why a read costs little with work in flight
//! The heads come from the visible end of the `vt` index, as a plain read's messages do: the
//! first [`walk`] visible messages (the *window*), each checked for being its group's head by
//! one step in the FIFO index (the first entry at or after its key is its group's oldest
//! message). Messages in flight are never walked. Only when the window holds fewer heads than
//! the read takes (the front of the queue belongs to blocked groups: one busy group with a
//! long backlog is enough) does it look further, group by group, one index step each (a
//! recursive skip scan over the keys), from the group of a randomly picked message on and
//! round to it, until it has locked enough heads: it never scans a group's messages, and
//! stops as soon as the batch is full. Runs are read from the FIFO index, at most as many
//! rows as the batch could still hold. Index conditions are written as ranges on the key so
//! that the planner can only answer them in `(key, msg_id)` order, from the FIFO index (with
//! an equality, it may walk the primary key instead and filter, through a whole backlog).
//!
//! # Order
//! Heads in the window are ranked by `vt` (when they became visible); those found beyond it
//! come after them, in key order from the random start (so that no group is always last).
//! [`GroupOrder::Oldest`] fills the batch group by group through a nested loop over the
//! heads, stopped by its `LIMIT`: it locks only the heads it uses, relying on Postgres to
//! produce the loop's rows in its outer order (a different order would pick other groups
//! first, never break the guarantees above).

use serde_json::Value;

use super::attributes::attribute;
use super::fifo_index::group_key;
use super::read::{claimed, DEFAULT_VT_MS};
use super::{queue_table, Binds, MESSAGE};
use crate::adapter::{Param, Statement};
use crate::grouped::GroupOrder;
use crate::name::QueueName;

/// How many visible messages a read of `qty` looks at for heads before it visits every group.
pub(crate) fn walk(qty: i64) -> i64 {
    qty.saturating_mul(2).saturating_add(64)
}

/// The placeholders a grouped claim is built from, and the queue table.
struct Parts {
    qt: String,
    qty: String,
    walk: String,
    /// ` AND (<filter> IS NULL OR <alias>.message @> <filter>)`, with `{alias}` to replace.
    filter: String,
}

impl Parts {
    fn filter(&self, alias: &str) -> String {
        self.filter.replace("{alias}", alias)
    }

    /// The CTEs up to `heads`: the locked heads of open groups, those of the window first.
    fn heads(&self) -> String {
        let Self { qt, qty, walk, .. } = self;
        let key = group_key("e");
        // The group after the last one `cte` found (with a key below `bound`): its key and
        // its head, in one index step.
        let next = |cte: &str, bound: &str| {
            format!(
                "SELECT n.grp, n.head FROM {cte} g CROSS JOIN LATERAL (
    SELECT {key} AS grp, e.msg_id AS head FROM {qt} e WHERE {key} > g.grp{bound}
    ORDER BY {key}, e.msg_id LIMIT 1) n"
            )
        };
        format!(
            "WITH RECURSIVE now AS (SELECT clock_timestamp() AS t),
walked AS MATERIALIZED (
  SELECT msg_id, {plain} AS grp FROM {qt}
  WHERE vt <= (SELECT t FROM now) ORDER BY vt LIMIT {walk}
),
near AS (
  SELECT w.msg_id FROM walked w
  WHERE w.msg_id = (SELECT e.msg_id FROM {qt} e WHERE {key} >= w.grp
                    ORDER BY {key}, e.msg_id LIMIT 1)
),
near_heads AS (
  SELECT v.msg_id, v.read_ct, v.vt, {key_v} AS grp FROM {qt} v
  WHERE v.msg_id IN (SELECT msg_id FROM near) AND v.vt <= (SELECT t FROM now){filter_v}
  ORDER BY v.vt LIMIT {qty}
  FOR UPDATE SKIP LOCKED
),
start AS (
  SELECT {key} AS grp FROM {qt} e
  WHERE e.msg_id >= (SELECT min(msg_id) + floor(random() * (max(msg_id) - min(msg_id) + 1))::bigint
                     FROM {qt})
  ORDER BY e.msg_id LIMIT 1
),
upward AS (
  (SELECT {key} AS grp, e.msg_id AS head FROM {qt} e WHERE {key} >= (SELECT grp FROM start)
   ORDER BY {key}, e.msg_id LIMIT 1)
  UNION ALL
  {upward}
),
wrapped AS (
  (SELECT {key} AS grp, e.msg_id AS head FROM {qt} e WHERE {key} < (SELECT grp FROM start)
   ORDER BY {key}, e.msg_id LIMIT 1)
  UNION ALL
  {wrapped}
),
far_heads AS (
  SELECT v.* FROM (SELECT * FROM upward UNION ALL SELECT * FROM wrapped) f
  CROSS JOIN LATERAL (
    SELECT v.msg_id, v.read_ct, v.vt, {key_v} AS grp FROM {qt} v
    WHERE v.msg_id = f.head AND v.vt <= (SELECT t FROM now){filter_v}
    FOR UPDATE SKIP LOCKED) v
  WHERE (SELECT count(*) FROM walked) = {walk}
    AND NOT EXISTS (SELECT 1 FROM walked w WHERE w.msg_id = f.head)
  LIMIT {qty}
),
heads AS MATERIALIZED (
  SELECT * FROM near_heads UNION ALL SELECT * FROM far_heads LIMIT {qty}
)",
            plain = group_key(""),
            key_v = group_key("v"),
            filter_v = self.filter("v"),
            upward = next("upward", ""),
            wrapped = next("wrapped", &format!(" AND {key} < (SELECT grp FROM start)")),
        )
    }

    /// The run of the group of head `h`: its first `limit` messages (from the head on, which
    /// is its oldest) with their place `pos` and whether all up to it are `open` (visible and
    /// matching the filter).
    fn run(&self, h: &str, limit: &str) -> String {
        let key = group_key("e");
        format!(
            "SELECT e.msg_id, row_number() OVER w AS pos,
         bool_and(e.vt <= (SELECT t FROM now){filter}) OVER w AS open
  FROM (SELECT {key} AS grp, e.msg_id, e.vt, e.message FROM {qt} e
        WHERE {key} >= {h}.grp AND {key} <= {h}.grp
        ORDER BY {key}, e.msg_id LIMIT {limit}) e
  WINDOW w AS (ORDER BY e.grp, e.msg_id)",
            qt = self.qt,
            filter = self.filter("e"),
        )
    }

    /// Locks the picked messages after the heads and keeps, per group, those before the
    /// first it could not lock. Answers `msg_id, read_ct, at` (the claim's instant).
    fn keep_held(&self, picked: &str) -> String {
        format!(
            "{picked},
locked AS MATERIALIZED (
  SELECT m.msg_id, m.read_ct FROM {qt} m
  WHERE m.msg_id IN (SELECT msg_id FROM picked WHERE pos > 1) AND m.vt <= (SELECT t FROM now)
  FOR UPDATE SKIP LOCKED
)
SELECT msg_id, read_ct, (SELECT t FROM now) AS at FROM (
  SELECT p.msg_id, CASE WHEN p.pos = 1 THEN p.head_read_ct ELSE l.read_ct END AS read_ct,
         bool_and(p.pos = 1 OR l.msg_id IS NOT NULL)
           OVER (PARTITION BY p.head ORDER BY p.pos) AS held
  FROM picked p LEFT JOIN locked l ON l.msg_id = p.msg_id
) kept
WHERE held",
            qt = self.qt,
        )
    }

    /// The claim for `order`: `msg_id, read_ct, at` of every message to hand out.
    fn claim(&self, order: GroupOrder) -> String {
        let heads = self.heads();
        let qty = &self.qty;
        match order {
            GroupOrder::Heads => {
                format!("{heads}\nSELECT msg_id, read_ct, (SELECT t FROM now) AS at FROM heads")
            }
            GroupOrder::Oldest => self.keep_held(&format!(
                "{heads},
picked AS MATERIALIZED (
  SELECT h.msg_id AS head, h.read_ct AS head_read_ct, r.msg_id, r.pos
  FROM heads h CROSS JOIN LATERAL ({run}) r
  WHERE r.open
  LIMIT {qty}
)",
                run = self.run("h", qty),
            )),
            // Every group gets a message before any gets a second, so a group can add at most
            // `qty - groups` after its head.
            GroupOrder::RoundRobin => self.keep_held(&format!(
                "{heads},
ranked AS (
  SELECT h.*, row_number() OVER (ORDER BY h.vt, h.msg_id) AS g, count(*) OVER () AS groups
  FROM heads h
),
picked AS MATERIALIZED (
  SELECT r.msg_id AS head, r.read_ct AS head_read_ct, s.msg_id, s.pos
  FROM ranked r CROSS JOIN LATERAL ({run}) s
  WHERE s.open
  ORDER BY s.pos, r.g
  LIMIT {qty}
)",
                run = self.run("r", &format!("{qty} - r.groups + 1")),
            )),
        }
    }
}

/// Claims up to `qty` messages of open groups as `order` fills a batch, matching `filter`
/// when given (a group is taken only from its head on, while its messages match), and hides
/// them for `vt_ms` milliseconds (`None`: the queue's default, else 30 s), all from one
/// instant, counting the read. Messages past the queue's receive count are left out as by
/// [`read`](super::read()).
pub fn read_grouped(
    q: &QueueName,
    order: GroupOrder,
    vt_ms: Option<i64>,
    qty: i64,
    filter: Option<Value>,
) -> Statement {
    let mut b = Binds::default();
    let vt = b.bind(Param::NullableInt8(vt_ms));
    let parts = Parts {
        qt: queue_table(q),
        qty: b.bind(Param::Int8(qty)),
        walk: b.bind(Param::Int8(walk(qty))),
        filter: {
            let f = b.bind(Param::Jsonb(filter));
            format!(" AND ({f} IS NULL OR {{alias}}.message @> {f})")
        },
    };
    let act = format!(
        "UPDATE {qt} m
SET vt = claimed.at
      + COALESCE({vt}, {default_vt}, {DEFAULT_VT_MS}) * interval '1 millisecond',
    read_ct = m.read_ct + 1,
    last_read_at = claimed.at
FROM claimed",
        qt = parts.qt,
        default_vt = attribute(q, "default_vt_ms"),
    );
    b.finish(claimed(q, &parts.claim(order), &act), MESSAGE)
}

#[cfg(test)]
mod tests;
