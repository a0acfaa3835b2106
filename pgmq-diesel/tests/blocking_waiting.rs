//! The blocking twin's read with a wait pauses on its own connection's notifications: with a
//! polling interval far longer than the test, a message sent from another connection still
//! arrives within moments.

use std::thread;
use std::time::{Duration, Instant};

use pgmq_core::serde_json::{json, Value};
use pgmq_core::{CreateOptions, ReadOptions, SendOptions};
use pgmq_diesel::DieselSyncConnQueue;

fn url() -> String {
    pgmq_conformance::harness::database_url().expect("a Postgres to test against")
}

#[test]
fn a_blocking_read_with_a_wait_wakes_on_a_send() {
    let reader = DieselSyncConnQueue::connect(&url()).expect("connect");
    let name = pgmq_conformance::unique_queue_name("twinwait");
    reader.create(&name, CreateOptions::new()).expect("create");
    let (sender_name, url) = (name.clone(), url());
    let sender = thread::spawn(move || {
        let twin = DieselSyncConnQueue::connect(&url).expect("connect");
        thread::sleep(Duration::from_millis(500));
        let id = twin
            .send(&sender_name, &json!("wake"), SendOptions::new())
            .expect("send");
        (id, Instant::now())
    });
    let got = reader
        .read::<Value>(
            &name,
            ReadOptions::new()
                .wait(Duration::from_secs(20))
                .poll_interval(Duration::from_secs(10)),
        )
        .expect("read with wait");
    let (id, sent) = sender.join().expect("sender thread");
    let late = sent.elapsed();
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![id]);
    assert!(
        late < Duration::from_secs(2),
        "woke {late:?} after the send"
    );
    // Listening ended with the read: the connection runs statements as before.
    assert_eq!(reader.metrics(&name).expect("metrics").queue_length, 1);
    assert!(reader.drop_queue(&name).expect("drop"));
}

/// With a throttle, a send that did not notify (it came inside the window the previous send's
/// notification opened) still reaches a blocking reader that went back to waiting after the
/// first: it looks again when the window closes, not at its next poll.
#[test]
fn a_blocking_read_gets_a_send_the_throttle_left_silent() {
    let reader = DieselSyncConnQueue::connect(&url()).expect("connect");
    let name = pgmq_conformance::unique_queue_name("twinthrottle");
    reader.create(&name, CreateOptions::new()).expect("create");
    reader
        .enable_notify_insert(&name, Duration::from_millis(700))
        .expect("enable throttled");
    let (sender_name, url) = (name.clone(), url());
    let sender = thread::spawn(move || {
        let twin = DieselSyncConnQueue::connect(&url).expect("connect");
        thread::sleep(Duration::from_millis(300));
        let a = twin
            .send(&sender_name, &json!("a"), SendOptions::new())
            .expect("send a");
        thread::sleep(Duration::from_millis(150));
        let b = twin
            .send(&sender_name, &json!("b"), SendOptions::new())
            .expect("send b");
        (a, b, Instant::now())
    });
    let wait = ReadOptions::new()
        .wait(Duration::from_secs(20))
        .poll_interval(Duration::from_secs(10));
    let first = reader
        .read::<Value>(&name, wait.clone())
        .expect("first read");
    let second = reader.read::<Value>(&name, wait).expect("second read");
    let got_b = Instant::now();
    let (a, b, sent_b) = sender.join().expect("sender thread");
    assert_eq!(first.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![a]);
    assert_eq!(second.iter().map(|m| m.msg_id).collect::<Vec<_>>(), vec![b]);
    let late = got_b.duration_since(sent_b);
    assert!(
        late < Duration::from_secs(3),
        "got b {late:?} after it was sent"
    );
    assert!(reader.drop_queue(&name).expect("drop"));
}
