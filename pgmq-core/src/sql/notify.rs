//! Insert notifications, on the pgmq extension's channel (`pgmq.q_<name>.INSERT`) with its
//! trigger name and throttle table, and what a waiting reader asks after an empty read.
//!
//! The trigger is per statement, so a batch notifies once. Its function takes the throttle
//! as an argument: without a throttle it notifies at once and touches no table (the
//! extension's function updates a throttle row on every insert, which makes concurrent
//! senders queue behind that row's lock until they commit).
//!
//! With a throttle, the row's `last_notified_at` starts a window of the throttle's length in
//! which sends stay silent. A send in the window's last stretch (its last 50 ms, or all of
//! it for a shorter throttle) notifies for the next window, which starts where this one
//! ends: so while sends keep coming, each window's notification goes out before the window
//! starts, and sends rarely find a closed window and wait for the row while the send that
//! notifies commits (that wait took most of a send's time with 4 senders and 64 waiting
//! consumers; BENCHMARKS.md, eighth session). Only after a quiet spell, or behind a slow
//! notifier, does a send still wait, and only briefly ([`CLAIM_WAIT_MS`]): then it
//! notifies as well. About one notification goes out per throttle interval under a steady
//! stream, at most two in any interval, plus one for each send whose wait ran out.
//!
//! The bound on the wait is what keeps a caller's transaction from deadlocking on the row:
//! two transactions that sent to two queues in opposite orders each waited for the row the
//! other's first send had claimed, until one failed with `40P01`. Not waiting at all was
//! tried and cost too much: with 64 concurrent senders, every send that found the row held
//! notified, and notifying commits queue behind each other (W9 direct sends fell by half;
//! BENCHMARKS.md, eleventh session).
//!
//! A send in a `SERIALIZABLE` transaction notifies without the throttle: the row, read and
//! written by senders, could otherwise close a cycle of read/write dependencies with the
//! caller's own, which Postgres breaks by failing the caller's transaction.
//!
//! Every throttled send reads the row: a session may not trust a window it saw earlier, as
//! the extension's `pgmq.update_notify_insert` moves the window back to the epoch without
//! touching the trigger (a per-session cache of the window, tried, missed wakes after it;
//! BENCHMARKS.md, ninth session).

use super::{columns, queue_lock_key, queue_table, Binds};
use crate::adapter::{Column, Statement};
use crate::name::QueueName;

/// The extension's name for the trigger, so its `disable_notify_insert` removes ours too.
pub(crate) const TRIGGER: &str = "trigger_notify_queue_insert_listeners";

/// The throttle table, as the extension declares it.
pub(crate) const THROTTLE_TABLE: &str = "pgmq.notify_insert_throttle";

/// The trigger function.
pub(crate) const FUNCTION: &str = "pgmq_rs.notify_insert()";

/// The prefix of the advisory lock key a throttled send holds (shared) until it ends.
const SUPPRESSED: &str = "pgmq_rs.suppressed.";

/// The longest last stretch of a throttle window in which a send notifies for the next
/// window (the whole window, for a throttle up to this long).
pub(crate) const LEAD_MS: i32 = 50;

/// How long a send that found the throttle window closed waits for each lock on the throttle
/// row while another transaction holds it (`lock_timeout`; a send queued behind others
/// waits twice: for the row, then for its holder), before it notifies instead. Far below
/// Postgres's default `deadlock_timeout` (1 s), so a wait that closes a cycle ends before
/// Postgres would fail a transaction for it (with a lower `deadlock_timeout`, the
/// `deadlock_detected` that ends the wait is caught the same way); far above the commit of
/// a send that holds the row, so the wait almost always ends with that commit. What it
/// costs: while a caller's transaction holds a claim for long, every send to the queue
/// waits this long and notifies.
pub(crate) const CLAIM_WAIT_MS: i32 = 50;

/// Statements for the install block: the throttle table (if the extension did not make it)
/// and the trigger function (replaced, so a database always runs this version's).
///
/// The function runs as its owner (`SECURITY DEFINER`, with `search_path` pinned so a caller's
/// objects cannot stand in for the ones it names), so a role that sends needs no write access
/// to the throttle table: one that could write it could stamp `last_notified_at` into the
/// future and silence every queue's notifications (`docs/least-privilege.md`). `EXECUTE` is
/// revoked from `PUBLIC`: a trigger fires without that check, and nobody else may attach the
/// function to tables of their own.
pub(super) fn install_body() -> String {
    format!(
        "CREATE UNLOGGED TABLE IF NOT EXISTS {THROTTLE_TABLE} (
    queue_name VARCHAR UNIQUE NOT NULL
      CONSTRAINT notify_insert_throttle_meta_queue_name_fk
        REFERENCES pgmq.meta (queue_name) ON DELETE CASCADE,
    throttle_interval_ms INTEGER NOT NULL DEFAULT 0,
    last_notified_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT to_timestamp(0)
  );
  CREATE SCHEMA IF NOT EXISTS pgmq_rs;
  CREATE OR REPLACE FUNCTION {FUNCTION} RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $notify$
  DECLARE
    queue text := substring(TG_TABLE_NAME FROM 3);
    last_at timestamptz;
    throttle_ms integer;
    window_end timestamptz;
    lead interval;
    now_at timestamptz;
    lock_wait text;
    claimed boolean;
  BEGIN
    -- A SERIALIZABLE send notifies without the throttle: reading the throttle row there
    -- would tie every such sender to the others' notifications through the row (read by one,
    -- written by the next), and with a conflict of the caller's own the row closes a cycle
    -- that Postgres breaks by failing the caller's transaction (`serialization_failure`),
    -- which without notifications would have committed.
    IF TG_ARGV[0]::integer > 0
       AND current_setting('transaction_isolation') <> 'serializable' THEN
      -- Held until this transaction ends, from before the decision, so a waiting reader can
      -- tell that a send it may not be told about may still commit (taken after the
      -- decision, a send paused between the two could decide on a window that a reader
      -- then saw closed, and take the lock only after that reader looked). A send that
      -- notifies holds it too, which only makes a reader look again once it ends. (Tried
      -- first as an expression, which runs no statement; it fails only while a reader holds
      -- the lock for a moment.)
      IF NOT pg_try_advisory_xact_lock_shared(hashtext('{SUPPRESSED}' || queue)) THEN
        PERFORM pg_advisory_xact_lock_shared(hashtext('{SUPPRESSED}' || queue));
      END IF;
      -- Read first: most sends of a busy queue fall inside the window and write nothing.
      SELECT t.last_notified_at, t.throttle_interval_ms INTO last_at, throttle_ms
      FROM {THROTTLE_TABLE} t WHERE t.queue_name = queue;
      -- No row (the table is unlogged, so a crash empties it): notify, as without a
      -- throttle, which is also what readers then believe (`readiness`).
      IF FOUND THEN
        window_end := last_at + throttle_ms * interval '1 millisecond';
        lead := least(throttle_ms, {LEAD_MS}) * interval '1 millisecond';
        now_at := clock_timestamp();
        IF now_at < window_end - lead THEN
          RETURN NULL;
        END IF;
        -- The block (a subtransaction, entered about once per window) is for a caller's
        -- REPEATABLE READ or SERIALIZABLE transaction: there, a change to the row committed
        -- after its snapshot (another send's notification) can be neither locked nor
        -- overwritten (`serialization_failure`). This transaction cannot see which window
        -- that change opened, so it notifies: an extra notification costs a reader one look,
        -- while failing would roll back the caller's work and silence could miss a wake.
        -- It also ends a bounded wait for the row (`lock_not_available`, or
        -- `deadlock_detected` under a `deadlock_timeout` shorter than the bound), the same
        -- way.
        BEGIN
          IF now_at < window_end THEN
            -- The window's last stretch: notify now for the next window, which starts where
            -- this one ends, so that the sends after its end find it committed and open
            -- instead of all queueing behind the row of the one send that notifies. Skip the
            -- row when another send holds it: the window, open and committed, covers this
            -- send whatever that one does (readers look again when it ends).
            PERFORM 1 FROM {THROTTLE_TABLE} t
            WHERE t.queue_name = queue AND t.last_notified_at = last_at
            FOR UPDATE SKIP LOCKED;
            IF NOT FOUND THEN
              RETURN NULL;
            END IF;
            UPDATE {THROTTLE_TABLE} t SET last_notified_at = window_end
            WHERE t.queue_name = queue;
          ELSE
            -- Closed: claim the next window. Another transaction may hold the row: most
            -- often a send claiming it, whose window, once committed, covers this send (the
            -- update then finds nothing to do, and this send stays silent). The wait for it
            -- is bounded: a send in a caller's transaction may hold a lock the holder waits
            -- for (another queue's row, when two callers send to two queues in opposite
            -- orders), and waiting on would deadlock. When the wait runs out this send
            -- notifies (`lock_not_available`, below) rather than stay silent, which would
            -- leave a parked reader asleep if the holder rolled back. No `SKIP LOCKED`
            -- either: with many concurrent senders, a notification from every send that
            -- found the row held cost more than the wait.
            -- A caller's shorter `lock_timeout` stands.
            lock_wait := current_setting('lock_timeout');
            IF lock_wait::interval = interval '0'
               OR lock_wait::interval > interval '{CLAIM_WAIT_MS} milliseconds' THEN
              PERFORM set_config('lock_timeout', '{CLAIM_WAIT_MS}ms', true);
            END IF;
            UPDATE {THROTTLE_TABLE} t SET last_notified_at = clock_timestamp()
            WHERE t.queue_name = queue
              AND clock_timestamp() - t.last_notified_at
                  >= t.throttle_interval_ms * interval '1 millisecond';
            claimed := FOUND;
            -- Put back for the rest of the caller's transaction: the function's `SET` clause
            -- restores only `search_path` (a failure undoes this one with the block).
            PERFORM set_config('lock_timeout', lock_wait, true);
            IF NOT claimed THEN
              RETURN NULL;
            END IF;
          END IF;
        EXCEPTION WHEN serialization_failure OR lock_not_available OR deadlock_detected THEN
          NULL;
        END;
      END IF;
    END IF;
    PERFORM pg_notify('pgmq.' || TG_TABLE_NAME || '.' || TG_OP, NULL);
    RETURN NULL;
  END
  $notify$;
  REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC;"
    )
}

/// For the create block: when `q`'s table has no trigger of the extension's name, ours with
/// `throttle_ms`.
pub(super) fn ensure_body(q: &QueueName, throttle_ms: i32) -> String {
    let qt = queue_table(q);
    format!(
        "
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                 WHERE tgrelid = '{qt}'::regclass AND tgname = '{TRIGGER}') THEN
    {switch_on}
  END IF;",
        switch_on = switch_on(q, throttle_ms),
    )
}

/// The throttle row and the trigger, replacing any trigger of that name.
///
/// The queue's table is locked first, as `DROP TRIGGER` would lock it: a send in flight
/// holds the table and may be waiting for the throttle row, so taking the row before the
/// table would make enabling wait for that send while the send waits for the row.
fn switch_on(q: &QueueName, throttle_ms: i32) -> String {
    let qt = queue_table(q);
    format!(
        "LOCK TABLE {qt} IN ACCESS EXCLUSIVE MODE;
    INSERT INTO {THROTTLE_TABLE} (queue_name, throttle_interval_ms)
    VALUES ('{q}', {throttle_ms})
    ON CONFLICT (queue_name) DO UPDATE
      SET throttle_interval_ms = EXCLUDED.throttle_interval_ms,
          last_notified_at = to_timestamp(0);
    DROP TRIGGER IF EXISTS {TRIGGER} ON {qt};
    CREATE TRIGGER {TRIGGER} AFTER INSERT ON {qt}
      FOR EACH STATEMENT EXECUTE FUNCTION {name}('{throttle_ms}');",
        name = FUNCTION.trim_end_matches("()"),
    )
}

/// A one-off `DO` block running `body` on `q` under the per-queue lock, after checking that
/// the queue exists (else `undefined_table`, in the words Postgres uses, which every adapter
/// maps to a missing queue).
fn on_existing_queue(q: &QueueName, body: &str) -> Statement {
    let sql = format!(
        "DO $pgmq$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('{lock}'));
  IF to_regclass('{qt}') IS NULL THEN
    RAISE EXCEPTION 'relation \"pgmq.q_{q}\" does not exist' USING ERRCODE = 'undefined_table';
  END IF;
  {body}
END
$pgmq$",
        lock = queue_lock_key(q),
        qt = queue_table(q),
    );
    super::one_off(sql, &[])
}

/// Turns insert notifications on for `q` (replacing any trigger of that name, ours or the
/// extension's), about one per `throttle_ms` milliseconds while sends keep coming and at
/// most two in any such interval (0: one per sending statement).
/// Raises `undefined_table` when the queue does not exist.
pub fn enable(q: &QueueName, throttle_ms: i32) -> Statement {
    on_existing_queue(q, &switch_on(q, throttle_ms))
}

/// Turns insert notifications off for `q`. Raises `undefined_table` when the queue does not
/// exist.
pub fn disable(q: &QueueName) -> Statement {
    let body = format!(
        "DROP TRIGGER IF EXISTS {TRIGGER} ON {qt};
  IF to_regclass('{THROTTLE_TABLE}') IS NOT NULL THEN
    DELETE FROM {THROTTLE_TABLE} WHERE queue_name = '{q}';
  END IF;",
        qt = queue_table(q),
    );
    on_existing_queue(q, &body)
}

/// What a reader about to wait on `q` asks first (before its last read):
/// - `next_visible_ms`: milliseconds until the next message becomes visible (0 or less: one
///   is visible now; `NULL`: the queue is empty);
/// - `notifies`: whether sends notify (an enabled insert trigger of the extension's name,
///   ours or the extension's);
/// - `throttle_ms`: the throttle interval of its notifications;
/// - `window_ms`: on a throttled queue, milliseconds until the current throttle window ends
///   (0 or less when it has): a send before then may stay silent (one in the window's last
///   stretch notifies for the next window, which readers then learn from its notification);
/// - `suppressed`: whether a send to the throttled queue that may not have notified has
///   not yet ended (its transaction holds [`SUPPRESSED`] shared from before it decided; this
///   statement tries it exclusively and lets go at once).
const READINESS: &[Column] = columns![
    next_visible_ms: Int8, notifies: Bool, throttle_ms: Int4, window_ms: Int8, suppressed: Bool
];

/// See [`READINESS`]. `min(vt)` is the first entry of the `vt` index.
pub fn readiness(q: &QueueName) -> Statement {
    let qt = queue_table(q);
    let sql = format!(
        "SELECT ceil(extract(epoch FROM (SELECT min(vt) FROM {qt}) - clock_timestamp())
                   * 1000)::bigint AS next_visible_ms,
       EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
               WHERE tgrelid = '{qt}'::regclass AND tgname = '{TRIGGER}'
                 AND tgenabled <> 'D') AS notifies,
       (SELECT throttle_interval_ms FROM {THROTTLE_TABLE} WHERE queue_name = '{q}')
         AS throttle_ms,
       (SELECT ceil(extract(epoch FROM t.last_notified_at
                                + t.throttle_interval_ms * interval '1 millisecond'
                                - clock_timestamp()) * 1000)::bigint
        FROM {THROTTLE_TABLE} t
        WHERE t.queue_name = '{q}' AND t.throttle_interval_ms > 0) AS window_ms,
       NOT pg_try_advisory_xact_lock(hashtext('{SUPPRESSED}{q}')) AS suppressed",
    );
    Binds::default().finish(sql, READINESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trigger_function_runs_as_its_owner_with_a_pinned_search_path() {
        let body = install_body();
        assert!(body.contains(
            "CREATE OR REPLACE FUNCTION pgmq_rs.notify_insert() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $notify$"
        ));
        assert!(body.ends_with("REVOKE ALL ON FUNCTION pgmq_rs.notify_insert() FROM PUBLIC;"));
        // With the search_path pinned, every table it touches is named with its schema.
        assert!(!body.contains("FROM notify_insert_throttle"));
        assert!(!body.contains("UPDATE notify_insert_throttle"));
    }
}
