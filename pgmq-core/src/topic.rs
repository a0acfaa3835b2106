//! Topic routing: [`RoutingKey`]s and the [`TopicPattern`]s queues are bound with.
//!
//! A message sent to a routing key goes to every queue bound with a pattern that matches the
//! key. Both types follow the pgmq extension 1.13 to the letter (its `pgmq.sql`: the functions
//! `pgmq.validate_routing_key` and `pgmq.validate_topic_pattern`, and the generated column
//! `compiled_regex` of `pgmq.topic_bindings`), so a key or pattern accepted here is accepted
//! there, one rejected here is rejected there for the same reason, and a pattern matches the
//! same keys on both sides.
//!
//! # Routing keys
//!
//! Checked in this order; the first rule broken is the one reported:
//!
//! 1. not empty;
//! 2. at most [`RoutingKey::MAX_LEN`] (255) characters — characters, not bytes, as Postgres'
//!    `length()` counts them in a UTF-8 database, so an over-long key of non-ASCII characters
//!    is reported as too long rather than as holding bad characters;
//! 3. only ASCII letters, ASCII digits, `.`, `-` and `_` (no spaces, no wildcards, nothing
//!    outside ASCII);
//! 4. does not start with `.`;
//! 5. does not end with `.`;
//! 6. has no `..`.
//!
//! So a key is one or more non-empty segments joined by single dots. Keys are case-sensitive
//! and kept exactly as given.
//!
//! # Patterns
//!
//! The same six rules, with `*` and `#` added to the allowed characters (rule 3), and then:
//!
//! 7. no `**`;
//! 8. no `##`;
//! 9. no `*#` and no `#*`.
//!
//! Nothing else constrains the wildcards: the extension accepts them anywhere, including
//! glued to other characters inside a segment (`a*`, `*a`, `a#b`, `*-x`) and repeated in
//! separate segments (`#.#`, `*.*.*`).
//!
//! # Matching
//!
//! The extension turns a pattern into a regular expression character by character and
//! matches the whole key against it: `*` becomes "one or more characters other than `.`",
//! `#` becomes "any run of characters, possibly empty, dots included", and every other
//! character stands for itself (`.` included, escaped). [`TopicPattern::matches`] gives the
//! same answer as that expression for every key and pattern, without a regex engine. Because
//! keys have no empty segments, this means:
//!
//! - `*` as a whole segment matches exactly one segment: `logs.*` matches `logs.error`, not
//!   `logs` or `logs.a.b`.
//! - `#` as a whole segment matches **one or more** whole segments, not zero as in AMQP: the
//!   dots beside it are literal, so `logs.#` matches `logs.a` and `logs.a.b` but not `logs`,
//!   `a.#.b` does not match `a.b`, and `#.#` matches only keys of two or more segments. `#`
//!   alone matches every key.
//! - Inside a segment, `*` matches one or more characters of that segment (`a*` matches `ab`,
//!   not `a`), while `#` matches any characters, none or across dots (`a#b` matches `ab` and
//!   `a.x.b`).
//!
//! [`TopicPattern::compiled_regex`] returns that expression, byte for byte what the
//! extension stores in `compiled_regex`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The longest key or pattern, in characters.
const MAX_LEN: usize = 255;

/// A routing key a message is sent with, such as `orders.eu.created`.
///
/// Valid keys follow the [routing key rules](crate::topic#routing-keys) of the pgmq
/// extension; matching against a [`TopicPattern`] is described [there too](crate::topic#matching).
///
/// ```
/// use pgmq_core::RoutingKey;
///
/// let key = RoutingKey::new("orders.eu.created")?;
/// assert_eq!(key.as_str(), "orders.eu.created");
/// assert!(RoutingKey::new("orders..created").is_err());
/// assert!(RoutingKey::new("orders.*").is_err());
/// # Ok::<(), pgmq_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoutingKey(Box<str>);

impl RoutingKey {
    /// The longest routing key the pgmq extension accepts, in characters.
    pub const MAX_LEN: usize = MAX_LEN;

    /// Validates `key`, keeping it exactly as given.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (argument `"routing key"`), saying which rule the key breaks.
    pub fn new(key: impl AsRef<str>) -> Result<Self> {
        let key = key.as_ref();
        check(key, Kind::Key)?;
        Ok(Self(key.into()))
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A binding pattern, such as `orders.*.created` or `orders.#`, that routing keys are matched
/// against.
///
/// Valid patterns follow the [pattern rules](crate::topic#patterns) of the pgmq extension and
/// match as it [matches](crate::topic#matching): `*` is one segment, `#` is one or more.
///
/// ```
/// use pgmq_core::{RoutingKey, TopicPattern};
///
/// let eu = TopicPattern::new("orders.eu.*")?;
/// let everything_after = TopicPattern::new("orders.#")?;
/// let key = RoutingKey::new("orders.eu.created")?;
/// assert!(eu.matches(&key));
/// assert!(everything_after.matches(&key));
/// assert!(!everything_after.matches(&RoutingKey::new("orders")?));
/// assert!(TopicPattern::new("orders.##").is_err());
/// # Ok::<(), pgmq_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPattern(Box<str>);

impl TopicPattern {
    /// The longest pattern the pgmq extension accepts, in characters.
    pub const MAX_LEN: usize = MAX_LEN;

    /// Validates `pattern`, keeping it exactly as given.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (argument `"topic pattern"`), saying which rule the pattern
    /// breaks.
    pub fn new(pattern: impl AsRef<str>) -> Result<Self> {
        let pattern = pattern.as_ref();
        check(pattern, Kind::Pattern)?;
        Ok(Self(pattern.into()))
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `key` matches this pattern, exactly as the extension decides it.
    ///
    /// Takes time proportional to the pattern's length times the key's, at most
    /// 255 × 255 steps, whatever the wildcards: there is no backtracking to blow up.
    pub fn matches(&self, key: &RoutingKey) -> bool {
        glob_match(self.0.as_bytes(), key.0.as_bytes())
    }

    /// The regular expression the extension derives from this pattern and stores in
    /// `pgmq.topic_bindings.compiled_regex`, byte for byte: `logs.*` gives `^logs\.[^.]+$`,
    /// `#` gives `^.*$`.
    ///
    /// The column is generated by Postgres, so this is never written; it is for comparing
    /// with what a database holds and for diagnostics.
    pub fn compiled_regex(&self) -> String {
        let mut out = String::with_capacity(self.0.len() * 2 + 2);
        out.push('^');
        for c in self.0.chars() {
            match c {
                '*' => out.push_str("[^.]+"),
                '#' => out.push_str(".*"),
                // The extension escapes this whole set; only `.` can occur in a valid
                // pattern, but keeping the set keeps the output identical by construction.
                '.' | '+' | '?' | '{' | '}' | '(' | ')' | '|' | '[' | ']' | '\\' | '^' | '$' => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
        out.push('$');
        out
    }
}

/// Whether the whole of `key` matches `pattern`, where `*` stands for one or more bytes other
/// than `.`, `#` for any run of bytes, and every other byte for itself.
///
/// Dynamic programming over (pattern position, key position), one row per pattern byte, from
/// the end: `next[j]` says whether the rest of the pattern after the current byte matches
/// `key[j..]`, `row[j]` whether the pattern from the current byte does.
fn glob_match(pattern: &[u8], key: &[u8]) -> bool {
    let n = key.len();
    let mut next = vec![false; n + 1];
    let mut row = vec![false; n + 1];
    next[n] = true;
    for &token in pattern.iter().rev() {
        row[n] = token == b'#' && next[n];
        for (j, &k) in key.iter().enumerate().rev() {
            row[j] = match token {
                // Stop here, or swallow one more byte and stay on `#`.
                b'#' => next[j] || row[j + 1],
                // Swallow one non-dot byte, then stop or stay on `*`.
                b'*' => k != b'.' && (next[j + 1] || row[j + 1]),
                literal => k == literal && next[j + 1],
            };
        }
        std::mem::swap(&mut row, &mut next);
    }
    next[0]
}

#[derive(Clone, Copy)]
enum Kind {
    Key,
    Pattern,
}

/// Applies the extension's rules in the extension's order, so the rule reported is the one
/// the extension would report.
fn check(s: &str, kind: Kind) -> Result<()> {
    let (argument, wildcards) = match kind {
        Kind::Key => ("routing key", false),
        Kind::Pattern => ("topic pattern", true),
    };
    let fail = |rule: String| Err(Error::invalid(argument, format!("{s:?} {rule}")));
    if s.is_empty() {
        return Err(Error::invalid(argument, "it is empty"));
    }
    let chars = s.chars().count();
    if chars > MAX_LEN {
        return fail(format!(
            "is {chars} characters long; the limit is {MAX_LEN}"
        ));
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '.' | '-' | '_')
            || (wildcards && matches!(c, '*' | '#'))
    };
    if let Some(bad) = s.chars().find(|&c| !allowed(c)) {
        let alphabet = if wildcards {
            "ASCII letters, digits, '.', '-', '_', '*' and '#'"
        } else {
            "ASCII letters, digits, '.', '-' and '_'"
        };
        return fail(format!("contains {bad:?}; only {alphabet} are allowed"));
    }
    if s.starts_with('.') {
        return fail("starts with a dot".into());
    }
    if s.ends_with('.') {
        return fail("ends with a dot".into());
    }
    if s.contains("..") {
        return fail("has an empty segment (\"..\")".into());
    }
    if wildcards {
        if s.contains("**") {
            return fail("contains \"**\"; use '#' to match several segments".into());
        }
        if s.contains("##") {
            return fail("contains \"##\"; one '#' already matches several segments".into());
        }
        if s.contains("*#") || s.contains("#*") {
            return fail("has adjacent wildcards (\"*#\" or \"#*\")".into());
        }
    }
    Ok(())
}

macro_rules! string_impls {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }

        /// Serialized as its string.
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(
                &self,
                serializer: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        /// Deserialized from a string, validated as `new` does.
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(
                deserializer: D,
            ) -> std::result::Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::new(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_impls!(RoutingKey);
string_impls!(TopicPattern);

#[cfg(test)]
mod tests {
    use super::*;

    /// The extension's regex semantics written as plainly as possible: exponential in the
    /// worst case, so only for short inputs.
    fn naive(pattern: &[u8], key: &[u8]) -> bool {
        match pattern.split_first() {
            None => key.is_empty(),
            Some((b'#', rest)) => (0..=key.len()).any(|i| naive(rest, &key[i..])),
            Some((b'*', rest)) => (1..=key.len())
                .take_while(|&i| key[i - 1] != b'.')
                .any(|i| naive(rest, &key[i..])),
            Some((c, rest)) => key.first() == Some(c) && naive(rest, &key[1..]),
        }
    }

    /// Every string of 1 to `max` characters from `alphabet`.
    fn all_strings(alphabet: &[char], max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut layer = vec![String::new()];
        for _ in 0..max {
            layer = layer
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            out.extend(layer.iter().cloned());
        }
        out
    }

    #[test]
    fn matcher_agrees_with_the_plain_definition_on_every_small_input() {
        let patterns: Vec<_> = all_strings(&['a', 'b', '.', '*', '#'], 5)
            .into_iter()
            .filter_map(|p| TopicPattern::new(p).ok())
            .collect();
        let keys: Vec<_> = all_strings(&['a', 'b', '.'], 6)
            .into_iter()
            .filter_map(|k| RoutingKey::new(k).ok())
            .collect();
        assert!(patterns.len() > 1000 && keys.len() > 100);
        for p in &patterns {
            for k in &keys {
                let expected = naive(p.as_str().as_bytes(), k.as_str().as_bytes());
                assert_eq!(p.matches(k), expected, "pattern {p}, key {k}");
            }
        }
    }

    #[test]
    fn only_wildcards_separate_the_two_alphabets() {
        for s in all_strings(&['a', '.', '-', '_', '*', '#', ' '], 4) {
            let key = RoutingKey::new(&s);
            let pattern = TopicPattern::new(&s);
            if key.is_ok() {
                assert!(pattern.is_ok(), "{s:?} is a key but not a pattern");
            }
            if pattern.is_ok() && !s.contains(['*', '#']) {
                assert!(key.is_ok(), "{s:?} is a pattern but not a key");
            }
        }
    }

    #[test]
    fn a_long_chain_of_hashes_is_quick() {
        let pattern = TopicPattern::new(format!("{}x", "#.".repeat(126))).unwrap();
        let miss = RoutingKey::new(format!("{}y", "a.".repeat(127))).unwrap();
        let start = std::time::Instant::now();
        assert!(!pattern.matches(&miss));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
