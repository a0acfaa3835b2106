//! Checks of waiting that need more than a [`Queue`]: the [`Executor`] under it (to count
//! the statements it runs) and a way to run SQL of the test's own (a plain `INSERT` from
//! another client, killing the listening connection). Each adapter's tests expand them all
//! with [`listening_tests!`](crate::listening_tests) on its pool-backed executor.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pgmq_core::adapter::{Executor, Listener, Liveness, Notifications, Row, Statement};
use pgmq_core::serde_json::json;
use pgmq_core::{
    Message, Queue, QueueExt, QueueName, ReadOptions, Result, SendOptions, WorkerOptions,
};
use tokio::time::{sleep, Instant};

use crate::cases::start;
use crate::fresh_queue;
use crate::proxy::Proxy;

/// Runs one SQL text on a connection of the test's own, panicking on failure.
pub type Sql = Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// An executor that counts the statements it runs (each `query` and `query_atomic` call)
/// and the listening connections its listener opens, and otherwise is `E`: same
/// connections, same listener.
pub struct Counting<E> {
    inner: E,
    statements: AtomicUsize,
    opened: Arc<AtomicUsize>,
    record: Arc<Record>,
    checkable: bool,
    unlistenable: bool,
}

/// What core asked of the listening connections: the channels it let go of, and how many
/// connections it dropped.
#[derive(Default)]
struct Record {
    unlistened: Mutex<Vec<String>>,
    dropped: AtomicUsize,
}

impl<E> Counting<E> {
    /// Counts what `inner` runs.
    pub fn new(inner: E) -> Self {
        Self {
            inner,
            statements: AtomicUsize::new(0),
            opened: Arc::default(),
            record: Arc::default(),
            checkable: true,
            unlistenable: true,
        }
    }

    /// As [`new`](Self::new), with listening connections that cannot be checked:
    /// [`Notifications::check`] left at its default, as a third-party adapter's may be.
    pub fn without_checks(inner: E) -> Self {
        Self {
            checkable: false,
            ..Self::new(inner)
        }
    }

    /// As [`new`](Self::new), with listening connections that cannot `UNLISTEN`:
    /// [`Notifications::unlisten`] left at its default, as a third-party adapter's may be.
    pub fn without_unlisten(inner: E) -> Self {
        Self {
            unlistenable: false,
            ..Self::new(inner)
        }
    }

    /// Statements run so far.
    pub fn statements(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }

    /// Listening connections opened so far (each [`Listener::listen`] call).
    pub fn listening_connections(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    /// Listening connections dropped so far.
    pub fn dropped_listening_connections(&self) -> usize {
        self.record.dropped.load(Ordering::SeqCst)
    }

    /// The channels core has let go of so far ([`Notifications::unlisten`] calls that
    /// succeeded), in order.
    pub fn unlistened(&self) -> Vec<String> {
        self.record
            .unlistened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A listener that counts the connections it opens.
struct CountingListener {
    inner: Arc<dyn Listener>,
    opened: Arc<AtomicUsize>,
    record: Arc<Record>,
    checkable: bool,
    unlistenable: bool,
}

/// A listening connection whose `unlisten` calls and drop are recorded.
struct Recorded {
    inner: Box<dyn Notifications>,
    record: Arc<Record>,
}

impl Drop for Recorded {
    fn drop(&mut self) {
        self.record.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Notifications for Recorded {
    async fn next(&mut self) -> Result<String> {
        self.inner.next().await
    }

    async fn listen(&mut self, channels: &[String]) -> Result<bool> {
        self.inner.listen(channels).await
    }

    async fn check(&mut self) -> Result<bool> {
        self.inner.check().await
    }

    async fn unlisten(&mut self, channels: &[String]) -> Result<bool> {
        let done = self.inner.unlisten(channels).await?;
        if done {
            self.record
                .unlistened
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(channels);
        }
        Ok(done)
    }
}

/// A listening connection with [`Notifications::unlisten`] left at its default.
struct CannotUnlisten(Box<dyn Notifications>);

#[async_trait]
impl Notifications for CannotUnlisten {
    async fn next(&mut self) -> Result<String> {
        self.0.next().await
    }

    async fn listen(&mut self, channels: &[String]) -> Result<bool> {
        self.0.listen(channels).await
    }

    async fn check(&mut self) -> Result<bool> {
        self.0.check().await
    }
}

/// A listening connection with [`Notifications::check`] left at its default.
struct Uncheckable(Box<dyn Notifications>);

#[async_trait]
impl Notifications for Uncheckable {
    async fn next(&mut self) -> Result<String> {
        self.0.next().await
    }

    async fn listen(&mut self, channels: &[String]) -> Result<bool> {
        self.0.listen(channels).await
    }

    async fn unlisten(&mut self, channels: &[String]) -> Result<bool> {
        self.0.unlisten(channels).await
    }
}

#[async_trait]
impl Listener for CountingListener {
    async fn listen(&self, channels: &[String]) -> Result<Box<dyn Notifications>> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let mut connection: Box<dyn Notifications> = Box::new(Recorded {
            inner: self.inner.listen(channels).await?,
            record: Arc::clone(&self.record),
        });
        if !self.unlistenable {
            connection = Box::new(CannotUnlisten(connection));
        }
        if !self.checkable {
            connection = Box::new(Uncheckable(connection));
        }
        Ok(connection)
    }

    fn database(&self) -> String {
        self.inner.database()
    }

    fn liveness(&self) -> Liveness {
        self.inner.liveness()
    }
}

#[async_trait]
impl<E: Executor> Executor for Counting<E> {
    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        self.statements.fetch_add(1, Ordering::SeqCst);
        self.inner.query(statement).await
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        self.statements.fetch_add(1, Ordering::SeqCst);
        self.inner.query_atomic(statements).await
    }

    async fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration).await;
    }

    fn listener(&self) -> Option<Arc<dyn Listener>> {
        let inner = self.inner.listener()?;
        Some(Arc::new(CountingListener {
            inner,
            opened: Arc::clone(&self.opened),
            record: Arc::clone(&self.record),
            checkable: self.checkable,
            unlistenable: self.unlistenable,
        }))
    }
}

/// A polling interval far longer than any of these checks wait for a message.
const SLOW: Duration = Duration::from_secs(30);

fn waiting(wait: Duration) -> ReadOptions {
    ReadOptions::new().wait(wait).poll_interval(SLOW)
}

/// 16 readers waiting on an empty queue run no statement at all while they wait; a send
/// then reaches exactly one of them.
///
/// # Panics
/// When the check fails.
pub async fn parked_readers_run_no_statements<E: Executor + 'static>(executor: E) {
    let q = Arc::new(Counting::new(executor));
    let name = fresh_queue(&*q, "parked").await;
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let (q, name) = (Arc::clone(&q), name.clone());
            tokio::spawn(async move {
                q.read_json(&name, waiting(Duration::from_secs(6)))
                    .await
                    .expect("read with wait")
                    .len()
            })
        })
        .collect();
    // Each reads, asks, reads again, then parks.
    sleep(Duration::from_millis(1500)).await;
    let before = q.statements();
    sleep(Duration::from_secs(2)).await;
    let after = q.statements();
    assert_eq!(
        after,
        before,
        "16 parked readers ran {} statements in 2 s",
        after - before
    );
    let sent = Instant::now();
    q.send(&name, &json!("one"), SendOptions::new())
        .await
        .expect("send");
    let mut got = 0;
    for reader in readers {
        got += reader.await.expect("reader task");
    }
    assert_eq!(got, 1, "one message, one reader");
    assert!(sent.elapsed() < Duration::from_secs(4));
    q.drop_queue(&name).await.expect("drop");
}

/// A message inserted with plain SQL by another client (not this library) wakes a reader.
///
/// # Panics
/// When the check fails.
pub async fn a_plain_insert_wakes_a_waiting_reader<E: Executor + 'static>(executor: E, sql: Sql) {
    let name = fresh_queue(&executor, "plain").await;
    let reader = executor.read_json(&name, waiting(Duration::from_secs(20)));
    let insert = async {
        sleep(Duration::from_millis(400)).await;
        sql(format!(
            "INSERT INTO pgmq.\"q_{name}\" (vt, message) VALUES (clock_timestamp(), '{{\"by\": \"sql\"}}')"
        ))
        .await;
        Instant::now()
    };
    let (got, inserted) = tokio::join!(reader, insert);
    let got = got.expect("read with wait");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message, json!({"by": "sql"}));
    let late = inserted.elapsed();
    assert!(
        late < Duration::from_secs(2),
        "woke {late:?} after the insert"
    );
    executor.drop_queue(&name).await.expect("drop");
}

/// A read waiting up to 20 s on the empty queue `name` while `message` is sent once
/// `before_send` has run: asserts the read got exactly that message, and returns how long
/// after the send it did.
async fn got_while_sending<E: Executor>(
    executor: &E,
    name: &QueueName,
    message: pgmq_core::serde_json::Value,
    before_send: impl std::future::Future<Output = ()>,
) -> Duration {
    let reader = executor.read_json(name, waiting(Duration::from_secs(20)));
    let sender = async {
        before_send.await;
        let id = executor
            .send(name, &message, SendOptions::new())
            .await
            .expect("send");
        (id, Instant::now())
    };
    let (got, (id, sent)) = tokio::join!(reader, sender);
    let got = got.expect("read with wait");
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![id]);
    sent.elapsed()
}

/// Kills the listening connection of this process for `name` (the one whose `LISTEN`
/// names its channel).
async fn kill_listener(sql: &Sql, name: &QueueName) {
    // Fails (and so panics) when there was no such connection to kill.
    sql(format!(
        "DO $kill$ BEGIN
           IF (SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN%'
                 AND query LIKE '%\"pgmq.q_{name}.INSERT\"%') = 0 THEN
             RAISE EXCEPTION 'no listening connection for {name}';
           END IF;
         END $kill$"
    ))
    .await;
}

/// The listening connection killed while a reader waits: the reader still gets a message
/// sent right after (by slow polling, then through the new connection), and once the
/// connection is back, the next send wakes a reader within moments again.
///
/// # Panics
/// When the check fails.
pub async fn waiting_readers_recover_when_the_listener_is_killed<E: Executor + 'static>(
    executor: E,
    sql: Sql,
) {
    let name = fresh_queue(&executor, "killed").await;
    for round in 0..2 {
        let before_send = async {
            sleep(Duration::from_millis(500)).await;
            if round == 0 {
                kill_listener(&sql, &name).await;
                sleep(Duration::from_millis(100)).await;
            }
        };
        let late =
            got_while_sending(&executor, &name, json!({ "round": round }), before_send).await;
        let limit = Duration::from_secs(if round == 0 { 4 } else { 2 });
        assert!(
            late < limit,
            "round {round}: got it {late:?} after the send"
        );
        // Let the listener reconnect before the next round.
        sleep(Duration::from_millis(1500)).await;
    }
    executor.drop_queue(&name).await.expect("drop");
}

/// The throttle of the checks below: long, so that only the state each one writes into the
/// throttle row decides where a send falls.
const LONG_THROTTLE: Duration = Duration::from_secs(60);

/// A subscription to `name` whose listening connection is up (within 10 s).
async fn listening_on<E: Executor>(executor: &E, name: &QueueName) -> pgmq_core::Subscription {
    let sub = executor.subscribe(name).await.expect("subscribe");
    assert!(sub.can_listen(), "this check needs a listening executor");
    eventually("the listening connection up", || sub.is_listening()).await;
    sub
}

/// As [`listening_on`], for a queue throttled to [`LONG_THROTTLE`], with the hub told that
/// throttle: its trailing wake then comes a minute after a notification, so within a check
/// every wake is a send's.
async fn woken_by_sends_only<E: Executor>(
    executor: &E,
    name: &QueueName,
) -> pgmq_core::Subscription {
    let sub = listening_on(executor, name).await;
    sub.set_throttle(LONG_THROTTLE);
    sub
}

/// Tells each of `subs` the throttle (so no trailing wake comes within a check) and waits
/// out the wakes their listening connection gave them as it came up (an adapter that cannot
/// add a channel to its connection replaces it for each new one), so that their next wake
/// is a notification's.
pub(crate) async fn settle(subs: &mut [pgmq_core::Subscription], throttle: Duration) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !subs.iter().all(pgmq_core::Subscription::is_listening) {
        assert!(
            Instant::now() < deadline,
            "the listening connection did not come up"
        );
        sleep(Duration::from_millis(20)).await;
    }
    for sub in subs.iter_mut() {
        sub.set_throttle(throttle);
        while tokio::time::timeout(Duration::from_millis(200), sub.changed())
            .await
            .is_ok()
        {
            assert!(
                Instant::now() < deadline,
                "the listening connection kept changing"
            );
        }
    }
}

/// Sends one message to `name` and asserts that `sub` wakes within 2 s.
async fn woken_by_a_send<E: Executor>(
    executor: &E,
    name: &QueueName,
    sub: &mut pgmq_core::Subscription,
) {
    executor
        .send(name, &json!("wake"), SendOptions::new())
        .await
        .expect("send");
    let woke = tokio::time::timeout(Duration::from_secs(2), sub.changed()).await;
    assert!(woke.is_ok(), "{name}'s reader was not woken by a send");
}

/// Holds the throttle row `row` locked for `secs` seconds from the start, in a transaction
/// of the test's own that then ends without changing it.
fn hold_row(sql: &Sql, row: &str, secs: f64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    sql(format!(
        "DO $hold$ BEGIN
           PERFORM 1 FROM {row} FOR UPDATE;
           PERFORM pg_sleep({secs});
         END $hold$"
    ))
}

/// What one read of up to ten messages claims, without waiting.
async fn read_ten<E: Executor>(executor: &E, name: &QueueName) -> Vec<Message> {
    executor
        .read_json(name, ReadOptions::new().qty(10))
        .await
        .expect("read")
}

/// A fresh queue with notifications throttled to [`LONG_THROTTLE`]: its name, the throttle
/// in milliseconds, and the `FROM`/`WHERE` naming its throttle row.
async fn long_throttled<E: Executor>(executor: &E, tag: &str) -> (QueueName, u128, String) {
    let name = fresh_queue(executor, tag).await;
    executor
        .enable_notify_insert(&name, LONG_THROTTLE)
        .await
        .expect("enable throttled");
    let row = format!("pgmq.notify_insert_throttle WHERE queue_name = '{name}'");
    (name, LONG_THROTTLE.as_millis(), row)
}

/// A send in the last stretch of a throttle window (its last 50 ms here) notifies at once
/// for the next window, which starts where this one ends; the next send, inside that
/// window, stays silent and writes nothing.
///
/// The send runs in one statement with the write that puts the window's end 49 ms ahead,
/// so its trigger falls in that stretch unless the statement stalls for 49 ms. Before the
/// change that added the stretch, such a send stayed silent, leaving the notification to the
/// first send after the window's end.
///
/// # Panics
/// When the check fails.
pub async fn a_send_late_in_the_throttle_window_notifies_for_the_next<E: Executor + 'static>(
    executor: E,
    sql: Sql,
) {
    let (name, ms, row) = long_throttled(&executor, "late_send").await;
    let mut sub = listening_on(&executor, &name).await;
    // The message is the window's start as written, to compare with what the send left.
    sql(format!(
        "WITH w AS (
           UPDATE pgmq.notify_insert_throttle
           SET last_notified_at = clock_timestamp() - ({ms} - 49) * interval '1 millisecond'
           WHERE queue_name = '{name}' RETURNING last_notified_at)
         INSERT INTO pgmq.\"q_{name}\" (vt, message)
         SELECT clock_timestamp(), to_jsonb(w.last_notified_at) FROM w"
    ))
    .await;
    let woke = tokio::time::timeout(Duration::from_secs(3), sub.changed()).await;
    assert!(woke.is_ok(), "the send late in the window did not notify");
    // The next window starts exactly where the old one ended (a send after the window's end
    // would have started it at its own clock instead). The send after it writes nothing, so
    // it did not notify either: with the row present, the trigger notifies only after
    // writing it.
    sql(format!(
        "DO $check$
         DECLARE
           next_start timestamptz := (SELECT last_notified_at FROM {row});
         BEGIN
           IF next_start IS DISTINCT FROM
              (SELECT (message #>> '{{}}')::timestamptz + {ms} * interval '1 millisecond'
               FROM pgmq.\"q_{name}\")
           THEN
             RAISE EXCEPTION 'the next window does not start at the old one''s end: %',
               next_start;
           END IF;
           INSERT INTO pgmq.\"q_{name}\" (vt, message) VALUES (clock_timestamp(), '\"next\"');
           IF (SELECT last_notified_at FROM {row}) IS DISTINCT FROM next_start THEN
             RAISE EXCEPTION 'a send inside the next window wrote the throttle row';
           END IF;
         END $check$"
    ))
    .await;
    let got = read_ten(&executor, &name).await;
    assert_eq!(got.len(), 2, "{got:?}");
    drop(sub);
    executor.drop_queue(&name).await.expect("drop");
}

/// A send in the last stretch of a throttle window while another transaction holds the
/// throttle row neither waits for it nor notifies: the window, open and committed, covers
/// it. A reader parked inside that window still gets the message soon after the window
/// ends, though nothing notified and the row's holder never did.
///
/// The send is a `DO` block that waits until 49 ms before the window's end, then inserts;
/// it fails if the insert waited for the row's holder (which keeps it for 4 s) or wrote the
/// row.
///
/// # Panics
/// When the check fails.
pub async fn a_send_late_in_the_throttle_window_skips_a_held_row<E: Executor + 'static>(
    executor: E,
    sql: Sql,
) {
    let (name, ms, row) = long_throttled(&executor, "held_row").await;
    // The window ends a second and a half from now.
    sql(format!(
        "UPDATE pgmq.notify_insert_throttle
         SET last_notified_at = clock_timestamp() - ({ms} - 1500) * interval '1 millisecond'
         WHERE queue_name = '{name}'"
    ))
    .await;
    // Parked inside the open window: it learns the window's end before it parks.
    let reader = executor.read_json(&name, waiting(Duration::from_secs(20)));
    let holder = {
        let sql = Arc::clone(&sql);
        let row = row.clone();
        tokio::spawn(async move {
            sleep(Duration::from_millis(200)).await;
            hold_row(&sql, &row, 4.0).await;
        })
    };
    let sender = async {
        sleep(Duration::from_millis(600)).await;
        sql(format!(
            "DO $send$
             DECLARE
               window_end timestamptz;
               before timestamptz;
             BEGIN
               SELECT last_notified_at + {ms} * interval '1 millisecond', last_notified_at
                 INTO window_end, before FROM {row};
               WHILE clock_timestamp() < window_end - interval '49 milliseconds' LOOP
                 PERFORM pg_sleep(0.001);
               END LOOP;
               IF clock_timestamp() >= window_end - interval '25 milliseconds' THEN
                 RAISE EXCEPTION 'the send came too late in the window to check anything';
               END IF;
               INSERT INTO pgmq.\"q_{name}\" (vt, message)
               VALUES (clock_timestamp(), '\"skipped\"');
               IF clock_timestamp() >= window_end THEN
                 RAISE EXCEPTION 'the send waited for the row''s holder';
               END IF;
               IF (SELECT last_notified_at FROM {row}) IS DISTINCT FROM before THEN
                 RAISE EXCEPTION 'the send wrote the held row';
               END IF;
             END $send$"
        ))
        .await;
        Instant::now()
    };
    let (got, sent) = tokio::join!(reader, sender);
    let got = got.expect("read with wait");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].message, json!("skipped"));
    // The window ended about 49 ms after the send; readers look again just after it ends.
    let late = sent.elapsed();
    assert!(
        late < Duration::from_secs(2),
        "got it {late:?} after the send"
    );
    holder.await.expect("the row's holder");
    executor.drop_queue(&name).await.expect("drop");
}

/// A throttled queue whose throttle row is gone (the table is unlogged: a crash empties it)
/// still wakes a waiting reader at once: its sends notify as if unthrottled, which is what
/// `readiness` then reports.
///
/// # Panics
/// When the check fails.
pub async fn a_throttled_queue_without_its_throttle_row_still_notifies<E: Executor + 'static>(
    executor: E,
    sql: Sql,
) {
    let (name, _, row) = long_throttled(&executor, "no_row").await;
    sql(format!("DELETE FROM {row}")).await;
    let ready = executor.readiness(&name).await.expect("readiness");
    assert!(ready.notifies && ready.throttle.is_none(), "{ready:?}");
    let _listening = listening_on(&executor, &name).await;
    let pause = sleep(Duration::from_millis(400));
    let late = got_while_sending(&executor, &name, json!("no row"), pause).await;
    assert!(
        late < Duration::from_secs(2),
        "woke {late:?} after the send"
    );
    executor.drop_queue(&name).await.expect("drop");
}

/// A send in a caller's `REPEATABLE READ` or `SERIALIZABLE` transaction whose snapshot is
/// older than the throttle row's latest change (another send's notification, committed
/// meanwhile) commits, and notifies. Such a send can neither lock nor overwrite the row;
/// before the trigger caught that, the caller's whole transaction failed with a
/// serialization error (40001).
///
/// Two rounds per level: the snapshot sees the window closed (the trigger updates the row),
/// then in its last stretch (the trigger locks the row). Each time another client moves the
/// window after the snapshot was taken, to one that has already ended, so a send that stayed
/// silent instead would leave a parked reader asleep.
///
/// # Panics
/// When the check fails.
pub async fn a_send_in_a_snapshot_older_than_the_throttle_row_commits_and_notifies<
    E: Executor + 'static,
>(
    executor: E,
    sql: Sql,
) {
    let (name, ms, row) = long_throttled(&executor, "rr_send").await;
    let mut sub = woken_by_sends_only(&executor, &name).await;
    let rounds = ["REPEATABLE READ", "SERIALIZABLE"]
        .into_iter()
        .flat_map(|level| [(level, "closed"), (level, "late")]);
    for (level, round) in rounds {
        if round == "late" {
            // The window ends a second from now.
            sql(format!(
                "UPDATE pgmq.notify_insert_throttle
                 SET last_notified_at = clock_timestamp() - ({ms} - 1000) * interval '1 millisecond'
                 WHERE queue_name = '{name}'"
            ))
            .await;
        }
        // The send waits (in its snapshot's window) until 49 ms before that window's end,
        // which has long passed in the closed round.
        let send = sql(format!(
            "BEGIN ISOLATION LEVEL {level};
             SELECT last_notified_at FROM {row};
             SELECT pg_sleep(0.4);
             DO $send$
             DECLARE
               window_end timestamptz :=
                 (SELECT last_notified_at + {ms} * interval '1 millisecond' FROM {row});
             BEGIN
               WHILE clock_timestamp() < window_end - interval '49 milliseconds' LOOP
                 PERFORM pg_sleep(0.001);
               END LOOP;
               IF '{round}' = 'late'
                  AND clock_timestamp() >= window_end - interval '25 milliseconds' THEN
                 RAISE EXCEPTION 'the send came too late in the window to check anything';
               END IF;
               INSERT INTO pgmq.\"q_{name}\" (vt, message)
               VALUES (clock_timestamp(), to_jsonb('{round}'::text));
             END $send$;
             COMMIT;"
        ));
        let mover = async {
            sleep(Duration::from_millis(150)).await;
            sql(format!(
                "UPDATE pgmq.notify_insert_throttle
                 SET last_notified_at = clock_timestamp() - ({ms} + 1000) * interval '1 millisecond'
                 WHERE queue_name = '{name}'"
            ))
            .await;
        };
        tokio::join!(send, mover);
        let woke = tokio::time::timeout(Duration::from_secs(2), sub.changed()).await;
        assert!(woke.is_ok(), "{level}, {round}: the send did not notify");
        let got = read_ten(&executor, &name).await;
        assert_eq!(
            got.iter().map(|m| m.message.clone()).collect::<Vec<_>>(),
            vec![json!(round)]
        );
        assert!(executor.delete(&name, got[0].msg_id).await.expect("delete"));
    }
    drop(sub);
    executor.drop_queue(&name).await.expect("drop");
}

/// `enable_notify_insert` while a send waits for the throttle row: both succeed. The send
/// holds the queue's table and waits for the row; enabling used to take the row first and
/// then wait for the table, a deadlock that failed one of the two after `deadlock_timeout`.
///
/// Another transaction holds the row for 1.5 s; enabling starts while it does, and the send
/// (whose window is closed, so its trigger writes the row) after that.
///
/// # Panics
/// When the check fails.
pub async fn enabling_notifications_while_a_send_waits_for_the_row_does_not_deadlock<
    E: Executor + 'static,
>(
    executor: E,
    sql: Sql,
) {
    let (name, _, row) = long_throttled(&executor, "enable_race").await;
    let holder = hold_row(&sql, &row, 1.5);
    let enable = async {
        sleep(Duration::from_millis(300)).await;
        executor.enable_notify_insert(&name, LONG_THROTTLE).await
    };
    let send = async {
        sleep(Duration::from_millis(600)).await;
        executor
            .send(&name, &json!("raced"), SendOptions::new())
            .await
    };
    let ((), enabled, sent) = tokio::join!(holder, enable, send);
    enabled.expect("enable_notify_insert");
    let id = sent.expect("send");
    let got = read_ten(&executor, &name).await;
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![id]);
    executor.drop_queue(&name).await.expect("drop");
}

/// A waiting read woken while every turn to read is taken (the process's readers of the
/// queue ahead of it stuck behind a lock on the queue's table) still returns at its
/// deadline, empty, instead of waiting for a turn past it.
///
/// # Panics
/// When the check fails.
pub async fn a_waiting_read_ends_at_its_deadline_while_the_readers_ahead_are_stuck<
    E: Executor + 'static,
>(
    executor: E,
    sql: Sql,
) {
    const WAIT: Duration = Duration::from_millis(1500);
    let name = fresh_queue(&executor, "stuck_turns").await;
    let _listening = listening_on(&executor, &name).await;
    let reader = async {
        let start = Instant::now();
        let got = executor.read_json(&name, waiting(WAIT)).await;
        (got, start.elapsed())
    };
    let rest = async {
        // The reader parks on the empty queue; then the table is locked for 4 s.
        sleep(Duration::from_millis(300)).await;
        let locker = tokio::spawn(sql(format!(
            "DO $lock$ BEGIN
               LOCK TABLE pgmq.\"q_{name}\" IN ACCESS EXCLUSIVE MODE;
               PERFORM pg_sleep(4);
             END $lock$"
        )));
        sleep(Duration::from_millis(200)).await;
        // More waiting readers than read at a time (four): their first reads take every
        // turn and wait for the lock.
        let stuck = || executor.read_json(&name, waiting(Duration::from_secs(1)));
        let blocked = async { tokio::join!(stuck(), stuck(), stuck(), stuck(), stuck(), stuck()) };
        let wake = async {
            sleep(Duration::from_millis(300)).await;
            sql(format!("NOTIFY \"pgmq.q_{name}.INSERT\"")).await;
        };
        let (blocked, ()) = tokio::join!(blocked, wake);
        locker.await.expect("the locker");
        blocked
    };
    let ((got, took), blocked) = tokio::join!(reader, rest);
    assert!(got.expect("read with wait").is_empty());
    assert!(
        took < WAIT + Duration::from_millis(700),
        "returned {took:?} after it started, for a wait of {WAIT:?}"
    );
    for read in [
        blocked.0, blocked.1, blocked.2, blocked.3, blocked.4, blocked.5,
    ] {
        assert!(read.expect("a blocked read").is_empty());
    }
    executor.drop_queue(&name).await.expect("drop");
}

/// A reader that takes a notification's wake and goes away before reading (its read
/// cancelled, say by a caller's timeout) passes the wake on: another parked reader of the
/// queue wakes, instead of sleeping to its deadline with the message there.
///
/// # Panics
/// When the check fails.
pub async fn a_wake_dropped_before_its_read_goes_to_another_reader<E: Executor + 'static>(
    executor: E,
    _sql: Sql,
) {
    let (name, _, _) = long_throttled(&executor, "dropped_wake").await;
    let mut first = woken_by_sends_only(&executor, &name).await;
    let mut second = listening_on(&executor, &name).await;
    let send = async {
        sleep(Duration::from_millis(300)).await;
        executor
            .send(&name, &json!("one"), SendOptions::new())
            .await
            .expect("send");
    };
    let woken = async {
        tokio::select! {
            () = first.changed() => 1,
            () = second.changed() => 2,
        }
    };
    let (woken, ()) = tokio::join!(woken, send);
    let mut other = if woken == 1 {
        drop(first);
        second
    } else {
        drop(second);
        first
    };
    let woke = tokio::time::timeout(Duration::from_secs(2), other.changed()).await;
    assert!(
        woke.is_ok(),
        "the wake of the reader that went away was lost"
    );
    other.answered();
    drop(other);
    executor.drop_queue(&name).await.expect("drop");
}

/// A send after the throttle row was moved back to the epoch (as the extension's
/// `pgmq.update_notify_insert` does, without touching the trigger) notifies, even from a
/// session whose earlier send opened the window that the reset ended. A session must not
/// trust a window it saw earlier over the row: a reader parked after the reset expects the
/// next send to notify.
///
/// One connection sends, commits, sleeps while the test resets the row, then sends again.
///
/// # Panics
/// When the check fails.
pub async fn a_send_after_the_throttle_row_is_reset_notifies<E: Executor + 'static>(
    executor: E,
    sql: Sql,
) {
    let (name, _, row) = long_throttled(&executor, "row_reset").await;
    let mut sub = woken_by_sends_only(&executor, &name).await;
    let insert = |n: u32| {
        format!("INSERT INTO pgmq.\"q_{name}\" (vt, message) VALUES (clock_timestamp(), '{n}')")
    };
    let session = sql(format!(
        "{first}; {again}; COMMIT; SELECT pg_sleep(1.5); COMMIT; {second};",
        first = insert(1),
        again = insert(2),
        second = insert(3),
    ));
    let reset = async {
        let first = tokio::time::timeout(Duration::from_secs(2), sub.changed()).await;
        assert!(
            first.is_ok(),
            "the first send, in a closed window, did not notify"
        );
        sql(format!(
            "UPDATE pgmq.notify_insert_throttle SET last_notified_at = to_timestamp(0)
             WHERE queue_name = '{name}'"
        ))
        .await;
    };
    tokio::join!(session, reset);
    let woke = tokio::time::timeout(Duration::from_secs(2), sub.changed()).await;
    assert!(woke.is_ok(), "the send after the reset did not notify");
    sql(format!(
        "DO $check$ BEGIN
           IF (SELECT last_notified_at FROM {row}) = to_timestamp(0) THEN
             RAISE EXCEPTION 'the send after the reset did not open a window';
           END IF;
         END $check$"
    ))
    .await;
    drop(sub);
    executor.drop_queue(&name).await.expect("drop");
}

/// A process that starts waiting on a second queue keeps its listening connection: it runs
/// `LISTEN` for the new queue there, so the first queue's readers are not woken (they
/// missed nothing) and its notifications keep coming. Before, a new connection replaced the
/// old one for each new queue and every reader of every queue woke to read again.
///
/// # Panics
/// When the check fails.
pub async fn waiting_on_another_queue_keeps_the_listening_connection<E: Executor + 'static>(
    executor: E,
    _sql: Sql,
) {
    let (first, _, _) = long_throttled(&executor, "keep_first").await;
    let (second, _, _) = long_throttled(&executor, "keep_second").await;
    let mut a = woken_by_sends_only(&executor, &first).await;
    let mut b = woken_by_sends_only(&executor, &second).await;
    let stray = tokio::time::timeout(Duration::from_millis(300), a.changed()).await;
    assert!(
        stray.is_err(),
        "{first}'s reader woke when {second}'s started listening"
    );
    woken_by_a_send(&executor, &first, &mut a).await;
    woken_by_a_send(&executor, &second, &mut b).await;
    drop((a, b));
    executor.drop_queue(&first).await.expect("drop");
    executor.drop_queue(&second).await.expect("drop");
}

/// A send that finds the throttle window closed and the throttle row held by another
/// transaction (which then ends without moving the window, as a claim rolled back would)
/// waits for the row only briefly, then notifies: a parked reader wakes long before the
/// holder ends. With a caller's `lock_timeout` shorter than that wait, the send still
/// succeeds, and notifies. Before, the send waited for the holder to end (and a caller's
/// short `lock_timeout` failed it with `55P03`). Once the row is free, a send that claims
/// the window leaves the caller's `lock_timeout` as it found it.
///
/// # Panics
/// When the check fails.
pub async fn a_send_behind_a_held_throttle_row_waits_briefly_then_notifies<
    E: Executor + 'static,
>(
    executor: E,
    sql: Sql,
) {
    let (name, _, row) = long_throttled(&executor, "held_row").await;
    let mut sub = woken_by_sends_only(&executor, &name).await;
    // Holds the row for 3 s from its start; the sends start 300 ms in.
    let holder = tokio::spawn(hold_row(&sql, &row, 3.0));
    sleep(Duration::from_millis(300)).await;
    let rounds = [
        (
            "with the caller's lock_timeout",
            "SET LOCAL lock_timeout = '20ms';",
        ),
        ("without", ""),
    ];
    for (round, setting) in rounds {
        let started = Instant::now();
        sql(format!(
            "BEGIN; {setting}
             INSERT INTO pgmq.\"q_{name}\" (vt, message) VALUES (clock_timestamp(), '\"held\"');
             COMMIT;"
        ))
        .await;
        let woke = tokio::time::timeout(Duration::from_millis(800), sub.changed()).await;
        let took = started.elapsed();
        assert!(woke.is_ok(), "{round}: no notification within {took:?}");
        assert!(
            took < Duration::from_millis(1200),
            "{round}: the send and its wake took {took:?}"
        );
    }
    assert!(
        !holder.is_finished(),
        "the holder ended before the sends did"
    );
    holder.await.expect("the row's holder");
    // The window is still closed and the row free: this send claims the window, and the
    // caller's `lock_timeout` is as it was for the rest of its transaction.
    sql(format!(
        "BEGIN; SET LOCAL lock_timeout = '7s';
         INSERT INTO pgmq.\"q_{name}\" (vt, message) VALUES (clock_timestamp(), '\"claims\"');
         DO $check$ BEGIN
           IF current_setting('lock_timeout') <> '7s' THEN
             RAISE EXCEPTION 'the send left lock_timeout at %', current_setting('lock_timeout');
           END IF;
         END $check$;
         COMMIT;"
    ))
    .await;
    assert_eq!(read_ten(&executor, &name).await.len(), 3);
    drop(sub);
    executor.drop_queue(&name).await.expect("drop");
}

/// Readers that start waiting on two queues at once, in a process that has no listening
/// connection yet, share one: the queue that comes while the connection is being opened is
/// listened on once it is up, on that connection. Both then wake on a send. Before, each
/// new queue opened a new connection, and one that came during the opening abandoned it.
/// (Whether the second queue comes during the opening depends on timing: it comes 1 ms
/// after the first, and opening a connection takes longer than that here.)
///
/// # Panics
/// When the check fails.
pub async fn queues_subscribed_at_once_share_one_listening_connection<E: Executor + 'static>(
    executor: E,
    _sql: Sql,
) {
    let q = Counting::new(executor);
    let (first, _, _) = long_throttled(&q, "at_once_first").await;
    let (second, _, _) = long_throttled(&q, "at_once_second").await;
    assert_eq!(
        q.listening_connections(),
        0,
        "listened before any subscription"
    );
    // The second a moment after the first: while its connection is being opened.
    let later = async {
        sleep(Duration::from_millis(1)).await;
        listening_on(&q, &second).await
    };
    let (a, b) = tokio::join!(listening_on(&q, &first), later);
    assert_eq!(
        q.listening_connections(),
        1,
        "listening connections opened for two queues"
    );
    let mut subs = [a, b];
    settle(&mut subs, LONG_THROTTLE).await;
    let [mut a, mut b] = subs;
    woken_by_a_send(&q, &first, &mut a).await;
    woken_by_a_send(&q, &second, &mut b).await;
    assert_eq!(q.listening_connections(), 1);
    drop((a, b));
    q.drop_queue(&first).await.expect("drop");
    q.drop_queue(&second).await.expect("drop");
}

/// Sends in `SERIALIZABLE` transactions add no serialization failure of their own. Here the
/// first transaction's send falls inside a throttle window (before, it read the throttle
/// row), the second's claims the next window (it wrote the row), and the second read a row
/// the first then updates: with the throttle row, that made a cycle, and Postgres failed the
/// first transaction with `40001` ("pivot"); without notifications both commit. Now a
/// `SERIALIZABLE` send notifies without the throttle and both commit.
///
/// # Panics
/// When the check fails.
pub async fn serializable_sends_add_no_serialization_failure<E: Executor + 'static>(
    executor: E,
    sql: Sql,
) {
    let name = fresh_queue(&executor, "ssi").await;
    executor
        .enable_notify_insert(&name, Duration::from_millis(50))
        .await
        .expect("enable throttled");
    let table = format!("pgmq_check_{name}");
    let row = format!("pgmq.notify_insert_throttle WHERE queue_name = '{name}'");
    sql(format!(
        "CREATE TABLE {table} (id int PRIMARY KEY, v int NOT NULL);
         INSERT INTO {table} VALUES (1, 0);
         UPDATE pgmq.notify_insert_throttle
         SET last_notified_at = clock_timestamp() + interval '400 milliseconds'
         WHERE queue_name = '{name}';"
    ))
    .await;
    let insert = |text: &str| {
        format!(
            "INSERT INTO pgmq.\"q_{name}\" (vt, message) VALUES (clock_timestamp(), '\"{text}\"')"
        )
    };
    // Inside the window claimed ahead (silent), then an update of the row the other read.
    let first = sql(format!(
        "BEGIN ISOLATION LEVEL SERIALIZABLE;
         {};
         SELECT pg_sleep(0.8);
         UPDATE {table} SET v = v + 1 WHERE id = 1;
         COMMIT;",
        insert("first")
    ));
    // Reads that row, then sends just after the claimed window starts (it claims the next).
    let second = async {
        sleep(Duration::from_millis(100)).await;
        sql(format!(
            "BEGIN ISOLATION LEVEL SERIALIZABLE;
             SELECT v FROM {table} WHERE id = 1;
             DO $wait$ BEGIN
               WHILE clock_timestamp()
                     < (SELECT last_notified_at FROM {row}) + interval '2 milliseconds' LOOP
                 PERFORM pg_sleep(0.001);
               END LOOP;
             END $wait$;
             {};
             COMMIT;",
            insert("second")
        ))
        .await;
    };
    tokio::join!(first, second);
    assert_eq!(read_ten(&executor, &name).await.len(), 2);
    sql(format!("DROP TABLE {table}")).await;
    executor.drop_queue(&name).await.expect("drop");
}

/// A listening connection that the network silently stops carrying (a [`Proxy`] in front of
/// the server stops forwarding, both sockets stay open): checked after a quiet spell, it does
/// not answer, and is replaced; a reader parked meanwhile is woken to read again and gets a
/// message whose notification went to the dead connection, and later sends wake readers
/// through the new connection. A quiet connection that does answer is kept.
///
/// `connect` makes the backend's pool-backed queue from a URL (here the proxy's), its
/// listening connection checked as the given [`Liveness`] says.
///
/// # Panics
/// When the check fails.
pub async fn a_silently_dropped_listening_connection_is_replaced<E, F, Fut>(url: String, connect: F)
where
    E: Executor + 'static,
    F: Fn(String, Liveness) -> Fut,
    Fut: Future<Output = Result<E>>,
{
    let (proxy, executor) = behind_a_proxy(&url, connect, QUICK_CHECKS).await;
    let name = fresh_queue(&executor, "silent").await;
    let sub = listening_on(&executor, &name).await;
    // Several checks of a connection that answers: it stays.
    sleep(Duration::from_millis(1500)).await;
    assert!(sub.is_listening());
    assert_eq!(
        executor.listening_connections(),
        1,
        "a healthy connection was replaced"
    );
    silence_listening(&proxy, &name);
    drop(sub);
    // Without checks, the reader would wait out its 20 s for a notification that went to
    // the silenced connection.
    got_within(&executor, &name, "first", 200, Duration::from_secs(6)).await;
    assert_eq!(
        executor.listening_connections(),
        2,
        "one new listening connection"
    );
    // The new connection carries notifications.
    let sub = listening_on(&executor, &name).await;
    drop(sub);
    got_within(&executor, &name, "second", 300, Duration::from_secs(2)).await;
    executor.drop_queue(&name).await.expect("drop");
}

/// A read waiting on the empty queue `name` while `message` is sent `delay_ms` later:
/// asserts it got that message within `limit` of the send.
async fn got_within<E: Executor>(
    executor: &E,
    name: &QueueName,
    message: &str,
    delay_ms: u64,
    limit: Duration,
) {
    let delay = sleep(Duration::from_millis(delay_ms));
    let late = got_while_sending(executor, name, json!(message), delay).await;
    assert!(late < limit, "{name}: got it {late:?} after the send");
}

/// Silences (see [`Proxy::silence`]) the one listening connection that listens on `name`.
fn silence_listening(proxy: &Proxy, name: &QueueName) {
    let channel = pgmq_core::notify_channel(name);
    assert_eq!(
        proxy.silence(&channel),
        1,
        "one connection listens on {channel}"
    );
}

/// Checks of quiet listening connections every 300 ms, each given 1.5 s to answer (a
/// loaded test machine can take a few hundred milliseconds for a round trip).
const QUICK_CHECKS: Liveness = Liveness {
    quiet: Duration::from_millis(300),
    timeout: Duration::from_millis(1500),
    unlisten_after: Duration::from_secs(60),
};

/// A [`Proxy`] in front of `url`'s server, and the backend `connect` makes through it with
/// its listening connections checked as `liveness` says (counting them).
async fn behind_a_proxy<E, F, Fut>(
    url: &str,
    connect: F,
    liveness: Liveness,
) -> (Proxy, Counting<E>)
where
    F: Fn(String, Liveness) -> Fut,
    Fut: Future<Output = Result<E>>,
{
    let proxy = Proxy::start(url).await;
    let executor = connect(proxy.url(url), liveness)
        .await
        .expect("connect through the proxy");
    (proxy, Counting::new(executor))
}

/// A queue first waited on while the listening connection is silently dropped (see
/// [`a_silently_dropped_listening_connection_is_replaced`]): its `LISTEN` on that
/// connection gets no answer, is given up after the check's time limit, and a new
/// connection listens on every queue, so sends to the new queue and the old one both wake
/// readers. The checks of quiet connections are set a minute apart here, so only the
/// `LISTEN`'s own time limit can notice.
///
/// # Panics
/// When the check fails.
pub async fn a_new_queue_on_a_silently_dropped_listening_connection_gets_a_new_one<E, F, Fut>(
    url: String,
    connect: F,
) where
    E: Executor + 'static,
    F: Fn(String, Liveness) -> Fut,
    Fut: Future<Output = Result<E>>,
{
    let liveness = Liveness {
        quiet: Duration::from_secs(60),
        ..QUICK_CHECKS
    };
    let (proxy, executor) = behind_a_proxy(&url, connect, liveness).await;
    let first = fresh_queue(&executor, "silent_first").await;
    let second = fresh_queue(&executor, "silent_second").await;
    let sub = listening_on(&executor, &first).await;
    silence_listening(&proxy, &first);
    // Without a limit on the `LISTEN`, the connection would never come up for this queue.
    let second_sub = listening_on(&executor, &second).await;
    assert!(sub.is_listening());
    assert_eq!(
        executor.listening_connections(),
        2,
        "one new listening connection"
    );
    drop((sub, second_sub));
    for name in [&first, &second] {
        got_within(&executor, name, name.as_str(), 300, Duration::from_secs(2)).await;
    }
    executor.drop_queue(&first).await.expect("drop");
    executor.drop_queue(&second).await.expect("drop");
}

/// A worker on a quiet queue whose listening connection the network silently drops (see
/// [`a_silently_dropped_listening_connection_is_replaced`]): parked with nothing due, it
/// waits for a notification alone, so only the failed check wakes it; it then handles a
/// message sent after, and stops with it processed.
///
/// # Panics
/// When the check fails.
pub async fn a_worker_recovers_from_a_silently_dropped_listening_connection<E, F, Fut>(
    url: String,
    connect: F,
) where
    E: Executor + 'static,
    F: Fn(String, Liveness) -> Fut,
    Fut: Future<Output = Result<E>>,
{
    let (proxy, executor) = behind_a_proxy(&url, connect, QUICK_CHECKS).await;
    let executor = Arc::new(executor);
    let queue: Arc<dyn Queue> = Arc::clone(&executor) as Arc<dyn Queue>;
    let name = fresh_queue(&*queue, "silent_worker").await;
    let (handled, mut got) = tokio::sync::mpsc::unbounded_channel();
    let worker = start(
        Arc::clone(&queue),
        &name,
        WorkerOptions::new(),
        move |m: Message| {
            let handled = handled.clone();
            async move {
                let _ = handled.send(m.message);
                Ok(())
            }
        },
    );
    // The worker's channel is listened on (this subscription shares its connection), and
    // the worker has found the queue empty and parked.
    drop(listening_on(&*executor, &name).await);
    sleep(Duration::from_millis(300)).await;
    silence_listening(&proxy, &name);
    sleep(Duration::from_millis(200)).await;
    queue
        .send(&name, &json!("for the worker"), SendOptions::new())
        .await
        .expect("send");
    let message = tokio::time::timeout(Duration::from_secs(6), got.recv())
        .await
        .expect("the worker handled the message within 6 s of its send")
        .expect("the worker is running");
    assert_eq!(message, json!("for the worker"));
    let summary = worker.stop().await;
    assert_eq!(summary.processed, 1);
    queue.drop_queue(&name).await.expect("drop");
}

/// An adapter whose listening connections cannot be checked ([`Notifications::check`] left
/// at its default): the first check, after the quiet spell, wakes a parked reader once (the
/// `next` dropped for it may have lost a notification) and is the last; the connection is
/// kept, and sends still wake readers through it.
///
/// # Panics
/// When the check fails.
pub async fn a_connection_that_cannot_be_checked_is_kept_and_wakes_its_readers_once<E, F, Fut>(
    url: String,
    connect: F,
) where
    E: Executor + 'static,
    F: Fn(String, Liveness) -> Fut,
    Fut: Future<Output = Result<E>>,
{
    let executor = Counting::without_checks(
        connect(url, QUICK_CHECKS)
            .await
            .expect("connect the backend"),
    );
    let name = fresh_queue(&executor, "unchecked").await;
    let mut sub = listening_on(&executor, &name).await;
    let woke = tokio::time::timeout(Duration::from_secs(3), sub.changed()).await;
    assert!(
        woke.is_ok(),
        "the first check did not wake the parked reader"
    );
    let again = tokio::time::timeout(Duration::from_secs(1), sub.changed()).await;
    assert!(again.is_err(), "woken again without a send: checks went on");
    assert_eq!(
        executor.listening_connections(),
        1,
        "the connection was replaced"
    );
    woken_by_a_send(&executor, &name, &mut sub).await;
    assert_eq!(
        executor.listening_connections(),
        1,
        "the connection was replaced"
    );
    executor.drop_queue(&name).await.expect("drop");
}

/// Waits up to 10 s for `done`, polling every 20 ms; panics with `what` when it never holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        sleep(Duration::from_millis(20)).await;
    }
}

/// Records in a table named `table` the backends whose last statement began with `prefix`
/// (`pg_stat_activity`; fails when there is none), for [`gone_check`].
fn record_backends(table: &str, prefix: &str) -> String {
    let like = prefix.replace('\'', "''");
    format!(
        "DROP TABLE IF EXISTS {table};
CREATE TABLE {table} AS SELECT pid FROM pg_stat_activity WHERE query LIKE '{like}%';
DO $check$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM {table}) THEN
    RAISE EXCEPTION 'the last statement of no backend begins with {like}';
  END IF;
END
$check$"
    )
}

/// SQL that fails unless, within 5 s, every backend recorded in `table` (see
/// [`record_backends`]) has ended; then drops the table.
fn gone_check(table: &str) -> String {
    format!(
        "DO $check$
BEGIN
  FOR i IN 1..100 LOOP
    PERFORM pg_stat_clear_snapshot();
    IF NOT EXISTS (SELECT 1 FROM pg_stat_activity a JOIN {table} t ON t.pid = a.pid) THEN
      RETURN;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RAISE EXCEPTION 'a recorded listening connection is still open';
END
$check$;
DROP TABLE {table};"
    )
}

/// Whether `sub` is woken within `within`.
async fn woken(sub: &mut pgmq_core::Subscription, within: Duration) -> bool {
    tokio::time::timeout(within, sub.changed()).await.is_ok()
}

/// Sends one message to `name` and asserts that it wakes `sub` (which nothing else woke in
/// the 300 ms before). `sub` must be [`woken_by_sends_only`], or the send's trailing wake
/// would wake it again a throttle later.
async fn send_wakes<E: Executor>(
    executor: &E,
    name: &QueueName,
    sub: &mut pgmq_core::Subscription,
) {
    assert!(
        !woken(sub, Duration::from_millis(300)).await,
        "woken without a send to {name}"
    );
    woken_by_a_send(executor, name, sub).await;
}

/// The liveness of the let-go checks: a queue nobody waits on is let go of 200-400 ms later.
fn letting_go_soon() -> Liveness {
    Liveness {
        unlisten_after: Duration::from_millis(200),
        ..Liveness::default()
    }
}

/// Two fresh queues named after `tag` on one listening connection: the first subscribed to,
/// the second [`woken_by_sends_only`].
async fn two_waited_on<E: Executor>(
    executor: &Counting<E>,
    tag: &str,
) -> (
    QueueName,
    QueueName,
    pgmq_core::Subscription,
    pgmq_core::Subscription,
) {
    let first = fresh_queue(executor, &format!("{tag}_first")).await;
    let second = fresh_queue(executor, &format!("{tag}_second")).await;
    let first_sub = listening_on(executor, &first).await;
    let second_sub = woken_by_sends_only(executor, &second).await;
    assert_eq!(executor.listening_connections(), 1);
    (first, second, first_sub, second_sub)
}

/// A queue no reader waits on any more is let go of ([`Liveness::unlisten_after`]): its
/// channel gets an `UNLISTEN` on the listening connection, which keeps listening on (and
/// waking the readers of) the queues still waited on, without waking them for it. Waiting on
/// it again listens on it again on the same connection. Once no queue is waited on, the
/// connection is closed; waiting again opens a new one, whose notifications wake readers.
///
/// # Panics
/// When the check fails.
pub async fn a_queue_nobody_waits_on_is_let_go_of<E, F, Fut>(url: String, connect: F, sql: Sql)
where
    E: Executor + 'static,
    F: Fn(String, Liveness) -> Fut,
    Fut: Future<Output = Result<E>>,
{
    let executor = Counting::new(connect(url, letting_go_soon()).await.expect("connect"));
    let (first, second, first_sub, mut second_sub) = two_waited_on(&executor, "letgo").await;
    let first_channel = pgmq_core::notify_channel(&first);

    drop(first_sub);
    eventually("the unwaited queue let go of", || {
        executor.unlistened().contains(&first_channel)
    })
    .await;
    assert_eq!(executor.unlistened(), vec![first_channel.clone()]);
    // The server ran it: the listening connection's last statement is that `UNLISTEN`.
    let table = format!("letgo_{first}");
    sql(record_backends(
        &table,
        &format!("UNLISTEN \"{first_channel}\""),
    ))
    .await;
    // The same connection still listens on the queue still waited on, and letting go of
    // the other woke nobody.
    assert!(second_sub.is_listening());
    send_wakes(&executor, &second, &mut second_sub).await;

    // Waiting on the let-go queue again listens on it on the same connection.
    let mut again = woken_by_sends_only(&executor, &first).await;
    send_wakes(&executor, &first, &mut again).await;
    assert_eq!(executor.listening_connections(), 1);
    assert_eq!(executor.dropped_listening_connections(), 0);

    drop(again);
    drop(second_sub);
    eventually("the listening connection closed", || {
        executor.dropped_listening_connections() == 1
    })
    .await;
    // The server saw it go.
    sql(gone_check(&table)).await;

    // Waiting again listens anew, on a new connection, and a send wakes the reader.
    let mut anew = woken_by_sends_only(&executor, &first).await;
    assert_eq!(executor.listening_connections(), 2);
    send_wakes(&executor, &first, &mut anew).await;
    drop(anew);
    eventually("the second listening connection closed", || {
        executor.dropped_listening_connections() == 2
    })
    .await;

    // A subscription given up while it waited for the connection to listen is not counted
    // on either: that connection too is closed.
    let given_up = tokio::time::timeout(Duration::from_micros(1), executor.subscribe(&second));
    assert!(given_up.await.is_err(), "subscribed within a microsecond");
    eventually("the given-up subscription's connection closed", || {
        executor.listening_connections() == 3 && executor.dropped_listening_connections() == 3
    })
    .await;
    executor.drop_queue(&first).await.expect("drop");
    executor.drop_queue(&second).await.expect("drop");
}

/// On a listening connection that cannot `UNLISTEN` ([`Notifications::unlisten`] left at
/// its default), letting go of a queue replaces the connection once (its readers read
/// again), and from then on queues are let go of only all at once, by closing the
/// connection: never again at the cost of a new connection and a wake of every reader.
///
/// # Panics
/// When the check fails.
pub async fn a_connection_that_cannot_unlisten_is_closed_once_nothing_is_waited_on<E, F, Fut>(
    url: String,
    connect: F,
) where
    E: Executor + 'static,
    F: Fn(String, Liveness) -> Fut,
    Fut: Future<Output = Result<E>>,
{
    let executor =
        Counting::without_unlisten(connect(url, letting_go_soon()).await.expect("connect"));
    let (first, second, first_sub, mut second_sub) = two_waited_on(&executor, "nounlisten").await;

    // The first let-go finds that the connection cannot: a new one listens on the rest.
    drop(first_sub);
    eventually("the connection replaced", || {
        executor.listening_connections() == 2 && executor.dropped_listening_connections() == 1
    })
    .await;
    assert!(
        woken(&mut second_sub, Duration::from_secs(5)).await,
        "the new connection woke the waiting reader to read again"
    );
    assert!(executor.unlistened().is_empty());
    // It may be woken once more: as the old connection went, and as the new one came up.
    settle(std::slice::from_mut(&mut second_sub), LONG_THROTTLE).await;
    send_wakes(&executor, &second, &mut second_sub).await;

    // From then on, a queue nobody waits on beside one still waited on stays listened on.
    let again = listening_on(&executor, &first).await;
    drop(again);
    assert!(
        !woken(&mut second_sub, Duration::from_secs(1)).await,
        "letting go of a queue woke another queue's reader"
    );
    assert_eq!(executor.listening_connections(), 2);
    assert_eq!(executor.dropped_listening_connections(), 1);
    send_wakes(&executor, &second, &mut second_sub).await;

    // Nothing waited on: the connection is closed.
    drop(second_sub);
    eventually("the listening connection closed", || {
        executor.dropped_listening_connections() == 2
    })
    .await;
    assert_eq!(executor.listening_connections(), 2);
    executor.drop_queue(&first).await.expect("drop");
    executor.drop_queue(&second).await.expect("drop");
}
