//! Routing keys and topic patterns against tables of cases. Every expectation here was
//! confirmed against the pgmq extension 1.13's own SQL (`pgmq.validate_routing_key`,
//! `pgmq.validate_topic_pattern` and `key ~ compiled_regex`); this test needs no database.

use pgmq_core::{Error, RoutingKey, TopicPattern};

fn s(v: &str) -> String {
    v.to_owned()
}

/// `#.#.….#.x` with `hashes` wildcards, and a key of `segments` `a`s followed by `x`.
fn hash_chain(hashes: usize, segments: usize) -> (String, String) {
    (
        format!("{}x", "#.".repeat(hashes)),
        format!("{}x", "a.".repeat(segments)),
    )
}

/// (pattern, key, whether the key matches).
fn match_cases() -> Vec<(String, String, bool)> {
    let mut cases: Vec<(String, String, bool)> = [
        // exact, and segment-count mismatches
        ("a.b.c", "a.b.c", true),
        ("a.b.c", "a.b", false),
        ("a.b.c", "a.b.c.d", false),
        ("a.b.c", "a.b.d", false),
        ("a.b", "aXb", false),
        ("A.b", "a.b", false),
        ("orders-eu_1", "orders-eu_1", true),
        // `*`: exactly one segment
        ("*", "a", true),
        ("*", "a.b", false),
        ("a.*", "a.b", true),
        ("a.*", "a", false),
        ("a.*", "a.b.c", false),
        ("*.b", "a.b", true),
        ("*.b", "b", false),
        ("*.*", "a.b", true),
        ("*.*", "a", false),
        ("*.*", "a.b.c", false),
        ("a.*.c", "a.b.c", true),
        ("a.*.c", "a.c", false),
        ("a.*.c", "a.b.x.c", false),
        // `#` alone: every key
        ("#", "a", true),
        ("#", "a.b.c", true),
        // `#` at the end, start and middle: one or more segments, never zero
        ("a.#", "a", false),
        ("a.#", "a.b", true),
        ("a.#", "a.b.c", true),
        ("a.#", "ab", false),
        ("a.#", "b.a", false),
        ("#.c", "c", false),
        ("#.c", "b.c", true),
        ("#.c", "a.b.c", true),
        ("#.c", "a.bc", false),
        ("a.#.c", "a.c", false),
        ("a.#.c", "a.b.c", true),
        ("a.#.c", "a.b.b.c", true),
        ("a.#.c", "a.b", false),
        // `#.#`: two or more segments
        ("#.#", "a", false),
        ("#.#", "a.b", true),
        ("#.#", "a.b.c", true),
        ("#.#.#", "a.b", false),
        ("#.#.#", "a.b.c", true),
        ("#.b.#", "a.b.c", true),
        ("#.b.#", "b.c", false),
        ("#.b.#", "a.b", false),
        ("#.b.#", "b.b.b", true),
        // `*` and `#` together
        ("*.#", "a", false),
        ("*.#", "a.b", true),
        ("*.#", "a.b.c", true),
        ("#.*", "a", false),
        ("#.*", "a.b", true),
        ("a.*.#", "a.b", false),
        ("a.*.#", "a.b.c", true),
        // wildcards inside a segment
        ("a*", "a", false),
        ("a*", "ab", true),
        ("a*", "ab.c", false),
        ("*a", "ba", true),
        ("*a", "a", false),
        ("a*b", "ab", false),
        ("a*b", "axb", true),
        ("a*b", "a.b", false),
        ("a#b", "ab", true),
        ("a#b", "a.b", true),
        ("a#b", "a.x.b", true),
        ("a#b", "a.x.c", false),
        ("a#", "a", true),
        ("a#", "a.b", true),
        ("#a", "a", true),
        ("#a", "ba", true),
        ("#a", "b.a", true),
        ("#a", "b.c", false),
    ]
    .iter()
    .map(|&(p, k, m)| (s(p), s(k), m))
    .collect();
    cases.push((s("#"), "a".repeat(255), true));
    cases.push((s("*"), "a".repeat(255), true));
    // Nested `#`s, the shape that makes a backtracking matcher explode.
    for (hashes, segments, expected) in [(126, 126, true), (126, 125, false), (84, 126, true)] {
        let (pattern, key) = hash_chain(hashes, segments);
        cases.push((pattern, key, expected));
    }
    let (pattern, key) = hash_chain(126, 126);
    cases.push((pattern, format!("{key}y"), false));
    cases
}

fn valid_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "a",
        "A",
        "0",
        "-",
        "_",
        "-.-",
        "_._",
        "a-b_c.D9",
        "orders.eu.created",
        "a.b.c.d.e",
    ]
    .iter()
    .map(|k| s(k))
    .collect();
    keys.push("a".repeat(255));
    keys.push("a.".repeat(127) + "a");
    keys
}

fn valid_patterns() -> Vec<String> {
    let mut patterns: Vec<String> = [
        "#", "*", "#.#", "*.*", "a", "a.*", "*.a", "a.#", "#.a", "a.*.#", "#.*", "*.#", "*.#.*.#",
        "a#b", "*a", "a*", "a*b", "*a*", "#a#", "a-#", "#_x", "a*.#b", "a-b_C.9",
    ]
    .iter()
    .map(|p| s(p))
    .collect();
    patterns.push("a".repeat(255));
    patterns.push("#".to_owned() + &".#".repeat(127));
    patterns
}

// Reason fragments: which rule was broken.
const EMPTY: &str = "it is empty";
const LONG: &str = "the limit is 255";
const CHARS: &str = "only ASCII letters";
const START: &str = "starts with a dot";
const END: &str = "ends with a dot";
const DOTS: &str = "empty segment";
const STARS: &str = "\"**\"";
const HASHES: &str = "\"##\"";
const ADJACENT: &str = "adjacent wildcards";

/// Rejected as keys and as patterns alike, for the same rule.
fn invalid_either() -> Vec<(String, &'static str)> {
    let mut cases: Vec<(String, &'static str)> = [
        ("", EMPTY),
        ("a..b", DOTS),
        ("a...b", DOTS),
        (".a", START),
        ("a.", END),
        (".", START),
        ("..", START),
        (".a.", START),
        ("a..", END),
        ("a b", CHARS),
        (" a", CHARS),
        ("a ", CHARS),
        (" ", CHARS),
        ("a\tb", CHARS),
        ("a\nb", CHARS),
        ("a\n", CHARS),
        ("a\r", CHARS),
        ("café.order", CHARS),
        ("é", CHARS),
        ("日本", CHARS),
        ("Ａ", CHARS),
        ("🦀", CHARS),
        ("a'b", CHARS),
        ("a\"b", CHARS),
        ("`a`", CHARS),
        ("x'); DROP TABLE pgmq.meta;--", CHARS),
        ("a;drop table x", CHARS),
        ("a/b", CHARS),
        ("a\\b", CHARS),
        ("a,b", CHARS),
        ("a:b", CHARS),
        ("a@b", CHARS),
        ("a+b", CHARS),
        ("a?b", CHARS),
        ("a|b", CHARS),
        ("a%", CHARS),
        ("^a$", CHARS),
        ("(a)", CHARS),
        ("[a]", CHARS),
        ("{a}", CHARS),
        ("a!", CHARS),
        ("a.b c", CHARS),
        (". a", CHARS),
        ("a..b ", CHARS),
    ]
    .iter()
    .map(|&(v, r)| (s(v), r))
    .collect();
    cases.push(("a".repeat(256), LONG));
    cases.push(("a".repeat(256) + " ", LONG));
    cases.push((".".repeat(300), LONG));
    // Characters, not bytes: 256 of them is too long, 128 two-byte ones are merely invalid.
    cases.push(("é".repeat(256), LONG));
    cases.push(("é".repeat(128), CHARS));
    cases
}

fn invalid_keys() -> Vec<(String, &'static str)> {
    let mut cases = invalid_either();
    for (key, rule) in [
        ("*", CHARS),
        ("#", CHARS),
        ("a.*", CHARS),
        ("a.#", CHARS),
        ("a#b", CHARS),
        ("*a", CHARS),
        (".*", CHARS),
    ] {
        cases.push((s(key), rule));
    }
    cases
}

fn invalid_patterns() -> Vec<(String, &'static str)> {
    let mut cases = invalid_either();
    for (pattern, rule) in [
        (".#", START),
        ("#.", END),
        ("*.", END),
        ("a.#..", END),
        ("#..#", DOTS),
        ("**", STARS),
        ("a.**", STARS),
        ("a**b", STARS),
        ("***", STARS),
        ("##", HASHES),
        ("a.##", HASHES),
        ("a##b", HASHES),
        ("###", HASHES),
        ("*#", ADJACENT),
        ("#*", ADJACENT),
        ("a.*#", ADJACENT),
        ("a.#*.b", ADJACENT),
        ("a*#b", ADJACENT),
        ("*#*", ADJACENT),
        // The first rule broken, in the extension's order, is the one reported.
        ("**.", END),
        ("..**", START),
        ("a..**", DOTS),
        ("**##", STARS),
        ("##*", HASHES),
        ("a.* #", CHARS),
    ] {
        cases.push((s(pattern), rule));
    }
    let (pattern, _) = hash_chain(128, 0);
    cases.push((pattern, LONG));
    cases
}

/// (pattern, the extension's `compiled_regex` for it).
const COMPILED: &[(&str, &str)] = &[
    ("#", "^.*$"),
    ("*", "^[^.]+$"),
    ("logs.*", r"^logs\.[^.]+$"),
    ("logs.#", r"^logs\..*$"),
    ("#.#", r"^.*\..*$"),
    ("a.*.#.b", r"^a\.[^.]+\..*\.b$"),
    ("a#b", "^a.*b$"),
    ("*a-_9", "^[^.]+a-_9$"),
    ("A.b", r"^A\.b$"),
];

/// The argument named and the rule given, without the input the reason starts with (which
/// could itself contain a rule's fragment).
fn reason<T: std::fmt::Debug>(result: pgmq_core::Result<T>, input: &str) -> (String, String) {
    match result {
        Err(Error::InvalidArgument { argument, reason }) => {
            let prefix = format!("{input:?} ");
            let rule = reason.strip_prefix(&prefix).unwrap_or(&reason);
            (argument.to_owned(), rule.to_owned())
        }
        other => panic!("{input:?} was not rejected with InvalidArgument: {other:?}"),
    }
}

#[test]
fn every_match_case_agrees_with_the_extension() {
    for (pattern, key, expected) in match_cases() {
        let p = TopicPattern::new(&pattern).unwrap();
        let k = RoutingKey::new(&key).unwrap();
        assert_eq!(p.matches(&k), expected, "pattern {pattern:?}, key {key:?}");
    }
}

#[test]
fn valid_keys_and_patterns_are_kept_as_given() {
    for key in valid_keys() {
        let parsed: RoutingKey = key.parse().unwrap();
        assert_eq!(parsed.as_str(), key);
        assert_eq!(parsed.to_string(), key);
    }
    for pattern in valid_patterns() {
        let parsed: TopicPattern = pattern.parse().unwrap();
        assert_eq!(parsed.as_str(), pattern);
        assert_eq!(parsed.to_string(), pattern);
    }
}

#[test]
fn invalid_keys_are_rejected_for_the_rule_they_break() {
    for (key, rule) in invalid_keys() {
        let (argument, why) = reason(RoutingKey::new(&key), &key);
        assert_eq!(argument, "routing key");
        assert!(
            why.contains(rule),
            "{key:?}: expected {rule:?}, got {why:?}"
        );
    }
}

#[test]
fn invalid_patterns_are_rejected_for_the_rule_they_break() {
    for (pattern, rule) in invalid_patterns() {
        let (argument, why) = reason(TopicPattern::new(&pattern), &pattern);
        assert_eq!(argument, "topic pattern");
        assert!(
            why.contains(rule),
            "{pattern:?}: expected {rule:?}, got {why:?}"
        );
    }
}

#[test]
fn compiled_regex_is_the_extensions() {
    for &(pattern, regex) in COMPILED {
        assert_eq!(TopicPattern::new(pattern).unwrap().compiled_regex(), regex);
    }
}

#[test]
fn serde_round_trips_and_validates() {
    let key: RoutingKey = serde_json::from_str("\"a.b\"").unwrap();
    assert_eq!(serde_json::to_string(&key).unwrap(), "\"a.b\"");
    let pattern: TopicPattern = serde_json::from_str("\"a.#\"").unwrap();
    assert_eq!(serde_json::to_string(&pattern).unwrap(), "\"a.#\"");
    assert!(serde_json::from_str::<RoutingKey>("\"a.*\"").is_err());
    assert!(serde_json::from_str::<TopicPattern>("\"a..b\"").is_err());
}
