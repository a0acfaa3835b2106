//! Hostile queue names beyond [`queue_name_rejects_hostile_and_malformed_names`]'s dozen: a
//! corpus of a few hundred, judged against the rules written out independently here, and
//! the valid names that look dangerous (keywords, 47 characters, other queues' object names)
//! taken through a real database.
//!
//! [`queue_name_rejects_hostile_and_malformed_names`]: super::queue_name_rejects_hostile_and_malformed_names

use std::collections::BTreeSet;

use pgmq_core::{CreateOptions, Error, Queue, QueueExt, QueueName, ReadOptions, SendOptions};
use serde_json::json;

use super::{cleanup, fresh, length};
use crate::{in_transaction, unique_queue_name, TransactionalBackend, TxEnd};

/// Names written out by hand: injection, quoting, comments, look-alikes, control characters.
#[rustfmt::skip]
const HANDWRITTEN: &[&str] = &[
    "", " ", "\t", "\n", "\0", "a\0", "\0a", "x'; DROP TABLE pgmq.meta; --",
    "q\"; DROP SCHEMA pgmq CASCADE; --", "q' OR '1'='1", "q'||pg_sleep(10)||'", "q$$; SELECT 1; $$",
    "$pgmq$", "q$pgmq$", "\"x\"", "'x'", "`x`", "x/**/y", "x--", "--x", "/*x*/",
    "x);DROP TABLE pgmq.meta;--", "pgmq.meta", "pgmq\".\"meta", "public.x", "..", ".", "-",
    "_-_", "%", "_%", "a%_", "\\", "\\x", "a\\'b", "E'\\x27'", "U&\"\\0061\"", " lead", "trail ",
    "esc\x1b[31m", "del\x7f", "bell\x07", "é", "café", "straße", "ß", "ı", "dıx", "İx",
    "\u{212A}elvin", "ſelect", "ѕelect", "sеlect", "ｓｅｌｅｃｔ", "select\u{200B}", "\u{200D}",
    "\u{200F}abc", "abc\u{202E}cba", "\u{FEFF}bom", "😀", "👨‍👩‍👧", "名前", "очередь", "صف", "α",
    "x\u{0301}", "ǅ", "Ⅻ", "١٢٣", "²", "0", "9lives", "0x1f", "1e10", "123", "007_bond", "-1",
    "+1", "a::text", "a[1]", "x\u{a0}y", "x\u{3000}y", "x\u{2028}y", "x\u{85}y", "null",
    "NULL", "true", "NaN", "_", "__", "a", "Z", "_1",
];

/// Characters that must never reach an identifier; each is planted at the start, in the
/// middle and at the end of a valid name.
#[rustfmt::skip]
const PLANTED: &[&str] = &[
    "'", "\"", "`", ";", "--", "/*", "*/", "%", "\\", ".", "-", " ", "\t", "\n", "\r", "\x1b",
    "\x7f", "\0", "$", "(", ")", "=", "*", "?", ":", "@", "#", "+", ",", "/", "[", "]", "{",
    "}", "<", ">", "|", "&", "^", "~", "!", "é", "ß", "ı", "İ", "а", "е", "😀", "\u{200F}",
    "\u{202E}", "\u{200D}", "\u{200B}", "\u{FEFF}", "ａ", "\u{212A}", "ſ", "\u{0301}",
    "\u{a0}",
];

/// Keywords (reserved in SQL or meaningful to pgmq) that are valid names.
#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "select", "table", "user", "order", "from", "where", "group", "limit", "offset", "null",
    "true", "all", "and", "or", "not", "as", "create", "drop", "delete", "insert", "update",
    "grant", "union", "join", "default", "check", "column", "constraint", "primary", "end",
    "case", "when", "do", "current_user", "session_user", "pg_catalog", "pgmq", "pgmq_rs",
    "meta", "public", "information_schema", "q_", "a_",
];

/// The corpus: the handwritten names, planted characters, lengths around the limit, keywords
/// in three casings and with pgmq's own prefix, and every leading digit. Distinct entries.
fn corpus() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = HANDWRITTEN.iter().map(|s| (*s).to_owned()).collect();
    for c in PLANTED {
        names.extend([format!("{c}q"), format!("q{c}q"), format!("q{c}")]);
    }
    for n in [1, 46, 47, 48, 49, 63, 64, 100, 1000] {
        names.extend(["a", "_", "Z"].map(|c| c.repeat(n)));
    }
    let a46 = "a".repeat(46);
    names.extend([
        format!("{a46}é"),
        "é".repeat(24),
        format!("{a46}a\0"),
        format!("{a46}1"),
    ]);
    for word in KEYWORDS {
        let mut capital = word.to_string();
        capital[..1].make_ascii_uppercase();
        names.extend([word.to_string(), word.to_ascii_uppercase(), capital]);
        names.insert(format!("q_{word}"));
    }
    for d in 0..10 {
        names.extend([format!("{d}q"), format!("q{d}")]);
    }
    names
}

/// The rules, written out again independently of `QueueName`: 1 to 47 ASCII letters, digits
/// and `_`, not starting with a digit.
fn allowed(name: &str) -> bool {
    (1..=QueueName::MAX_LEN).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

/// Every corpus entry is either rejected with `InvalidQueueName` naming it, or accepted as
/// exactly the rules allow, giving a lower-case identifier of `[a-z0-9_]`, at most 47 long.
/// Two 47-character names that differ only in their last character are distinct queues on a
/// real database (no identifier is cut short at Postgres' 63 bytes).
pub async fn queue_name_corpus_is_rejected_or_makes_a_safe_identifier(q: &dyn Queue) {
    let names = corpus();
    assert!(names.len() >= 200, "only {} distinct names", names.len());
    let (mut accepted, mut rejected) = (0, 0);
    for raw in &names {
        match QueueName::new(raw) {
            Ok(name) => {
                accepted += 1;
                assert!(allowed(raw), "{raw:?} was accepted");
                let id = name.as_str();
                assert_eq!(id, raw.to_ascii_lowercase());
                assert!(id.len() <= QueueName::MAX_LEN, "{id:?} too long");
                let safe = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
                assert!(id.bytes().all(safe), "{id:?} is not [a-z0-9_]");
            }
            Err(Error::InvalidQueueName { name, reason }) => {
                rejected += 1;
                assert!(!allowed(raw), "{raw:?} was rejected: {reason}");
                assert_eq!(&name, raw);
                assert!(!reason.is_empty(), "no reason for {raw:?}");
            }
            Err(other) => panic!("{raw:?}: expected InvalidQueueName, got {other:?}"),
        }
    }
    assert!(
        accepted >= 100 && rejected >= 200,
        "{accepted} / {rejected}"
    );

    let stem = unique_queue_name("edge").as_str().to_owned();
    let stem = format!("{stem:x<46}");
    let twins = ["a", "b"].map(|last| QueueName::new(format!("{stem}{last}")).expect("47"));
    for (i, twin) in twins.iter().enumerate() {
        assert_eq!(twin.as_str().len(), QueueName::MAX_LEN);
        q.create(twin, CreateOptions::new()).await.expect("create");
        q.send(twin, &json!(i), SendOptions::new())
            .await
            .expect("send");
    }
    for (i, twin) in twins.iter().enumerate() {
        let got = q
            .read_json(twin, ReadOptions::new().qty(10))
            .await
            .expect("read");
        let got: Vec<_> = got.into_iter().map(|m| m.message).collect();
        assert_eq!(got, [json!(i)], "{twin} holds another queue's messages");
        cleanup(q, twin).await;
    }
}

/// A valid name whose table would be another queue's primary key index, `vt` index or id
/// sequence (`<name>_pkey`, `_vt_idx`, `_msg_id_seq`) cannot be created: `Database`
/// (`42809`; `Driver` where the driver gives no SQLSTATE), nothing listed, sends and drops
/// fail alike, and the other queue keeps its message and works.
pub async fn a_name_clashing_with_another_queues_objects_fails_and_harms_nothing(q: &dyn Queue) {
    let victim = fresh(q, "clash").await;
    let id = q
        .send(&victim, &json!("mine"), SendOptions::new())
        .await
        .expect("send");
    for suffix in ["_pkey", "_vt_idx", "_msg_id_seq"] {
        let clash = QueueName::new(format!("{victim}{suffix}")).expect("valid");
        match q.create(&clash, CreateOptions::new()).await {
            Err(Error::Database { ref code, .. }) => assert_eq!(code, "42809", "{suffix}"),
            // diesel gives no SQLSTATE, and pgmq-diesel does not know this message.
            Err(Error::Driver { .. }) => {}
            other => panic!("{clash}: expected Database 42809, got {other:?}"),
        }
        let listed = q.list_queues().await.expect("list");
        assert!(listed.iter().all(|i| i.queue_name != clash.as_str()));
        let sent = q.send(&clash, &json!(1), SendOptions::new()).await;
        assert!(
            matches!(sent, Err(Error::Database { .. } | Error::Driver { .. })),
            "{sent:?}"
        );
        let dropped = q.drop_queue(&clash).await;
        assert!(
            matches!(dropped, Err(Error::Database { .. } | Error::Driver { .. })),
            "{dropped:?}"
        );
        assert_eq!(length(q, &victim).await, 1, "{suffix} harmed {victim}");
    }
    let got = q
        .read_json(&victim, ReadOptions::new())
        .await
        .expect("read");
    assert_eq!((got[0].msg_id, &got[0].message), (id, &json!("mine")));
    cleanup(q, &victim).await;
}

/// Keywords are valid names, and each (exactly as written, so in a transaction that rolls
/// back, not to collide with another run) goes through create, list, notifications, send,
/// read, archive and drop.
pub async fn keyword_names_round_trip_in_a_transaction(b: &dyn TransactionalBackend) {
    #[rustfmt::skip]
    const SAMPLE: &[&str] = &[
        "select", "table", "user", "order", "where", "null", "meta", "pgmq", "q_select", "_",
        "current_user", "information_schema",
    ];
    let names: Vec<QueueName> = SAMPLE.iter().map(|s| QueueName::new(s).expect(s)).collect();
    let inside = names.clone();
    in_transaction(b, move |tx, _| {
        Box::pin(async move {
            for name in &inside {
                tx.create(name, CreateOptions::new()).await.expect("create");
                let listed = tx.list_queues().await.expect("list");
                assert!(
                    listed.iter().any(|i| i.queue_name == name.as_str()),
                    "{name}"
                );
                tx.enable_notify_insert(name, std::time::Duration::ZERO)
                    .await
                    .expect("notify");
                let body = json!({ "queue": name.as_str() });
                let opts = SendOptions::new().headers(json!({ "h": name.as_str() }));
                let id = tx.send(name, &body, opts).await.expect("send");
                let got = tx.read_json(name, ReadOptions::new()).await.expect("read");
                assert_eq!((got.len(), got[0].msg_id), (1, id), "{name}");
                assert_eq!(got[0].message, body);
                let fence = tx.archive_receipt(name, got[0].receipt()).await;
                assert!(fence.expect("archive").acted(), "{name}");
                let archived = tx.read_archive(name, &[id]).await.expect("read_archive");
                assert_eq!(archived.len(), 1, "{name}");
                assert!(tx.drop_queue(name).await.expect("drop"), "{name}");
            }
            (TxEnd::Rollback, ())
        })
    })
    .await
    .expect("transaction");
    let listed = b.queue().list_queues().await.expect("list");
    for name in &names {
        assert!(
            listed.iter().all(|i| i.queue_name != name.as_str()),
            "{name} left"
        );
    }
}

/// The other order: a queue named `<x>_msg_id_seq` created first takes the name Postgres
/// would give `<x>`'s id sequence, so `<x>`'s sequence gets another name. Both queues work,
/// and `metrics` (its total comes from the sequence) and `metrics_all` still answer, with
/// the right totals.
pub async fn a_queue_created_after_one_named_like_its_sequence_keeps_its_metrics(q: &dyn Queue) {
    let first = unique_queue_name("seq");
    let squatter = QueueName::new(format!("{first}_msg_id_seq")).expect("valid");
    q.create(&squatter, CreateOptions::new())
        .await
        .expect("create the squatter");
    q.create(&first, CreateOptions::new())
        .await
        .expect("create the other");
    for (name, n) in [(&first, 3), (&squatter, 2)] {
        for i in 0..n {
            q.send(name, &json!(i), SendOptions::new())
                .await
                .expect("send");
        }
    }
    for (name, n) in [(&first, 3), (&squatter, 2)] {
        let m = q.metrics(name).await.expect("metrics");
        assert_eq!((m.queue_length, m.total_messages), (n, n), "{name}");
    }
    let all = q.metrics_all().await.expect("metrics_all");
    for (name, n) in [(&first, 3), (&squatter, 2)] {
        let m = all.iter().find(|m| m.queue_name == name.as_str());
        assert_eq!(
            m.map(|m| m.total_messages),
            Some(n),
            "{name} in metrics_all"
        );
    }
    cleanup(q, &first).await;
    cleanup(q, &squatter).await;
}
