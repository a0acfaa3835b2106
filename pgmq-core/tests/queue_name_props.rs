//! Property tests of `QueueName`: whatever string comes in, it is either rejected with
//! `InvalidQueueName` naming it, or accepted as exactly the rules allow, as a lower-case
//! identifier that round-trips through `new`, `Display`, `FromStr` and serde.

use std::cell::Cell;

use pgmq_core::{Error, QueueName};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// The rules, written out independently of `QueueName`: 1 to 47 ASCII letters, digits and
/// `_`, not starting with a digit.
fn allowed(raw: &str) -> bool {
    (1..=QueueName::MAX_LEN).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !raw.as_bytes()[0].is_ascii_digit()
}

/// `^[a-z_][a-z0-9_]{0,46}$`, without a regex engine.
fn is_identifier(s: &str) -> bool {
    let first = |b: u8| b.is_ascii_lowercase() || b == b'_';
    let rest = |b: u8| first(b) || b.is_ascii_digit();
    s.len() <= QueueName::MAX_LEN
        && s.bytes().next().is_some_and(first)
        && s.bytes().skip(1).all(rest)
}

/// Checks one string; answers whether it was accepted.
fn check(raw: &str) -> Result<bool, TestCaseError> {
    match QueueName::new(raw) {
        Ok(name) => {
            let id = name.as_str();
            prop_assert!(allowed(raw), "{:?} was accepted", raw);
            prop_assert!(is_identifier(id), "{:?} gave {:?}", raw, id);
            prop_assert_eq!(id, raw.to_ascii_lowercase());
            prop_assert_eq!(&QueueName::new(id).expect("its own name"), &name);
            prop_assert_eq!(
                &QueueName::new(raw.to_ascii_uppercase()).expect("upper"),
                &name
            );
            prop_assert_eq!(name.to_string(), id);
            prop_assert_eq!(&id.parse::<QueueName>().expect("FromStr"), &name);
            prop_assert_eq!(&raw.parse::<QueueName>().expect("FromStr raw"), &name);
            let json = serde_json::to_string(&name).expect("serialize");
            prop_assert_eq!(
                &serde_json::from_str::<QueueName>(&json).expect("serde"),
                &name
            );
            Ok(true)
        }
        Err(Error::InvalidQueueName { name, reason }) => {
            prop_assert!(!allowed(raw), "{:?} was rejected: {}", raw, reason);
            prop_assert_eq!(name, raw);
            prop_assert!(!reason.is_empty());
            prop_assert!(raw.parse::<QueueName>().is_err());
            prop_assert!(serde_json::from_value::<QueueName>(raw.into()).is_err());
            Ok(false)
        }
        Err(other) => Err(TestCaseError::fail(format!("{raw:?}: {other:?}"))),
    }
}

/// Runs `check` on `cases` strings from `strategy`; answers (accepted, rejected). No
/// failure file is written: a failure prints its minimal input.
fn run(strategy: impl Strategy<Value = String>, cases: u32) -> (usize, usize) {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let (accepted, rejected) = (Cell::new(0), Cell::new(0));
    TestRunner::new(config)
        .run(&strategy, |raw| {
            let counter = if check(&raw)? { &accepted } else { &rejected };
            counter.set(counter.get() + 1);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    (accepted.get(), rejected.get())
}

/// Characters near the valid set: its own, case, and the ones most likely to slip through
/// (look-alikes, separators, quotes, NUL, combining and invisible characters).
fn near_valid_char() -> impl Strategy<Value = char> {
    prop_oneof![
        12 => prop::char::ranges(vec!['a'..='z', 'A'..='Z', '0'..='9', '_'..='_'].into()),
        1 => prop::sample::select(vec![
            ';', '\'', '"', '`', '-', '.', ' ', '\t', '\n', '\0', '%', '\\', '$', '/', '*',
            'é', 'ß', 'ı', 'İ', 'а', 'ſ', '\u{212A}', 'ａ', '\u{200D}', '\u{200F}', '\u{0301}',
            '\u{FEFF}', '😀', '\u{7f}', '\u{1b}',
        ]),
    ]
}

#[test]
fn arbitrary_strings_are_rejected_or_safe() {
    let (_, rejected) = run(any::<String>(), 2000);
    assert!(rejected > 1000, "only {rejected} rejected");
    let (_, rejected) = run(".{0,60}", 1000);
    assert!(rejected > 500, "only {rejected} rejected");
}

#[test]
fn strings_near_the_valid_set_take_both_branches() {
    let valid = "[A-Za-z_][A-Za-z0-9_]{0,46}";
    let (accepted, rejected) = run(valid, 1000);
    assert_eq!((accepted, rejected), (1000, 0), "a valid name was rejected");

    let (accepted, rejected) = run("[A-Za-z0-9_]{0,52}", 2000);
    assert!(accepted > 200 && rejected > 200, "{accepted} / {rejected}");

    let near = prop::collection::vec(near_valid_char(), 0..60)
        .prop_map(|chars| chars.into_iter().collect::<String>());
    let (accepted, rejected) = run(near, 3000);
    assert!(accepted > 100 && rejected > 1000, "{accepted} / {rejected}");
}
