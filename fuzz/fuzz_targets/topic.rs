//! Topic routing: `RoutingKey::new`, `TopicPattern::new` and `TopicPattern::matches` on
//! arbitrary text.
//!
//! Invariants:
//! - nothing panics;
//! - a key or pattern is accepted exactly when a reference check of the documented rules
//!   passes, and a rejection is `InvalidArgument` for the right argument naming the first
//!   rule broken, in the documented order;
//! - accepted values are kept exactly as given and round-trip through `Display`/`FromStr`
//!   and serde;
//! - `matches` agrees with a plain recursive matcher of the documented semantics (`*`: one
//!   or more characters other than `.`; `#`: any run of characters; anything else: itself;
//!   the whole key), and with the `regex` crate running `compiled_regex()`;
//! - every key, read as a pattern, matches itself; `#` matches every key.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pgmq_core::{Error, RoutingKey, TopicPattern};

/// Text: raw (any UTF-8), or bytes mapped onto a small alphabet so that most inputs are
/// valid and keys and patterns share segments.
#[derive(Arbitrary, Debug)]
enum Text {
    Raw(String),
    Alphabet(Vec<u8>),
}

impl Text {
    fn text(&self) -> String {
        const ALPHABET: &[u8] = b"ab.*#-_A0";
        match self {
            Self::Raw(s) => s.clone(),
            Self::Alphabet(bytes) => bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
                .collect(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    pattern: Text,
    key: Text,
}

/// The documented rules in the documented order: the words the first broken rule is
/// reported with, or `None` for a valid key (`wildcards: false`) or pattern.
fn first_broken_rule(s: &str, wildcards: bool) -> Option<&'static str> {
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || "._-".contains(c) || (wildcards && "*#".contains(c));
    if s.is_empty() {
        Some("empty")
    } else if s.chars().count() > 255 {
        Some("characters long")
    } else if !s.chars().all(allowed) {
        Some("contains")
    } else if s.starts_with('.') {
        Some("starts with a dot")
    } else if s.ends_with('.') {
        Some("ends with a dot")
    } else if s.contains("..") {
        Some("empty segment")
    } else if wildcards && s.contains("**") {
        Some("\"**\"")
    } else if wildcards && s.contains("##") {
        Some("\"##\"")
    } else if wildcards && (s.contains("*#") || s.contains("#*")) {
        Some("adjacent wildcards")
    } else {
        None
    }
}

fn check_rejection(s: &str, result: &Error, argument: &str, rule: &str) {
    match result {
        Error::InvalidArgument {
            argument: got,
            reason,
        } => {
            assert_eq!(*got, argument, "{s:?}");
            // The reason quotes the input first (except for an empty one): look after it.
            let after = reason
                .strip_prefix(&format!("{s:?} "))
                .unwrap_or(reason.as_str());
            assert!(
                after.contains(rule),
                "{s:?} should break the rule {rule:?} first: {reason:?}"
            );
        }
        other => panic!("{s:?} rejected with the wrong error: {other:?}"),
    }
}

/// The documented semantics, top-down and recursive, memoized on (pattern, key) positions
/// so that long patterns of wildcards stay quick.
fn reference_matches(pattern: &[u8], key: &[u8]) -> bool {
    fn go(p: &[u8], k: &[u8], i: usize, j: usize, memo: &mut [Option<bool>]) -> bool {
        let slot = i * (k.len() + 1) + j;
        if let Some(known) = memo[slot] {
            return known;
        }
        let answer = match p.get(i) {
            None => j == k.len(),
            // Any run, possibly empty, dots included.
            Some(b'#') => (j..=k.len()).any(|end| go(p, k, i + 1, end, memo)),
            // One or more characters, none a dot.
            Some(b'*') => (j + 1..=k.len())
                .take_while(|&end| k[end - 1] != b'.')
                .any(|end| go(p, k, i + 1, end, memo)),
            Some(&c) => k.get(j) == Some(&c) && go(p, k, i + 1, j + 1, memo),
        };
        memo[slot] = Some(answer);
        answer
    }
    let mut memo = vec![None; (pattern.len() + 1) * (key.len() + 1)];
    go(pattern, key, 0, 0, &mut memo)
}

fn round_trips<T>(value: &T, s: &str)
where
    T: std::fmt::Display + std::str::FromStr + serde::Serialize + serde::de::DeserializeOwned,
    T: PartialEq + std::fmt::Debug,
    <T as std::str::FromStr>::Err: std::fmt::Debug,
{
    assert_eq!(value.to_string(), s, "kept exactly as given");
    assert_eq!(
        &value.to_string().parse::<T>().expect("Display parses"),
        value
    );
    let wire = serde_json::to_string(value).expect("serializes");
    assert_eq!(wire, serde_json::to_string(s).expect("a str serializes"));
    assert_eq!(
        &serde_json::from_str::<T>(&wire).expect("deserializes"),
        value
    );
}

fuzz_target!(|input: Input| {
    let (p, k) = (input.pattern.text(), input.key.text());

    let pattern = TopicPattern::new(&p);
    match (&pattern, first_broken_rule(&p, true)) {
        (Ok(pattern), None) => {
            assert_eq!(pattern.as_str(), p);
            round_trips(pattern, &p);
        }
        (Err(e), Some(rule)) => check_rejection(&p, e, "topic pattern", rule),
        (got, want) => panic!("pattern {p:?}: got {got:?}, the rules say {want:?}"),
    }
    let key = RoutingKey::new(&k);
    match (&key, first_broken_rule(&k, false)) {
        (Ok(key), None) => {
            assert_eq!(key.as_str(), k);
            round_trips(key, &k);
        }
        (Err(e), Some(rule)) => check_rejection(&k, e, "routing key", rule),
        (got, want) => panic!("key {k:?}: got {got:?}, the rules say {want:?}"),
    }
    // The same text read the other way: a valid key is a valid pattern that matches it.
    if let Ok(key) = &key {
        let literal = TopicPattern::new(key.as_str()).expect("a key is a valid pattern");
        assert!(literal.matches(key), "{key} does not match itself");
        assert!(TopicPattern::new("#").expect("valid").matches(key));
    }

    let (Ok(pattern), Ok(key)) = (pattern, key) else {
        return;
    };
    let matched = pattern.matches(&key);
    assert_eq!(
        matched,
        reference_matches(p.as_bytes(), k.as_bytes()),
        "pattern {p:?}, key {k:?}"
    );
    let regex = pattern.compiled_regex();
    let compiled = regex::Regex::new(&regex)
        .unwrap_or_else(|e| panic!("{p:?} compiles to {regex:?}, not a regex: {e}"));
    assert_eq!(
        matched,
        compiled.is_match(&k),
        "pattern {p:?} (regex {regex:?}), key {k:?}"
    );
});
