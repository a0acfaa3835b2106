//! Hostile payloads: nesting deeper than a read can decode, strings that look like SQL or
//! hold U+0000 where the existing cases do not put it, headers that cannot be stored, sizes
//! at the byte, and a rejected send inside the caller's transaction.

use std::sync::Arc;

use pgmq_core::{
    BatchingProducer, Error, ProducerOptions, Queue, QueueAttributes, QueueExt, QueueName,
    ReadOptions, SendOptions,
};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::{json, Value};

use super::{assert_invalid, cleanup, fresh, length};
use crate::{in_transaction, TransactionalBackend, TxEnd};

/// The deepest nesting a read decodes (serde_json's parser refuses 128 levels).
const DEEPEST: usize = 127;

/// Far past [`DEEPEST`], yet shallow enough for serde_json's own recursion (serializing a
/// typed message or a blocking send's `&Value`, and dropping it) on a debug build's 2 MiB
/// threads: serializing a `&Value` overflows them between 1 500 and 2 000 levels, before the
/// library sees the message, as it would for any serde_json user.
const FAR_TOO_DEEP: usize = 1_000;

/// `depth` arrays, one inside the other.
fn arrays(depth: usize) -> Value {
    (1..depth).fold(json!([]), |v, _| Value::Array(vec![v]))
}

/// `depth` objects, one inside the other.
fn objects(depth: usize) -> Value {
    (1..depth).fold(json!({}), |v, _| json!({ "k": v }))
}

/// A typed message that serializes as `.0` nested arrays.
struct Deep(usize);

impl Serialize for Deep {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(usize::from(self.0 > 1)))?;
        if self.0 > 1 {
            seq.serialize_element(&Deep(self.0 - 1))?;
        }
        seq.end()
    }
}

fn assert_unstorable<T: std::fmt::Debug>(result: pgmq_core::Result<T>, at: usize) {
    match result {
        Err(Error::InvalidMessage { index, .. }) => assert_eq!(index, at),
        other => panic!("expected InvalidMessage at {at}, got {other:?}"),
    }
}

async fn read_all(q: &dyn Queue, name: &QueueName) -> Vec<Value> {
    let got = q.read_json(name, ReadOptions::new().qty(100)).await;
    got.expect("read").into_iter().map(|m| m.message).collect()
}

/// Nesting a read can decode (127 levels, of arrays or objects) round-trips exactly; one
/// level more, or 1 000 (as a `Value` or through the typed send), is `InvalidMessage` and
/// nothing is written, for a batch nothing of the batch. 10 000 brackets as text are a plain
/// string and round-trip.
pub async fn a_message_nested_deeper_than_a_read_decodes_is_rejected_and_nothing_written(
    q: &dyn Queue,
) {
    let name = fresh(q, "deep").await;
    let brackets = "[".repeat(10_000);
    let kept = [
        json!("first"),
        arrays(DEEPEST),
        objects(DEEPEST),
        json!(brackets),
    ];
    for v in &kept {
        q.send_json(&name, v.clone(), SendOptions::new())
            .await
            .expect("send");
    }
    for (i, too_deep) in [arrays(DEEPEST + 1), objects(DEEPEST + 1)]
        .into_iter()
        .enumerate()
    {
        assert_unstorable(
            q.send_json(&name, too_deep.clone(), SendOptions::new())
                .await,
            0,
        );
        let batch = vec![json!(i), json!(i), too_deep];
        assert_unstorable(q.send_batch_json(&name, batch, SendOptions::new()).await, 2);
    }
    let huge = q
        .send_json(&name, arrays(FAR_TOO_DEEP), SendOptions::new())
        .await;
    assert_unstorable(huge, 0);
    assert_unstorable(
        q.send(&name, &Deep(FAR_TOO_DEEP), SendOptions::new()).await,
        0,
    );
    let batch = [Deep(1), Deep(DEEPEST + 1)];
    assert_unstorable(q.send_batch(&name, &batch, SendOptions::new()).await, 1);
    assert_eq!(
        read_all(q, &name).await,
        kept,
        "a rejected send wrote something"
    );
    cleanup(q, &name).await;
}

/// Strings that look like SQL, quoting, escapes or control characters round-trip exactly
/// (values and keys); U+0000 where the existing cases do not put it (a key, a whole string,
/// first or last, 100 levels down, a typed field, the first or last of a batch) is
/// `InvalidMessage` at its index, and nothing is written.
pub async fn hostile_strings_round_trip_and_a_nul_anywhere_is_rejected(q: &dyn Queue) {
    let name = fresh(q, "strings").await;
    let texts = [
        "'; DROP TABLE pgmq.meta; --",
        "$pgmq$ END $pgmq$",
        "\\u0000",
        "\\",
        "\"",
        "%_",
        "\u{1}\u{1f}\u{7f}\r\n\t",
        "\u{202E}rtl\u{200F}",
        "a\u{200D}b",
        "😀\u{FFFF}\u{10FFFF}",
        "é",
        "e\u{301}",
        "",
    ];
    let keyed: serde_json::Map<String, Value> =
        texts.iter().map(|t| ((*t).to_owned(), json!(t))).collect();
    let kept = vec![
        json!(texts),
        Value::Object(keyed),
        json!([u64::MAX, i64::MIN]),
    ];
    q.send_batch_json(&name, kept.clone(), SendOptions::new())
        .await
        .expect("send");

    let deep_nul = (0..100).fold(json!("x\u{0}"), |v, _| json!([v]));
    for bad in [
        json!({"k\u{0}": 1}),
        json!("\u{0}"),
        json!(["\u{0}a", "b\u{0}"]),
        deep_nul,
    ] {
        assert_unstorable(q.send_json(&name, bad.clone(), SendOptions::new()).await, 0);
        let first = vec![bad.clone(), json!("ok")];
        assert_unstorable(q.send_batch_json(&name, first, SendOptions::new()).await, 0);
        let last = vec![json!("ok"), json!("ok"), bad];
        assert_unstorable(q.send_batch_json(&name, last, SendOptions::new()).await, 2);
    }
    let typed: (u32, String) = (1, "tail\u{0}".into());
    assert_unstorable(q.send(&name, &typed, SendOptions::new()).await, 0);
    assert_eq!(
        read_all(q, &name).await,
        kept,
        "a rejected send wrote something"
    );
    cleanup(q, &name).await;
}

/// Headers holding U+0000 (in a value or a key) or nested past what a read decodes are
/// `InvalidArgument("headers")` from `send`, `send_batch` (even of nothing) and a batching
/// producer's options, and nothing is written; the deepest decodable headers round-trip.
pub async fn headers_that_cannot_be_stored_are_rejected_and_nothing_written(q: Arc<dyn Queue>) {
    let name = fresh(&*q, "headers").await;
    for bad in [
        json!({"k": "a\u{0}b"}),
        json!({"k\u{0}": 1}),
        objects(DEEPEST + 1),
    ] {
        let opts = || SendOptions::new().headers(bad.clone());
        assert_invalid(q.send_json(&name, json!(1), opts()).await, "headers");
        let batch = vec![json!(1), json!(2)];
        assert_invalid(q.send_batch_json(&name, batch, opts()).await, "headers");
        assert_invalid(q.send_batch_json(&name, vec![], opts()).await, "headers");
        let producer = ProducerOptions::new().send_options(opts());
        let made = BatchingProducer::new(Arc::clone(&q), name.clone(), producer);
        assert_invalid(made.map(|_| ()), "headers");
    }
    assert_eq!(
        length(&*q, &name).await,
        0,
        "a rejected send wrote something"
    );
    let deepest = objects(DEEPEST);
    let opts = SendOptions::new().headers(deepest.clone());
    q.send_json(&name, json!("kept"), opts).await.expect("send");
    let got = q.read_json(&name, ReadOptions::new()).await.expect("read");
    assert_eq!(got.len(), 1);
    assert_eq!(
        (&got[0].message, &got[0].headers),
        (&json!("kept"), &Some(deepest))
    );
    cleanup(&*q, &name).await;
}

/// The size limit counts bytes of the JSON text as Postgres renders it: a string message of
/// exactly the limit is accepted and one byte more is `MessageTooLarge` with that size, for
/// ASCII, for two-byte characters (fewer characters than bytes) and for escapes (`\n` is two
/// bytes of JSON). Nothing rejected is written.
pub async fn a_message_of_exactly_the_maximum_size_is_accepted_and_one_byte_more_is_not(
    q: &dyn Queue,
) {
    let name = fresh(q, "exactsize").await;
    let limit = 32;
    let attributes = QueueAttributes::new().max_message_bytes(limit);
    q.set_attributes(&name, attributes).await.expect("set");
    let mut kept = Vec::new();
    let pairs = [
        ("x".repeat(30), "x".repeat(31)),
        ("é".repeat(15), "é".repeat(16)),
        ("\n".repeat(15), "\n".repeat(15) + "x"),
    ];
    for (fits, over) in pairs {
        q.send(&name, &fits, SendOptions::new())
            .await
            .expect("at the limit");
        kept.push(json!(fits));
        match q.send(&name, &over, SendOptions::new()).await {
            Err(Error::MessageTooLarge {
                index,
                size,
                limit: l,
            }) => {
                assert_eq!((index, l), (0, limit), "{over:?}");
                assert!(size > limit && size <= limit + 2, "{over:?}: size {size}");
            }
            other => panic!("{over:?}: expected MessageTooLarge, got {other:?}"),
        }
    }
    assert_eq!(
        read_all(q, &name).await,
        kept,
        "a rejected send wrote something"
    );
    cleanup(q, &name).await;
}

/// Bad input inside the caller's transaction fails before any SQL (or, over the size limit,
/// without a failed statement), so the transaction stays usable: a good send after each
/// rejection succeeds and commits alone.
pub async fn a_rejected_send_leaves_the_callers_transaction_usable(b: &dyn TransactionalBackend) {
    let q = b.queue();
    let name = fresh(q, "txbad").await;
    let attributes = QueueAttributes::new().max_message_bytes(64);
    q.set_attributes(&name, attributes).await.expect("set");
    let inside = name.clone();
    in_transaction(b, move |tx, _| {
        Box::pin(async move {
            let nul = SendOptions::new().headers(json!({"k": "\u{0}"}));
            let bad = [
                tx.send(&inside, &json!("\u{0}"), SendOptions::new()).await,
                tx.send(&inside, &json!(1), nul).await,
                tx.send_json(&inside, arrays(DEEPEST + 1), SendOptions::new())
                    .await,
                tx.send(&inside, &"x".repeat(100), SendOptions::new()).await,
            ];
            for (i, result) in bad.into_iter().enumerate() {
                assert!(result.is_err(), "bad send {i} succeeded");
                let good = tx.send(&inside, &json!(i), SendOptions::new()).await;
                good.unwrap_or_else(|e| panic!("the transaction broke after {i}: {e:?}"));
            }
            (TxEnd::Commit, ())
        })
    })
    .await
    .expect("transaction");
    assert_eq!(
        read_all(q, &name).await,
        [json!(0), json!(1), json!(2), json!(3)]
    );
    cleanup(q, &name).await;
}
