//! Topic routing: bindings, matching and sending by routing key.
//!
//! Bindings are shared by every test running against the database, so every pattern bound
//! here outside a rolled-back transaction starts with a segment unique to its case: a key of
//! one case never reaches another case's queues.

use std::collections::BTreeSet;

use pgmq_core::{Queue, QueueExt, QueueName, ReadOptions, RoutingKey, SendOptions, TopicPattern};
use serde_json::{json, Value};

use super::{cleanup, fresh, missing};

pub(crate) fn key(s: &str) -> RoutingKey {
    RoutingKey::new(s).unwrap_or_else(|e| panic!("key {s}: {e:?}"))
}

pub(crate) fn pattern(s: &str) -> TopicPattern {
    TopicPattern::new(s).unwrap_or_else(|e| panic!("pattern {s}: {e:?}"))
}

pub(crate) async fn bind(q: &dyn Queue, p: &str, name: &QueueName) {
    q.bind_topic(&pattern(p), name)
        .await
        .unwrap_or_else(|e| panic!("bind {p} to {name}: {e:?}"));
}

/// Every visible message body of `name`, in id order (claimed for a minute).
pub(crate) async fn bodies(q: &dyn Queue, name: &QueueName) -> Vec<Value> {
    q.read_json(name, ReadOptions::new().qty(100).vt_secs(60))
        .await
        .unwrap_or_else(|e| panic!("read {name}: {e:?}"))
        .into_iter()
        .map(|m| m.message)
        .collect()
}

/// Binding is idempotent and listed (per queue and in the full list) with its pattern,
/// queue and time; unbinding answers whether there was a binding, and removes it.
pub async fn topic_bindings_round_trip_through_bind_list_and_unbind(q: &dyn Queue) {
    let name = fresh(q, "topicbind").await;
    let orders = format!("{name}.orders.*");
    let before = chrono::Utc::now() - chrono::TimeDelta::minutes(5);
    bind(q, &orders, &name).await;
    bind(q, &orders, &name).await;
    bind(q, &format!("{name}.#"), &name).await;
    let listed = q.topic_bindings(Some(&name)).await.expect("list");
    let patterns: BTreeSet<&str> = listed.iter().map(|b| b.pattern.as_str()).collect();
    assert_eq!(
        patterns,
        BTreeSet::from([orders.as_str(), &format!("{name}.#")]),
        "{listed:?}"
    );
    for b in &listed {
        assert_eq!(b.queue_name, name.as_str());
        assert!(b.bound_at > before, "{b:?}");
    }
    let all = q.topic_bindings(None).await.expect("list all");
    assert_eq!(
        all.iter().filter(|b| b.queue_name == name.as_str()).count(),
        2
    );
    let newest_first = all.windows(2).all(|w| w[0].bound_at >= w[1].bound_at);
    assert!(newest_first, "not newest first: {all:?}");

    assert!(q
        .unbind_topic(&pattern(&orders), &name)
        .await
        .expect("unbind"));
    assert!(!q
        .unbind_topic(&pattern(&orders), &name)
        .await
        .expect("unbind again"));
    let left = q.topic_bindings(Some(&name)).await.expect("list");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].pattern, format!("{name}.#"));
    cleanup(q, &name).await;
}

/// A send by routing key reaches exactly the queues with a matching pattern, once each
/// however many of its patterns match, and returns how many: `*` is one segment (also inside
/// a segment), `#` one or more, a pattern without wildcards only its own key.
pub async fn send_topic_reaches_exactly_the_matching_queues(q: &dyn Queue) {
    let a = fresh(q, "topica").await;
    let u = a.as_str();
    let mut queues = vec![a.clone()];
    for tag in ["topicb", "topicc", "topicd", "topice", "topicf"] {
        queues.push(fresh(q, tag).await);
    }
    let [a, b, c, d, e, f] = <[QueueName; 6]>::try_from(queues.clone()).expect("six queues");
    for (p, name) in [
        (format!("{u}.orders.*"), &a),
        (format!("{u}.*.created"), &a),
        (format!("{u}.orders.#"), &b),
        (format!("{u}.*.created"), &c),
        (format!("{u}.orders.created"), &d),
        (format!("{u}.payments.#"), &e),
        (format!("{u}.ord*.created"), &f),
    ] {
        bind(q, &p, name).await;
    }
    let sends = [
        (format!("{u}.orders.created"), 5),
        (format!("{u}.orders.eu.created"), 1),
        (format!("{u}.orders"), 0),
        (format!("{u}.payments.refund.created"), 1),
    ];
    for (k, reached) in &sends {
        let n = q
            .send_topic(&key(k), &json!(k), SendOptions::new())
            .await
            .unwrap_or_else(|e| panic!("send_topic {k}: {e:?}"));
        assert_eq!(n, *reached, "queues reached by {k}");
    }
    let [created, eu, _, refund] = sends.map(|(k, _)| json!(k));
    let expected = [
        (&a, vec![created.clone()]),
        (&b, vec![created.clone(), eu]),
        (&c, vec![created.clone()]),
        (&d, vec![created.clone()]),
        (&e, vec![refund]),
        (&f, vec![created]),
    ];
    for (name, want) in expected {
        assert_eq!(bodies(q, name).await, want, "messages in {name}");
    }
    for name in &queues {
        cleanup(q, name).await;
    }
}

/// A key no pattern matches is not an error: 0 queues, and nothing is written.
pub async fn a_key_no_binding_matches_sends_nothing_and_returns_zero(q: &dyn Queue) {
    let name = fresh(q, "topicnone").await;
    bind(q, &format!("{name}.a.*"), &name).await;
    let other = key(&format!("{name}.b.c"));
    let n = q.send_topic(&other, &1, SendOptions::new()).await;
    assert_eq!(n.expect("send_topic"), 0);
    let batch = q
        .send_batch_topic(&other, &[1, 2], SendOptions::new())
        .await;
    assert_eq!(batch.expect("send_batch_topic"), vec![]);
    assert!(q
        .test_routing(&other)
        .await
        .expect("test_routing")
        .is_empty());
    assert!(bodies(q, &name).await.is_empty());
    cleanup(q, &name).await;
}

/// A batch goes to every matching queue in one statement: one delivery per queue, in queue
/// name order, each with its ids in input order, and the options apply to every copy.
pub async fn send_batch_topic_delivers_every_message_to_every_matching_queue(q: &dyn Queue) {
    let x = fresh(q, "topicbatchx").await;
    let y = fresh(q, "topicbatchy").await;
    let u = x.as_str();
    bind(q, &format!("{u}.jobs.#"), &x).await;
    bind(q, &format!("{u}.*.urgent"), &y).await;
    let k = key(&format!("{u}.jobs.urgent"));
    let messages = [json!("one"), json!({"two": 2}), json!([3])];
    let headers = json!({"trace": "t-1"});
    let options = SendOptions::new().headers(headers.clone());
    let sent = q
        .send_batch_topic(&k, &messages, options)
        .await
        .expect("send_batch_topic");
    let mut names = [x.as_str(), y.as_str()];
    names.sort_unstable();
    let got: Vec<&str> = sent.iter().map(|d| d.queue_name.as_str()).collect();
    assert_eq!(got, names, "one delivery per queue, by name: {sent:?}");
    for d in &sent {
        let name = QueueName::new(&d.queue_name).expect("a queue of this case");
        assert_eq!(d.msg_ids.len(), 3, "{d:?}");
        assert!(d.msg_ids.windows(2).all(|w| w[0] < w[1]), "{d:?}");
        let read = q
            .read_json(&name, ReadOptions::new().qty(10))
            .await
            .expect("read");
        let ids: Vec<i64> = read.iter().map(|m| m.msg_id).collect();
        assert_eq!(ids, d.msg_ids);
        let got: Vec<&Value> = read.iter().map(|m| &m.message).collect();
        assert_eq!(got, messages.iter().collect::<Vec<_>>());
        assert!(read.iter().all(|m| m.headers.as_ref() == Some(&headers)));
    }
    let delayed = q
        .send_batch_topic(&k, &[1, 2], SendOptions::new().delay_secs(3600))
        .await
        .expect("delayed batch");
    assert_eq!(delayed.len(), 2);
    for name in [&x, &y] {
        let m = q.metrics(name).await.expect("metrics");
        assert_eq!(m.queue_delayed_length, 2, "delayed copies in {name}");
    }
    cleanup(q, &x).await;
    cleanup(q, &y).await;
}

/// The dry run lists exactly the bindings whose pattern `TopicPattern::matches` the key
/// (so the database's regex and the Rust matcher agree), and a send reaches exactly their
/// queues.
pub async fn test_routing_agrees_with_send_topic_and_the_pattern_matcher(q: &dyn Queue) {
    let even = fresh(q, "topicroute").await;
    let odd = fresh(q, "topicrouteodd").await;
    let u = even.as_str();
    let patterns: Vec<TopicPattern> = [
        "a.*", "a.#", "#.b", "a.*.c", "a*", "*b.c", "a#c", "a.#.c", "*.*", "a-1.b_2",
    ]
    .iter()
    .map(|p| pattern(&format!("{u}.{p}")))
    .collect();
    for (i, p) in patterns.iter().enumerate() {
        let name = if i % 2 == 0 { &even } else { &odd };
        bind(q, p.as_str(), name).await;
    }
    for k in [
        "a", "a.b", "a.b.c", "a.x.y.c", "ab", "xb.c", "a-1.b_2", "ac", "b",
    ] {
        let k = key(&format!("{u}.{k}"));
        let routed = q.test_routing(&k).await.expect("test_routing");
        let got: BTreeSet<&str> = routed.iter().map(|b| b.pattern.as_str()).collect();
        let want: BTreeSet<&str> = patterns
            .iter()
            .filter(|p| p.matches(&k))
            .map(TopicPattern::as_str)
            .collect();
        // (Ordered by pattern in the database's collation, which this cannot check.)
        assert_eq!(got, want, "bindings matching {k}");
        let queues: BTreeSet<&str> = routed.iter().map(|b| b.queue_name.as_str()).collect();
        let n = q.send_topic(&k, &1, SendOptions::new()).await;
        assert_eq!(
            n.expect("send_topic"),
            queues.len(),
            "queues reached by {k}"
        );
    }
    cleanup(q, &even).await;
    cleanup(q, &odd).await;
}

/// Binding to a queue that does not exist is `QueueNotFound` and binds nothing; unbinding
/// from one answers `false`.
pub async fn bind_topic_to_an_unknown_queue_is_queue_not_found(q: &dyn Queue) {
    let name = missing("topicmissing");
    let p = pattern(&format!("{name}.#"));
    super::assert_not_found(q.bind_topic(&p, &name).await, &name);
    assert!(q
        .topic_bindings(Some(&name))
        .await
        .expect("list")
        .is_empty());
    assert!(!q.unbind_topic(&p, &name).await.expect("unbind"));
}

/// Dropping a queue drops its bindings: they are no longer listed or routed to.
pub async fn dropping_a_queue_drops_its_bindings(q: &dyn Queue) {
    let name = fresh(q, "topicdrop").await;
    bind(q, &format!("{name}.a"), &name).await;
    bind(q, &format!("{name}.#"), &name).await;
    cleanup(q, &name).await;
    assert!(q
        .topic_bindings(Some(&name))
        .await
        .expect("list")
        .is_empty());
    let k = key(&format!("{name}.a"));
    assert!(q.test_routing(&k).await.expect("test_routing").is_empty());
    assert_eq!(
        q.send_topic(&k, &1, SendOptions::new())
            .await
            .expect("send"),
        0
    );
}
