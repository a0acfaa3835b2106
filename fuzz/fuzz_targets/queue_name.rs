//! `QueueName` parsing on arbitrary input.
//!
//! Invariants:
//! - no entry point (`new`, `FromStr`, both `TryFrom`s, serde) panics, and they all agree;
//! - a name is accepted exactly when a reference check of the documented rules passes
//!   (1..=`MAX_LEN` bytes of `[A-Za-z0-9_]`, not starting with a digit);
//! - an accepted name is the input lower-cased: only `[a-z0-9_]`, at most `MAX_LEN` bytes,
//!   and it round-trips (through `new`, `Display`/`FromStr` and serde) to an equal name;
//! - a rejected name is `Error::InvalidQueueName` naming the input, with a reason.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pgmq_core::{Error, QueueName};

/// The documented rules, written out independently of `QueueName::new`.
fn reference_accepts(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= QueueName::MAX_LEN
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_'
        })
        && !bytes[0].is_ascii_digit()
}

fn check(raw: &str) {
    let parsed = QueueName::new(raw);

    // Every entry point answers the same.
    let same = |other: Option<QueueName>, via: &str| {
        assert_eq!(
            parsed.as_ref().ok(),
            other.as_ref(),
            "{via} disagrees with new for {raw:?}"
        );
    };
    same(raw.parse::<QueueName>().ok(), "FromStr");
    same(QueueName::try_from(raw).ok(), "TryFrom<&str>");
    same(QueueName::try_from(raw.to_owned()).ok(), "TryFrom<String>");
    let json = serde_json::to_string(raw).expect("a str serializes");
    same(serde_json::from_str::<QueueName>(&json).ok(), "Deserialize");

    assert_eq!(
        parsed.is_ok(),
        reference_accepts(raw),
        "new and the reference rules disagree on {raw:?}: {parsed:?}"
    );

    match parsed {
        Ok(name) => {
            let s = name.as_str();
            assert_eq!(s, raw.to_ascii_lowercase(), "not the input lower-cased");
            assert!(
                !s.is_empty() && s.len() <= QueueName::MAX_LEN,
                "{s:?}: bad length"
            );
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{s:?}: outside [a-z0-9_]"
            );
            assert_eq!(name.to_string(), s);
            assert_eq!(name.as_ref() as &str, s);
            let again = QueueName::new(s).expect("a validated name is valid");
            assert_eq!(again, name, "round trip through new");
            assert_eq!(
                name.to_string()
                    .parse::<QueueName>()
                    .expect("Display parses"),
                name
            );
            let wire = serde_json::to_string(&name).expect("a name serializes");
            assert_eq!(wire, format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<QueueName>(&wire).expect("a serialized name parses"),
                name
            );
            // Case-insensitive: the upper-cased input is the same queue.
            assert_eq!(
                QueueName::new(raw.to_ascii_uppercase()).expect("upper case is valid"),
                name
            );
        }
        Err(Error::InvalidQueueName { name, reason }) => {
            assert_eq!(name, raw, "the error names another input");
            assert!(!reason.is_empty());
            let _ = Error::InvalidQueueName { name, reason }.to_string();
        }
        Err(other) => panic!("{raw:?} rejected with the wrong error: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    match std::str::from_utf8(data) {
        Ok(raw) => check(raw),
        Err(_) => check(&String::from_utf8_lossy(data)),
    }
});
